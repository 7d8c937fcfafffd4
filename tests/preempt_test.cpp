// Preemption (Go's runtime/preempt_test.go and proc_test.go's
// TestPreemption*): goroutines in call-free loops cannot starve others, the
// SIGURG frame preserves every register (the x86-64 red zone, flags, vector
// and floating-point state), only safe code is interrupted, cooperative
// preemption points, no_preempt, and lock_os_thread.
#include "preempt_storm.hpp"
#include "test_util.hpp"

#include "preempt.hpp"
#include "sched.hpp"

#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cfenv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using rill_test::by_build;
using rill_test::maxprocs_scope;
using rill_test::preempt_storm;
using rill_test::under_tsan;
using rill_test::watchdog;

// A leaf function that keeps live values in the red zone below the stack
// pointer, in the flags (CF, set from bit 0 of the counter) and in a vector
// register across a spin, `rounds` times; returns how many rounds found a
// value changed. Plain assembly so that no compiler choice hides a clobber.
extern "C" long test_register_spin(long rounds);
#if defined(__x86_64__)
asm(R"(
    .text
    .globl test_register_spin
    .type test_register_spin, @function
test_register_spin:
    xor %eax, %eax
    mov %rdi, %rcx
1:
    mov %rcx, -8(%rsp)
    mov %rcx, %rdx
    not %rdx
    mov %rdx, -72(%rsp)
    lea 7(%rcx), %rdx
    mov %rdx, -128(%rsp)
    movq %rcx, %xmm0
    pshufd $0x44, %xmm0, %xmm0
    bt $0, %rcx
    mov $3000, %r8d
2:
    dec %r8d
    jnz 2b
    setc %dl
    movzbl %dl, %edx
    mov %rcx, %r9
    and $1, %r9
    cmp %r9, %rdx
    jne 3f
    cmp %rcx, -8(%rsp)
    jne 3f
    mov %rcx, %rdx
    not %rdx
    cmp %rdx, -72(%rsp)
    jne 3f
    lea 7(%rcx), %rdx
    cmp %rdx, -128(%rsp)
    jne 3f
    movq %xmm0, %rdx
    cmp %rcx, %rdx
    jne 3f
    pshufd $0xee, %xmm0, %xmm1
    movq %xmm1, %rdx
    cmp %rcx, %rdx
    jne 3f
    jmp 4f
3:
    inc %rax
4:
    dec %rcx
    jnz 1b
    ret
    .size test_register_spin, .-test_register_spin
)");
#elif defined(__aarch64__)
// AArch64 Linux has no red zone; the same check on general, flag (Z) and
// vector registers.
asm(R"(
    .text
    .globl test_register_spin
    .type test_register_spin, %function
test_register_spin:
    mov x1, x0
    mov x0, #0
1:
    mov x9, x1
    mvn x10, x1
    add x11, x1, #7
    dup v16.2d, x1
    tst x1, #1
    mov w12, #3000
2:
    sub w12, w12, #1
    cbnz w12, 2b
    cset x13, eq
    and x14, x1, #1
    eor x14, x14, #1
    cmp x13, x14
    b.ne 3f
    cmp x9, x1
    b.ne 3f
    mvn x15, x1
    cmp x10, x15
    b.ne 3f
    add x15, x1, #7
    cmp x11, x15
    b.ne 3f
    mov x15, v16.d[0]
    cmp x15, x1
    b.ne 3f
    mov x15, v16.d[1]
    cmp x15, x1
    b.ne 3f
    b 4f
3:
    add x0, x0, #1
4:
    subs x1, x1, #1
    b.ne 1b
    ret
    .size test_register_spin, .-test_register_spin
)");
#endif

namespace {

std::uint64_t async_preempts() { return rill::stats().preempts_async; }

// Async preemption needs signals delivered where they land; TSan defers
// them to its own interceptors, so the runtime preempts only cooperatively
// there (see preempt.hpp).
bool async_preemption_testable() {
    if (under_tsan) {
        WARN("TSan build: asynchronous preemption is off, nothing to test here");
        return false;
    }
    rill::maxprocs(); // starts the runtime
    REQUIRE(rill::detail::async_preempt_enabled());
    return true;
}

// Runs f(0) .. f(n-1) in n goroutines and returns the sum of their results.
template <class F> long sum_over_workers(int n, F f) {
    std::atomic<long> sum{0};
    rill::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i)
        rill::go([&, i] {
            sum += f(i);
            wg.done();
        });
    wg.wait();
    return sum.load();
}

// A call-free loop: nothing in it is a preemption point.
void spin_until(const std::atomic<bool>& stop) {
    while (!stop.load(std::memory_order_relaxed)) {
    }
}

} // namespace

TEST_CASE("goroutines spinning without calls cannot starve the others") {
    if (!async_preemption_testable()) return;
    watchdog dog("spinning goroutines starved the others", 60s);
    rill::run([] {
        maxprocs_scope procs(2);
        auto before = async_preempts();
        std::atomic<bool> stop{false};
        rill::wait_group wg;
        constexpr int spinners = 4; // more than processors: every P is taken
        wg.add(spinners);
        for (int i = 0; i < spinners; ++i)
            rill::go([&] {
                spin_until(stop);
                wg.done();
            });
        // The main goroutine needs a processor to wake from each sleep, and
        // gets one only by preempting a spinner.
        for (int i = 0; i < 20; ++i)
            rill::sleep(1ms);
        // And a goroutine that yields, going to the back of the queue behind
        // the spinners each time, gets through too.
        rill::chan<int> finished(1);
        rill::go([&] {
            for (int i = 0; i < 10; ++i)
                rill::gosched();
            finished.send(1);
        });
        CHECK(finished.recv() == 1);
        stop.store(true);
        wg.wait();
        CHECK(async_preempts() > before);
    });
}

TEST_CASE("registers, flags and the red zone survive thousands of preemptions") {
    if (!async_preemption_testable()) return;
    watchdog dog("too few preemptions landed", 120s);
    rill::run([] {
        maxprocs_scope procs(2);
        const auto until = async_preempts() + 2000;
        preempt_storm storm;
        CHECK(sum_over_workers(4, [&](int) {
                  long bad = 0;
                  while (async_preempts() < until)
                      bad += test_register_spin(1000);
                  return bad;
              }) == 0);
    });
}

TEST_CASE("floating-point results and rounding modes survive preemption") {
    if (!async_preemption_testable()) return;
    // Each goroutine computes under its own rounding mode, over and over
    // until a hundred preemptions have landed; the same computation on a
    // plain thread is the reference.
    auto compute = [](int mode) {
        std::fesetround(mode);
        volatile double seed = 0.1;
        double acc = seed;
        for (int i = 0; i < by_build(2'000'000, 400'000, 100'000); ++i)
            acc = acc * 1.0000001 + seed;
        std::fesetround(FE_TONEAREST);
        return acc;
    };
    const int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    std::vector<double> expected;
    for (int mode : modes) {
        double r = 0;
        std::thread([&] { r = compute(mode); }).join();
        expected.push_back(r);
    }
    REQUIRE(expected[1] != expected[2]); // the modes do differ
    watchdog dog("too few preemptions landed", 120s);
    rill::run([&] {
        maxprocs_scope procs(2);
        const auto until = async_preempts() + 100;
        preempt_storm storm;
        CHECK(sum_over_workers(static_cast<int>(std::size(modes)), [&](int i) {
                  long wrong = 0;
                  while (async_preempts() < until)
                      wrong += compute(modes[i]) != expected[static_cast<std::size_t>(i)];
                  return wrong;
              }) == 0);
    });
}

namespace {

// The address of one of this executable's PLT stubs (the entry after the
// .plt header), through which its calls into shared libraries go; 0 if it
// has none.
std::uintptr_t some_plt_stub() {
    std::uintptr_t bias = 0;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* arg) -> int {
            *static_cast<std::uintptr_t*>(arg) = info->dlpi_addr; // the executable comes first
            return 1;
        },
        &bias);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0) return 0;
    auto size = static_cast<std::size_t>(st.st_size);
    void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return 0;
    const auto* base = static_cast<const char*>(map);
    const auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(base);
    const auto* sh = reinterpret_cast<const ElfW(Shdr)*>(base + eh->e_shoff);
    const char* names = base + sh[eh->e_shstrndx].sh_offset;
    std::uintptr_t stub = 0;
    for (int i = 0; i < eh->e_shnum; ++i)
        if (std::string_view(names + sh[i].sh_name) == ".plt" && sh[i].sh_size >= 32)
            stub = bias + sh[i].sh_addr + 16;
    munmap(map, size);
    return stub;
}

} // namespace

TEST_CASE("only the program's own code is interrupted, never libc or the runtime") {
    using rill::detail::pc_is_preemptible;
    if (!async_preemption_testable()) return;
    auto pc = [](auto* f) { return reinterpret_cast<std::uintptr_t>(f); };
    CHECK(pc_is_preemptible(pc(&test_register_spin)));
    CHECK(pc_is_preemptible(pc(&spin_until)));
    CHECK_FALSE(pc_is_preemptible(pc(dlsym(RTLD_DEFAULT, "malloc"))));
    CHECK_FALSE(pc_is_preemptible(pc(dlsym(RTLD_DEFAULT, "memcpy"))));
    CHECK_FALSE(pc_is_preemptible(pc(dlsym(RTLD_DEFAULT, "__cxa_throw"))));
    CHECK_FALSE(pc_is_preemptible(pc(&rill::gosched)));
    CHECK_FALSE(pc_is_preemptible(pc(&rill::detail::ready)));
    CHECK_FALSE(pc_is_preemptible(pc(&rill::detail::preempt_yield)));
    CHECK_FALSE(pc_is_preemptible(pc(&rill::stats)));
    // Nor the PLT stubs of the executable, which have no symbol: the
    // runtime's calls into libc pass through them too.
    if (std::uintptr_t plt = some_plt_stub())
        CHECK_FALSE(pc_is_preemptible(plt));
    else
        WARN("this executable has no .plt section");

    // Goroutines hammering libc (the allocator's arena locks, stdio's
    // buffers) while being preempted as often as possible, until a few
    // hundred preemptions have landed between the calls: one inside libc
    // would move its thread-tied state to another thread.
    watchdog dog("no preemption landed between libc calls", 120s);
    rill::run([] {
        maxprocs_scope procs(2);
        const auto until = async_preempts() + 300;
        preempt_storm storm;
        CHECK(sum_over_workers(4, [&](int w) {
                  long bad = 0;
                  for (int i = 0; async_preempts() < until; ++i) {
                      auto* p = static_cast<char*>(std::malloc(16 + i % 512));
                      int n = std::snprintf(p, 16, "%d-%d", w, i % 1000);
                      if (n <= 0 || std::strtol(p + 2, nullptr, 10) != i % 1000) ++bad;
                      std::free(p);
                  }
                  return bad;
              }) == 0);
    });
}

TEST_CASE("preemption points honour a pending request; no_preempt defers it") {
    rill::run([] {
        // Flag the running goroutine as sysmon does, without a signal, and
        // count the yields that answer it.
        auto request = [] { rill::detail::getg()->preempt.store(true); };
        auto yields = [] { return rill::stats().preempts_coop; };
        auto before = yields();
        {
            rill::no_preempt np;
            request();
            rill::preempt_point(); // deferred: the section is still open
            CHECK(yields() == before);
        } // closing the section honours the request
        CHECK(yields() == before + 1);

        request();
        rill::preempt_point();
        CHECK(yields() == before + 2);

        // Channel operations and spawning are preemption points too.
        rill::chan<int> c(1);
        request();
        c.send(1);
        CHECK(yields() == before + 3);
        request();
        rill::go([] {});
        CHECK(yields() == before + 4);
        // Nothing was pending: no yield.
        rill::preempt_point();
        CHECK(yields() == before + 4);
    });
}

TEST_CASE("no_preempt keeps a spinning goroutine on its processor") {
    if (!async_preemption_testable()) return;
    rill::run([] {
        maxprocs_scope procs(1);
        rill::gosched(); // off a processor the lowered count retired
        std::atomic<bool> other_ran{false};
        rill::go([&] { other_ran = true; });
        {
            rill::no_preempt np;
            preempt_storm storm;
            auto until = std::chrono::steady_clock::now() + 30ms;
            while (std::chrono::steady_clock::now() < until)
                CHECK_FALSE(other_ran.load(std::memory_order_relaxed));
        }
        CHECK(rill_test::eventually([&] { return other_ran.load(); }));
    });
}

namespace {
__attribute__((noinline)) pid_t current_tid() {
    asm volatile("" ::: "memory");
    return gettid();
}
} // namespace

TEST_CASE("lock_os_thread keeps a goroutine on its thread, and the thread to it") {
    rill::run([] {
        maxprocs_scope procs(2);
        // The locked goroutine's thread while it holds it, else 0. Before
        // lock_os_thread that thread ran other goroutines, and may again after
        // unlock_os_thread.
        std::atomic<pid_t> locked_tid{0};
        std::atomic<bool> locked_done{false};
        // Not a std::mutex: a thread blocked on one keeps its processor, and
        // with both processors' threads blocked nothing would run a holder
        // that was preempted (docs/limitations.md).
        rill::mutex seen_mu;
        std::set<pid_t> seen_while_locked;
        rill::wait_group wg;
        constexpr int others = 8;
        wg.add(others);
        // Goroutines that park and move about, noting every thread they run
        // on while the other goroutine holds its thread. Seen held before and
        // after, it was held when the thread was read.
        for (int i = 0; i < others; ++i)
            rill::go([&, i] {
                while (!locked_done.load()) {
                    if (locked_tid.load() != 0) {
                        pid_t tid = current_tid();
                        if (locked_tid.load() != 0) {
                            std::lock_guard lk(seen_mu);
                            seen_while_locked.insert(tid);
                        }
                    }
                    rill::sleep(10us * (i + 1));
                }
                wg.done();
            });
        std::atomic<bool> stayed{true};
        rill::chan<pid_t> done(1);
        rill::go([&] {
            rill::lock_os_thread();
            const pid_t mine = current_tid();
            locked_tid.store(mine);
            for (int i = 0; i < by_build(2000, 1000, 300); ++i) {
                if (i % 2)
                    rill::sleep(5us);
                else
                    rill::gosched();
                if (current_tid() != mine) stayed.store(false);
            }
            locked_tid.store(0);
            rill::unlock_os_thread();
            locked_done = true;
            done.send(mine);
        });
        pid_t mine = *done.recv();
        wg.wait();
        CHECK(stayed.load());
        std::lock_guard lk(seen_mu);
        CHECK(!seen_while_locked.empty()); // the others did run meanwhile
        CHECK(seen_while_locked.count(mine) == 0);
    });
}
