// Goroutine stacks (mirrors Go's runtime/stack.go; see stack.hpp).
//
// Stacks are carved from slabs of `slab_stacks` reservations, mmap'd with
// MAP_NORESERVE so only touched pages cost memory, each with a guard region
// below it. Three kinds of guard, best first:
// - guard markers (madvise MADV_GUARD_INSTALL, Linux 6.13+): they fault like
//   PROT_NONE but cost no kernel mapping, so every stack is guarded;
// - PROT_NONE (mprotect): splits the slab into two mappings per stack, and
//   vm.max_map_count (65530 by default) caps a process's mappings, so these
//   are given only up to a quarter of the headroom found at start-up;
// - none: past that budget, slabs are one mapping for all their stacks, and
//   an overflow is caught by a canary at the stack's lowest word, checked
//   whenever the goroutine leaves its processor (and touching that word
//   costs each such stack a second resident page).
// Free stacks are cached per P and in a global pool, which keeps `hot_stacks`
// as they are and trims the rest with madvise(MADV_DONTNEED), merging
// neighbours into one call, off the path of running goroutines: Ms with
// nothing to run trim a few of the oldest (stack_trim_idle), and sysmon trims
// all that have sat unused for `scavenge_after_ns` (stack_scavenge), so memory
// shrinks back when the goroutine count falls, even in a program gone quiet.
//
// An overflow is reported when it faults below the stack, down to the lower
// end of its slab (on_fault). Code built with -fstack-clash-protection
// (runtime/CMakeLists.txt gives it to everything built against rill) touches
// a large frame page by page, so it faults in the guard first; a frame larger
// than the guard without it may land in the stack below unreported.
#include "stack.hpp"

#include "g.hpp"
#include "sched.hpp"

#include "log.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace rill::detail {

namespace {

constexpr std::size_t page = 4096;
// Large frames skip a single page. At least 64 KiB: GCC's stack probes on
// AArch64 assume a guard that large.
constexpr std::size_t guard_size = 64 * 1024;
constexpr int slab_stacks = 64;
constexpr std::size_t hot_stacks = 1024;
// A free stack unused this long in the global pool, beyond the hot_stacks it
// keeps, is no longer part of the program's working set: sysmon trims it.
// Short enough that a program gone quiet shrinks within about a second; long
// enough that one reusing its stacks (spawning in waves) keeps them.
constexpr std::int64_t scavenge_after_ns = 250'000'000;
// Stacks sysmon trims per round, so that a round takes well under a
// millisecond (it preempts and retakes between rounds); 1M stacks take about
// a thousand rounds.
constexpr std::size_t scavenge_batch = 1024;
constexpr std::uint64_t canary = 0x5a17c0de5a17c0deULL;
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

std::size_t parse_size(const char* s) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(s, &end, 10);
    std::string unit(end ? end : "");
    if (unit == "KiB" || unit == "K" || unit == "k")
        v <<= 10;
    else if (unit == "MiB" || unit == "M" || unit == "m")
        v <<= 20;
    else if (!unit.empty())
        return 0;
    return static_cast<std::size_t>(v);
}

std::size_t read_default_reserve() {
    std::size_t r = 256 * 1024;
    if (const char* s = std::getenv("RILL_STACK_RESERVE")) {
        std::size_t v = parse_size(s);
        if (v < 16 * 1024)
            runtime_log().warn(
                "rill: ignoring RILL_STACK_RESERVE={} (want a size of at least 16KiB, "
                "e.g. 64KiB or 1MiB)",
                s);
        else
            r = v;
    }
    return round_up(r, page);
}

// How many guarded stacks the map-count budget allows.
std::int64_t read_guard_budget() {
    long limit = 65530;
    if (std::ifstream f("/proc/sys/vm/max_map_count"); f) f >> limit;
    long maps = 0;
    if (std::ifstream f("/proc/self/maps"); f)
        for (std::string line; std::getline(f, line);)
            ++maps;
    return std::max<long>(0, (limit - maps) / 4);
}

bool markers_work();

// Faults in the top page of stacks that have none: every goroutine writes its
// first frame there, and a first-touch fault costs several times what the
// kernel's MADV_POPULATE_WRITE does for the same page (18-23 us against 3.5 us
// on the virtual machines we measure on), and one process_madvise call for a
// batch of stacks about a third of that again. So a burst of new goroutines
// pays one system call per batch of stacks instead of a fault each. Best way
// first: process_madvise on our own pidfd (Linux 6.13+ lets a process give
// itself any advice), madvise per stack (Linux 5.14+), else nothing (the
// goroutine faults the page in as before). The pidfd is opened again after a
// fork, since it names the process that opened it. Not thread-safe: the
// pool's lock guards it.
class top_pages {
public:
    void populate(const stack* s, int n) {
        if (n == 0 || way_ == way::none) return;
        if (way_ == way::batched && batched(s, n)) return;
        for (int i = 0; i < n && way_ != way::none; ++i)
            if (madvise(s[i].hi - page, page, MADV_POPULATE_WRITE) != 0 && errno == EINVAL)
                way_ = way::none;
    }

private:
    enum class way { batched, each, none };

    bool batched(const stack* s, int n) {
        if (pid_ != getpid()) {
            if (pidfd_ >= 0) close(pidfd_);
            pid_ = getpid();
            pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
        }
        iovec v[stack_cache::capacity];
        n = std::min(n, stack_cache::capacity);
        for (int i = 0; i < n; ++i)
            v[i] = {s[i].hi - page, page};
        if (pidfd_ >= 0 && syscall(SYS_process_madvise, pidfd_, v, n, MADV_POPULATE_WRITE, 0) >= 0)
            return true;
        way_ = way::each;
        return false;
    }

    way way_ = way::batched;
    pid_t pid_ = 0;
    int pidfd_ = -1;
};

struct global_pool {
    std::mutex mu;
    struct pooled {
        stack s;
        std::int64_t since; // nanotime when it entered the pool
    };
    // Free stacks of the default reserve, as they were left: taken and
    // given back at the back, so the front holds the longest unused.
    std::deque<pooled> hot;
    std::atomic<bool> excess{false}; // hot holds more than hot_stacks
    std::vector<stack> cold;         // the same, trimmed
    std::int64_t guard_budget = read_guard_budget();
    std::int64_t guarded_made = 0; // PROT_NONE guards, which cost mappings
    bool markers = markers_work(); // guard markers work on this kernel
    bool warned = false;
    top_pages tops;
};
global_pool& pool() {
    static auto* p = new global_pool; // never destroyed: goroutines may outlive main
    return *p;
}

std::atomic<std::int64_t> live_guarded{0}, live_unguarded{0};

char* map_or_die(std::size_t bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) {
        // Saved before anything else runs: the logger's first use sets errno
        // (spdlog asks isatty whether stderr is a terminal).
        const int err = errno;
        runtime_log().critical("rill: cannot reserve {} bytes for goroutine stacks: {}", bytes,
                               std::strerror(err));
        std::_Exit(2);
    }
    return static_cast<char*>(p);
}

void set_canary(stack& s) { std::memcpy(s.lo, &canary, sizeof canary); }

void warn_unguarded(global_pool& gp) {
    if (gp.warned) return;
    gp.warned = true;
    long limit = 0;
    if (std::ifstream f("/proc/sys/vm/max_map_count"); f) f >> limit;
    runtime_log().warn(
        "rill: {} goroutine stacks have guard pages, the most vm.max_map_count={} allows "
        "this process on a kernel without guard markers (Linux < 6.13); further stacks "
        "have none, and an overflow on them is detected by a canary when the goroutine "
        "next leaves its processor instead of at the faulting instruction. Raise "
        "vm.max_map_count to keep guard pages on every stack.",
        gp.guarded_made, limit);
}

// Whether guard markers really fault here. Some environments (qemu-user)
// accept MADV_GUARD_INSTALL and ignore it, so ask the kernel to read a marked
// page: a real guard makes write(2) fail with EFAULT.
bool markers_work() {
    char* probe = map_or_die(page);
    bool ok = false;
    int fds[2];
    if (madvise(probe, page, MADV_GUARD_INSTALL) == 0 && pipe(fds) == 0) {
        ok = write(fds[1], probe, 1) < 0 && errno == EFAULT;
        close(fds[0]);
        close(fds[1]);
    }
    munmap(probe, page);
    return ok;
}

// Guards [at, at + guard_size); false if this kind of guard is unavailable.
bool guard(global_pool& gp, char* at, bool use_markers) {
    if (use_markers) {
        if (madvise(at, guard_size, MADV_GUARD_INSTALL) == 0) return true;
        gp.markers = false;
        return false;
    }
    return mprotect(at, guard_size, PROT_NONE) == 0;
}

// Carves a new slab; must hold pool().mu. Returns its stacks.
void carve_slab(global_pool& gp, std::size_t reserve, std::vector<stack>& out) {
    std::size_t each = reserve + guard_size;
    char* base = map_or_die(each * slab_stacks);
    for (int i = 0; i < slab_stacks; ++i) {
        char* at = base + i * each;
        bool guarded = gp.markers && guard(gp, at, true);
        if (!guarded && gp.guarded_made < gp.guard_budget) {
            guarded = guard(gp, at, false);
            gp.guarded_made += guarded;
        }
        if (!guarded) warn_unguarded(gp);
        stack s;
        s.guarded = guarded;
        s.base = base;
        s.lo = at + guard_size;
        s.hi = s.lo + reserve;
        out.push_back(s);
    }
}

// Releases the memory of stacks, one madvise per run of neighbours (a guard
// region between two stacks is kept by MADV_DONTNEED).
void trim(std::vector<stack>& v) {
    std::sort(v.begin(), v.end(), [](const stack& a, const stack& b) { return a.lo < b.lo; });
    for (std::size_t i = 0; i < v.size();) {
        std::size_t j = i + 1;
        while (j < v.size() && v[j].lo == v[j - 1].hi + guard_size)
            ++j;
        madvise(v[i].lo, static_cast<std::size_t>(v[j - 1].hi - v[i].lo), MADV_DONTNEED);
        i = j;
    }
}

void count(const stack& s, int delta) {
    (s.guarded ? live_guarded : live_unguarded).fetch_add(delta, std::memory_order_relaxed);
}

} // namespace

std::size_t default_stack_reserve() noexcept {
    static const std::size_t r = read_default_reserve();
    return r;
}

stack stack_alloc(stack_cache* cache, std::size_t reserve) {
    std::size_t def = default_stack_reserve();
    reserve = reserve == 0 ? def : round_up(std::max<std::size_t>(reserve, 16 * 1024), page);
    stack s;
    if (reserve != def) {
        // Odd sizes are rare: a private mapping each, guarded while the budget lasts.
        auto& gp = pool();
        char* base = map_or_die(reserve + guard_size);
        std::lock_guard lk(gp.mu);
        s.guarded = gp.markers && guard(gp, base, true);
        if (!s.guarded && gp.guarded_made < gp.guard_budget) {
            s.guarded = guard(gp, base, false);
            gp.guarded_made += s.guarded;
        }
        if (!s.guarded) warn_unguarded(gp);
        s.base = base;
        s.lo = base + guard_size;
        s.hi = s.lo + reserve;
    } else if (cache && cache->n > 0) {
        s = cache->items[--cache->n];
    } else {
        auto& gp = pool();
        std::lock_guard lk(gp.mu);
        // Refill half the cache at once so the lock is taken rarely.
        int want = cache ? stack_cache::capacity / 2 : 1;
        stack fresh[stack_cache::capacity / 2]; // trimmed or new: nothing resident
        int nfresh = 0;
        for (int i = 0; i < want; ++i) {
            stack t;
            if (!gp.hot.empty()) {
                t = gp.hot.back().s;
                gp.hot.pop_back();
            } else {
                if (gp.cold.empty()) carve_slab(gp, def, gp.cold);
                t = gp.cold.back();
                gp.cold.pop_back();
                fresh[nfresh++] = t;
            }
            if (cache && i + 1 < want)
                cache->items[cache->n++] = t;
            else
                s = t;
        }
        gp.tops.populate(fresh, nfresh);
    }
    if (!s.guarded) set_canary(s);
    count(s, +1);
    return s;
}

void stack_free(stack_cache* cache, stack s) {
    count(s, -1);
    if (s.reserve() != default_stack_reserve()) {
        // A guard made by mprotect is its own mapping; it frees its budget.
        auto& gp = pool();
        {
            std::lock_guard lk(gp.mu);
            if (s.guarded && !gp.markers) --gp.guarded_made;
        }
        munmap(s.lo - guard_size, s.reserve() + guard_size);
        return;
    }
    if (cache && cache->n < stack_cache::capacity * 2) {
        cache->items[cache->n++] = s;
        return;
    }
    // The cache is full: hand half of it to the global pool.
    auto& gp = pool();
    const std::int64_t now = nanotime();
    std::lock_guard lk(gp.mu);
    if (cache) {
        for (int i = stack_cache::capacity; i < cache->n; ++i)
            gp.hot.push_back({cache->items[i], now});
        cache->n = stack_cache::capacity;
    }
    gp.hot.push_back({s, now});
    if (gp.hot.size() > hot_stacks) gp.excess.store(true, std::memory_order_relaxed);
}

namespace {

// Trims up to `most` of the pool's oldest free stacks beyond hot_stacks,
// those that entered the pool at `latest` (nanotime) or before; returns
// whether it trimmed any. The madvise calls run outside the pool's lock.
bool trim_oldest(std::size_t most, std::int64_t latest) {
    auto& gp = pool();
    if (!gp.excess.load(std::memory_order_relaxed)) return false;
    std::vector<stack> batch;
    {
        std::lock_guard lk(gp.mu);
        while (gp.hot.size() > hot_stacks && batch.size() < most &&
               gp.hot.front().since <= latest) {
            batch.push_back(gp.hot.front().s);
            gp.hot.pop_front();
        }
        gp.excess.store(gp.hot.size() > hot_stacks, std::memory_order_relaxed);
    }
    if (batch.empty()) return false;
    trim(batch);
    std::lock_guard lk(gp.mu);
    gp.cold.insert(gp.cold.end(), batch.begin(), batch.end());
    return true;
}

} // namespace

// A small batch, whatever its age, so that an M that finds work again is not
// held up long.
void stack_trim_idle() { trim_oldest(64, INT64_MAX); }

bool stack_scavenge(std::int64_t now) {
    return trim_oldest(scavenge_batch, now - scavenge_after_ns);
}

bool stack_scavenge_pending() noexcept { return pool().excess.load(std::memory_order_relaxed); }

bool stack_canary_ok(const stack& s) noexcept {
    return s.guarded || std::memcmp(s.lo, &canary, sizeof canary) == 0;
}

stack_counts stack_stats() noexcept {
    return {static_cast<std::uint64_t>(std::max<std::int64_t>(0, live_guarded.load())),
            static_cast<std::uint64_t>(std::max<std::int64_t>(0, live_unguarded.load()))};
}

stack_pool_counts stack_pool_stats() {
    auto& gp = pool();
    std::lock_guard lk(gp.mu);
    return {gp.hot.size(), gp.cold.size(), hot_stacks};
}

// ---- overflow reporting -----------------------------------------------------

namespace {

struct sigaction prev_segv, prev_bus;

// Async-signal-safe report: spdlog may hold locks the faulting code held, so
// this path formats into a local buffer and write(2)s it.
[[noreturn]] void report_overflow(G* g) {
    char buf[512];
    int n =
        std::snprintf(buf, sizeof buf,
                      "rill: fatal: stack overflow in goroutine %llu \"%s\" (stack reserve "
                      "%zu bytes; raise it with go_options::stack_reserve or "
                      "RILL_STACK_RESERVE)\n",
                      static_cast<unsigned long long>(g->id), g->name.c_str(), g->stk.reserve());
    if (n > 0) (void)!write(STDERR_FILENO, buf, static_cast<std::size_t>(n));
    _exit(2);
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
    G* g = running_g();
    if (g && !g->is_thread && g->stk.lo) {
        // Below the stack, down to the lower end of the mapping that holds
        // it, lie only its guard and other stacks with theirs: a frame larger
        // than the guard, compiled without stack probes, can step over the
        // guard and fault first in one of those further down.
        auto* addr = static_cast<char*>(info->si_addr);
        if (addr < g->stk.lo && addr >= g->stk.base) report_overflow(g);
    }
    // Not ours: hand it to whoever handled it before (ASan, a crash reporter)
    // or let the default action kill the process.
    struct sigaction& prev = sig == SIGSEGV ? prev_segv : prev_bus;
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction) return prev.sa_sigaction(sig, info, uctx);
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN && prev.sa_handler) {
        return prev.sa_handler(sig);
    }
    signal(sig, SIG_DFL); // the faulting instruction re-runs and kills the process
}

} // namespace

void stack_install_overflow_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &prev_segv);
        sigaction(SIGBUS, &sa, &prev_bus);
    });
}

void stack_thread_init() {
    constexpr std::size_t alt_size = 64 * 1024;
    stack_t cur{};
    if (sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) && cur.ss_size >= alt_size)
        return;
    stack_t ss{};
    ss.ss_sp = map_or_die(alt_size);
    ss.ss_size = alt_size;
    sigaltstack(&ss, nullptr);
}

} // namespace rill::detail
