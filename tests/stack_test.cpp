// Goroutine stacks (stack.hpp; Go's runtime/stack_test.go covers the same
// ground for moving stacks): reserves are usable, stacks are reused, many can
// be parked at once, an overflow into the guard is reported with the
// goroutine's id and name, and past the vm.max_map_count budget stacks go
// unguarded, canary-checked, without failing. A frame larger than the guard,
// or a fault further down the slab, is reported as an overflow too, and
// corrupts no other goroutine's stack; a quiet program gives back the memory
// of a burst of goroutines; running out of address space for stacks names
// mmap's error.
#include "g.hpp"
#include "test_util.hpp"

#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <set>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;
using rill_test::by_build;

namespace {

constexpr std::size_t kib = 1024;

// Parks `n` goroutines at once, each running `while_parked` first and then
// waiting at a gate; `all_parked` runs once every one of them has started,
// then the gate opens. Returns how many resumed.
template <class Each, class All> int park_many(int n, Each while_parked, All all_parked) {
    std::atomic<int> resumed{0};
    rill::chan<int> gate(0);
    rill::wait_group started, finished;
    started.add(n);
    finished.add(n);
    for (int i = 0; i < n; ++i)
        rill::go([&, i] {
            while_parked(i);
            started.done();
            gate.recv(); // closed: every receiver wakes
            resumed.fetch_add(1);
            finished.done();
        });
    started.wait();
    all_parked();
    gate.close();
    finished.wait();
    return resumed.load();
}

std::uint64_t live_stacks() {
    auto s = rill::stats();
    return s.stacks_guarded + s.stacks_unguarded;
}

// Recurses forever; the frame's use after the call keeps it from being a
// tail call, and `stop` (never hit) from being proven infinite.
volatile int stop = -1;
__attribute__((noinline)) int recurse(int depth) {
    volatile char frame[512];
    frame[0] = static_cast<char>(depth);
    if (depth == stop) return 0;
    return recurse(depth + 1) + frame[0];
}

} // namespace

// Run by the test below in a child process, which the overflow ends.
TEST_CASE("child: a goroutine recurses without end", "[.child]") {
    rill::run([] {
        rill::go(
            [] {
                std::cout << "guarded: " << rill::detail::getg()->stk.guarded << std::endl;
                rill_test::announce_goroutine();
                recurse(0);
            },
            {"deep-diver"});
        for (int i = 0; i < 30000; ++i) // a hang guard
            rill::sleep(1ms);
    });
    FAIL("the process survived a stack overflow");
}

TEST_CASE("a stack overflow is reported with the goroutine's id and name, and ends the process") {
    auto r = rill_test::run_child("child: a goroutine recurses without end");
    INFO(r.output);
    CHECK(r.failed());
    CHECK(r.output.find("guarded: 1") != std::string::npos);
    CHECK(rill_test::names_goroutine(r, {"stack overflow", "deep-diver"}));
}

TEST_CASE("a goroutine can use most of its stack reserve") {
    std::size_t reserve = 0, sum = 0;
    rill::run([&] {
        rill::wait_group wg;
        wg.add(1);
        rill::go(
            [&] {
                reserve = rill::detail::getg()->stk.reserve();
                volatile char big[200 * kib];
                for (std::size_t i = 0; i < sizeof big; i += 4 * kib)
                    big[i] = 1;
                for (std::size_t i = 0; i < sizeof big; i += 4 * kib)
                    sum += static_cast<std::size_t>(big[i]);
                wg.done();
            },
            {"big-frame", 256 * kib});
        wg.wait();
    });
    CHECK(reserve == 256 * kib);
    CHECK(sum == 200 / 4);
}

TEST_CASE("stacks are reused by later goroutines") {
    // One processor: every free stack is in its cache or the global pool, so
    // a new goroutine only gets a new stack when none is free.
    rill_test::maxprocs_scope one(1);
    const int n = by_build(2000, 1000, 200), waves = 5;
    std::set<char*> seen;
    std::uint64_t before = 0, most = 0;
    rill::run([&] {
        before = live_stacks(); // the main goroutine's, and any still exiting
        for (int w = 0; w < waves; ++w) {
            std::vector<char*> lows(static_cast<std::size_t>(n));
            int resumed = park_many(
                n, [&](int i) { lows[static_cast<std::size_t>(i)] = rill::detail::getg()->stk.lo; },
                [&] { most = std::max(most, live_stacks()); });
            CHECK(resumed == n);
            seen.insert(lows.begin(), lows.end());
        }
    });
    // `before` may count goroutines of earlier tests that were still exiting.
    CHECK(most >= static_cast<std::uint64_t>(n) + 1); // the parked ones and main
    // Without reuse every wave would bring n new stacks.
    CHECK(seen.size() < 2 * static_cast<std::size_t>(n));
    CHECK(rill_test::eventually([&] { return live_stacks() < before; }));
}

TEST_CASE("a hundred thousand parked goroutines all resume") {
    const int n = by_build(100'000, 20'000, 1'500);
    rill::runtime_stats during{};
    int resumed = rill::run([&] {
        return park_many(
            n, [](int) {}, [&] { during = rill::stats(); });
    });
    CHECK(resumed == n);
    CHECK(during.goroutines_live >= static_cast<std::uint64_t>(n));
    CHECK(during.stacks_guarded + during.stacks_unguarded >= static_cast<std::uint64_t>(n));
}

// ---- past the guard budget ----------------------------------------------------

namespace {

constexpr int guard_marker_advice = 102; // MADV_GUARD_INSTALL, Linux 6.13+

// Whether guard markers really guard here: a kernel without them fails the
// call, and a user-mode emulator may accept it and do nothing.
bool guard_markers_work() {
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    void* p = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    bool guarded = false;
    if (madvise(p, page, guard_marker_advice) == 0) {
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        guarded = write(fds[1], p, 1) < 0 && errno == EFAULT;
        close(fds[0]);
        close(fds[1]);
    }
    munmap(p, page);
    return guarded;
}

// Makes guard markers fail with EINVAL, as on kernels before 6.13, so the
// runtime falls back to guard pages, which cost memory mappings.
void refuse_guard_markers() {
#if defined(__x86_64__)
    constexpr std::uint32_t arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    constexpr std::uint32_t arch = AUDIT_ARCH_AARCH64;
#endif
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 5),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_madvise, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, guard_marker_advice, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    REQUIRE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    REQUIRE(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0);
}

long count_lines(const char* path) {
    std::ifstream f(path);
    long n = 0;
    for (std::string line; std::getline(f, line);)
        ++n;
    return n;
}

// Leaves this process `headroom` memory mappings below vm.max_map_count by
// mapping alternately protected pages (each its own mapping), so that the
// guard budget is small whatever the system's limit. Returns the budget the
// runtime will compute at start-up, at most.
long shrink_guard_budget(long headroom) {
    long limit = 0;
    std::ifstream("/proc/sys/vm/max_map_count") >> limit;
    long extra = limit - count_lines("/proc/self/maps") - headroom;
    if (extra > 0) {
        const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        auto* p =
            static_cast<char*>(mmap(nullptr, page * static_cast<std::size_t>(extra), PROT_READ,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
        REQUIRE(p != MAP_FAILED);
        long failed = 0;
        for (long i = 1; i < extra; i += 2)
            failed += mprotect(p + static_cast<std::size_t>(i) * page, page, PROT_NONE) != 0;
        REQUIRE(failed == 0);
    }
    return (limit - count_lines("/proc/self/maps")) / 4;
}

// Leaves the runtime, started next, no guard markers and a small guard budget.
long exhaustible_guard_budget() {
    if (guard_markers_work()) refuse_guard_markers();
    REQUIRE_FALSE(guard_markers_work());
    return shrink_guard_budget(4000);
}

constexpr std::size_t odd_reserve = 64 * kib; // not the default: a mapping of its own

// Fills an odd_reserve stack from below its lowest usable byte up: what an
// overflow that returns in time leaves behind.
__attribute__((noinline)) void overrun_stack() {
    volatile char frame[odd_reserve + 8 * kib];
    for (std::size_t i = 0; i < sizeof frame; ++i)
        frame[i] = static_cast<char>(i);
}

} // namespace

TEST_CASE("child: more goroutines park than the guard budget allows", "[.child]") {
    const long budget = exhaustible_guard_budget();
    const int n = static_cast<int>(budget) + 500;
    rill::runtime_stats during{};
    int resumed = rill::run([&] {
        return park_many(
            n, [](int) {}, [&] { during = rill::stats(); });
    });
    CHECK(resumed == n);
    CHECK(during.stacks_guarded > 0);
    CHECK(during.stacks_unguarded > 0);
    CHECK(during.stacks_guarded + during.stacks_unguarded >= static_cast<std::uint64_t>(n));
}

TEST_CASE("stacks past the guard budget go unguarded, and everything still runs") {
    if (rill_test::under_tsan) return; // TSan's own mappings need the headroom
    auto r = rill_test::run_child("child: more goroutines park than the guard budget allows");
    INFO(r.output);
    CHECK(r.exited_with(0));
    // The runtime says why stacks lost their guard pages.
    CHECK(r.output.find("vm.max_map_count") != std::string::npos);
}

TEST_CASE("child: a goroutine overruns an unguarded stack", "[.child]") {
    const long budget = exhaustible_guard_budget();
    rill::run([&] {
        park_many(
            static_cast<int>(budget) + 100, [](int) {},
            [] {
                // Past the budget, an odd-sized reserve gets an unguarded mapping.
                rill::go(
                    [] {
                        std::cout << "guarded: " << rill::detail::getg()->stk.guarded << std::endl;
                        rill_test::announce_goroutine();
                        overrun_stack();
                        rill::gosched(); // leaving the processor checks the canary
                    },
                    {"overrunner", odd_reserve});
                for (int i = 0; i < 30000; ++i) // a hang guard
                    rill::sleep(1ms);
            });
    });
    FAIL("the process survived a clobbered stack canary");
}

TEST_CASE("an overrun of an unguarded stack is caught by its canary") {
    if (rill_test::under_tsan) return; // TSan's own mappings need the headroom
    auto r = rill_test::run_child("child: a goroutine overruns an unguarded stack");
    INFO(r.output);
    CHECK(r.failed());
    CHECK(r.output.find("guarded: 0") != std::string::npos);
    CHECK(rill_test::names_goroutine(r, {"stack overflow", "overrunner"}));
}

// ---- frames larger than the guard ---------------------------------------------

namespace {

// Larger than the 64 KiB guard and than the default 256 KiB reserve: such a
// frame on a default stack reaches 74 KiB below it, past its guard and into
// the top of the stack below it in the slab, where that stack's live frames
// are.
constexpr std::size_t huge_frame = 330 * kib;
constexpr std::size_t held_pattern = 32 * kib;
constexpr unsigned char pattern_byte = 0xa5;

// Fills the lowest 4 KiB of a frame larger than the guard, as code writing
// the start of a large local buffer does. Unprobed, the stack pointer drops
// past the guard in one step and these writes land in whatever lies there.
__attribute__((noinline)) int fill_huge_frame(int seed) {
    volatile char frame[huge_frame];
    for (std::size_t i = 0; i < 4 * kib; ++i)
        frame[i] = static_cast<char>(seed);
    return frame[4 * kib - 1];
}

// Holds a pattern near the top of the goroutine's stack while it is parked,
// then says whether anything wrote over it.
__attribute__((noinline)) void hold_pattern(rill::chan<int>& gate, rill::wait_group& started) {
    volatile unsigned char mine[held_pattern];
    for (auto& b : mine)
        b = pattern_byte;
    started.done();
    gate.recv();
    std::size_t bad = 0;
    for (auto& b : mine)
        bad += b != pattern_byte;
    if (bad) std::cout << "a neighbour's stack was corrupted: " << bad << " bytes" << std::endl;
}

// Parks `count` goroutines that each hold a pattern on their stack, runs
// `victim` as a goroutine named "huge-frame" beside them (given their
// stacks), then wakes them to check their patterns.
template <class Victim> void beside_neighbours(int count, Victim victim) {
    rill::run([&] {
        std::vector<rill::detail::stack> stacks(static_cast<std::size_t>(count));
        rill::chan<int> gate(0), done(1);
        rill::wait_group started, checked;
        started.add(count);
        checked.add(count);
        for (int i = 0; i < count; ++i)
            rill::go(
                [&, i] {
                    stacks[static_cast<std::size_t>(i)] = rill::detail::getg()->stk;
                    hold_pattern(gate, started);
                    checked.done();
                },
                {"neighbour"});
        started.wait();
        rill::go(
            [&] {
                std::cout << "guarded: " << rill::detail::getg()->stk.guarded << std::endl;
                rill_test::announce_goroutine();
                victim(stacks);
                done.send(1);
            },
            {"huge-frame"});
        done.recv();
        gate.close();
        checked.wait();
    });
}

} // namespace

// Run by the tests below in a child process (one processor, so that the
// goroutines' stacks come out of one slab side by side).
TEST_CASE("child: a goroutine's frame is larger than its guard", "[.child]") {
    beside_neighbours(8, [](const std::vector<rill::detail::stack>& stacks) {
        // Whether the frame's lowest bytes fall inside a neighbour's stack,
        // where unprobed writes corrupt it silently.
        const auto& own = rill::detail::getg()->stk;
        char* bottom = own.hi - huge_frame;
        bool reach = std::any_of(stacks.begin(), stacks.end(),
                                 [&](const auto& s) { return s.lo <= bottom && bottom < s.hi; });
        std::cout << "the frame reaches a neighbour's stack: " << reach << std::endl;
        fill_huge_frame(1);
        std::cout << "returned from the huge frame" << std::endl;
    });
    FAIL("the process survived a frame larger than its stack's guard");
}

TEST_CASE("a frame larger than the guard is reported as an overflow and corrupts no other stack") {
    auto r = rill_test::run_child("child: a goroutine's frame is larger than its guard",
                                  {{"RILL_MAXPROCS", "1"}, {"RILL_STACK_RESERVE", ""}});
    INFO(r.output);
    // The layout the test needs: unprobed, the frame would write into a neighbour.
    CHECK(r.output.find("the frame reaches a neighbour's stack: 1") != std::string::npos);
    CHECK(r.output.find("guarded: 1") != std::string::npos);
    CHECK(r.output.find("corrupted") == std::string::npos);
    CHECK(r.output.find("returned from the huge frame") == std::string::npos);
    CHECK(r.failed());
    CHECK(rill_test::names_goroutine(r, {"stack overflow", "huge-frame"}));
}

TEST_CASE("a frame several stacks deep is reported as an overflow with a 64 KiB reserve") {
    // The frame spans the guard, the stack below, its guard and into the next.
    auto r = rill_test::run_child("child: a goroutine's frame is larger than its guard",
                                  {{"RILL_MAXPROCS", "1"}, {"RILL_STACK_RESERVE", "64KiB"}});
    INFO(r.output);
    CHECK(r.output.find("guarded: 1") != std::string::npos);
    CHECK(r.output.find("corrupted") == std::string::npos);
    CHECK(r.output.find("returned from the huge frame") == std::string::npos);
    CHECK(r.failed());
    CHECK(rill_test::names_goroutine(r, {"stack overflow", "huge-frame"}));
}

TEST_CASE("child: a goroutine faults in a guard two stacks below its own", "[.child]") {
    beside_neighbours(8, [](const std::vector<rill::detail::stack>& stacks) {
        // The highest neighbour below the stack directly below: a write to
        // the top of its guard is what a frame reaching two stacks down,
        // compiled without stack probes, does first.
        const auto& own = rill::detail::getg()->stk;
        std::vector<const rill::detail::stack*> below;
        for (const auto& s : stacks)
            if (s.hi <= own.lo) below.push_back(&s);
        std::sort(below.begin(), below.end(), [](auto* a, auto* b) { return a->hi > b->hi; });
        REQUIRE(below.size() >= 2);
        std::cout << "writing below the second stack down" << std::endl;
        *static_cast<volatile char*>(below[1]->lo - 1) = 1;
        std::cout << "returned from the write" << std::endl;
    });
    FAIL("the process survived a write into a guard");
}

TEST_CASE("a fault anywhere below a goroutine's stack in its slab is reported as its overflow") {
    auto r = rill_test::run_child("child: a goroutine faults in a guard two stacks below its own",
                                  {{"RILL_MAXPROCS", "1"}, {"RILL_STACK_RESERVE", ""}});
    INFO(r.output);
    CHECK(r.output.find("writing below the second stack down") != std::string::npos);
    CHECK(r.output.find("guarded: 1") != std::string::npos);
    CHECK(r.output.find("returned from the write") == std::string::npos);
    CHECK(r.failed());
    CHECK(rill_test::names_goroutine(r, {"stack overflow", "huge-frame"}));
}

// ---- giving memory back -------------------------------------------------------

namespace {

long resident_kib() {
    std::ifstream statm("/proc/self/statm");
    long size = 0, resident = 0;
    statm >> size >> resident;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Polls pred() every 10 ms from this plain thread, which leaves the runtime
// idle, until it holds or `limit` has passed; returns pred().
template <class Pred> bool while_quiet(std::chrono::seconds limit, Pred pred) {
    auto give_up = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(10ms);
    return pred();
}

// Whether this runs under a user-mode emulator (qemu-user), whose own
// memory, such as its records of every guest page mapped, counts in the
// process's RSS: /proc/self/exe is the program it emulates,
// /proc/thread-self/exe the emulator.
bool under_emulator() {
    char self[4096], thread[4096];
    ssize_t a = readlink("/proc/self/exe", self, sizeof self);
    ssize_t b = readlink("/proc/thread-self/exe", thread, sizeof thread);
    return a > 0 && b > 0 &&
           std::string(self, static_cast<std::size_t>(a)) !=
               std::string(thread, static_cast<std::size_t>(b));
}

} // namespace

// Run by the test below in a child process, whose resident memory is the
// burst's alone, on two processors (their caches of free stacks are kept as
// they are, and stay small beside the burst). Checks for itself.
TEST_CASE("child: a burst of goroutines parks and is joined", "[.child]") {
    const int n = by_build(50'000, 5'000, 2'000);
    const long before = resident_kib();
    long peak = 0;
    rill::detail::stack_pool_counts joined{};
    const auto start = std::chrono::steady_clock::now();
    int resumed = rill::run([&] {
        int r = park_many(
            n, [](int) {}, [&] { peak = resident_kib(); });
        joined = rill::detail::stack_pool_stats();
        return r;
    });
    CHECK(resumed == n);
    // The burst left more free stacks than the pool keeps resident for good.
    CHECK(joined.resident + joined.trimmed > joined.resident_limit);
    // rill::run has returned: nothing runs, the program is quiet. The pool
    // trims down to its limit...
    const auto quiet_since = std::chrono::steady_clock::now();
    std::cout << n << " goroutines parked and joined in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(quiet_since - start).count()
              << " ms" << std::endl;
    CHECK(while_quiet(10s, [] {
        auto c = rill::detail::stack_pool_stats();
        return c.resident <= c.resident_limit;
    }));
    auto now = rill::detail::stack_pool_stats();
    std::cout << "free stacks at the join: " << joined.resident << " resident, " << joined.trimmed
              << " trimmed; "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - quiet_since)
                     .count()
              << " ms later: " << now.resident << " resident, " << now.trimmed << " trimmed"
              << std::endl;
    // ...and resident memory falls back to near where it was. Sanitizers keep
    // their own shadow of every page the stacks used (and ASan a quarantine),
    // and an emulator its own records, so there the pool's count above is
    // the check.
    if (under_emulator()) {
        std::cout << "resident memory not checked under an emulator" << std::endl;
    } else if (!rill_test::under_asan && !rill_test::under_tsan) {
        const long burst = peak - before;
        CHECK(burst > 0);
        CHECK(while_quiet(10s, [&] { return resident_kib() - before < burst / 4; }));
        std::cout << "resident before " << before << " KiB, at the peak " << peak << " KiB, now "
                  << resident_kib() << " KiB" << std::endl;
    }
}

TEST_CASE("a quiet program gives back the stack memory of a burst of goroutines") {
    auto r = rill_test::run_child("child: a burst of goroutines parks and is joined",
                                  {{"RILL_MAXPROCS", "2"}, {"RILL_STACK_RESERVE", ""}});
    INFO(r.output);
    CHECK(r.exited_with(0));
    if (r.output.find("resident memory not checked under an emulator") != std::string::npos)
        WARN("resident memory not checked under an emulator (its own memory counts in it)");
}

// ---- fresh stacks ---------------------------------------------------------------

namespace {

bool resident(const char* page_start) {
    unsigned char v = 0;
    return mincore(const_cast<char*>(page_start), 1, &v) == 0 && (v & 1);
}

// Whether this kernel populates pages on request (MADV_POPULATE_WRITE, Linux
// 5.14+), tried on a page of its own.
bool populate_works() {
    const long page = sysconf(_SC_PAGESIZE);
    void* p = mmap(nullptr, static_cast<std::size_t>(page), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bool ok = madvise(p, static_cast<std::size_t>(page), MADV_POPULATE_WRITE) == 0 &&
              resident(static_cast<char*>(p));
    munmap(p, static_cast<std::size_t>(page));
    return ok;
}

} // namespace

// In a child process: it takes stacks through a cache of its own and never
// gives them back, which would upset the stack counts of other tests.
TEST_CASE("child: stacks are handed out with their top page resident", "[.child]") {
    const long page = sysconf(_SC_PAGESIZE);
    rill::detail::stack_cache cache;
    int top = 0, below = 0;
    const int n = 4 * rill::detail::stack_cache::capacity; // several refills, a new slab
    for (int i = 0; i < n; ++i) {
        rill::detail::stack s = rill::detail::stack_alloc(&cache, 0);
        top += resident(s.hi - page);
        below += resident(s.hi - 2 * page);
    }
    std::cout << "top page resident: " << top << " of " << n << "; the page below it: " << below
              << std::endl;
}

TEST_CASE("new goroutine stacks come with the page of their first frame resident, and no more") {
    if (under_emulator() || !populate_works()) {
        WARN("not checked: the kernel (or an emulator) does not populate pages on request");
        return;
    }
    auto r = rill_test::run_child("child: stacks are handed out with their top page resident", {});
    INFO(r.output);
    REQUIRE(r.exited_with(0));
    // A stack whose first frame would fault in its top page instead costs a
    // page fault per new goroutine; nothing below it is touched for it.
    CHECK(r.output.find("top page resident: 256 of 256; the page below it: 0") !=
          std::string::npos);
}

// ---- when stacks cannot be had ------------------------------------------------

// Whether the address space limit holds: a user-mode emulator (qemu-user)
// ignores RLIMIT_AS, which would limit the emulator itself.
bool address_space_limited() {
    void* p = mmap(nullptr, 32 * kib * kib, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) return true;
    munmap(p, 32 * kib * kib);
    return false;
}

TEST_CASE("child: goroutines start until the address space runs out", "[.child]") {
    rill::run([] {
        // The runtime's threads are running by now: leave the address space
        // less room than one slab of stacks needs.
        std::ifstream statm("/proc/self/statm");
        long pages = 0;
        statm >> pages;
        rlimit lim{};
        lim.rlim_cur = lim.rlim_max =
            static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) +
            16 * kib * kib;
        REQUIRE(setrlimit(RLIMIT_AS, &lim) == 0);
        if (!address_space_limited()) {
            std::cout << "RLIMIT_AS is not enforced here" << std::endl;
            return;
        }
        std::cout << "address space limited" << std::endl;
        rill::chan<int> never(0);
        for (int i = 0; i < 100'000; ++i) {
            rill::go([never]() mutable { never.recv(); });
            rill::gosched(); // it starts, and takes a stack
        }
        FAIL("the address space never ran out");
    });
}

TEST_CASE("running out of memory for stacks is reported with mmap's error") {
    if (rill_test::under_tsan) {
        // Its own allocator takes address space for every goroutine it sees
        // start (about 0.8 MiB of fiber state), and runs out first.
        WARN("skipped under TSan: its allocator runs out of address space before the stacks do");
        return;
    }
    auto r = rill_test::run_child("child: goroutines start until the address space runs out",
                                  {{"RILL_MAXPROCS", "1"}, {"RILL_STACK_RESERVE", ""}});
    INFO(r.output);
    if (r.output.find("RLIMIT_AS is not enforced here") != std::string::npos) {
        WARN("skipped: RLIMIT_AS is not enforced here (qemu-user ignores it)");
        return;
    }
    CHECK(r.output.find("address space limited") != std::string::npos);
    CHECK(r.exited_with(2));
    CHECK(r.output.find("cannot reserve") != std::string::npos);
    CHECK(r.output.find(std::strerror(ENOMEM)) != std::string::npos);
    CHECK(r.output.find(std::strerror(ENOTTY)) == std::string::npos);
}
