// Goroutine stacks (mirrors Go's runtime/stack.go; see stack.hpp).
//
// Stacks are carved from slabs of `slab_stacks` reservations, mmap'd with
// MAP_NORESERVE so only touched pages cost memory. Each guarded stack has a
// PROT_NONE guard region below it; that splits the slab into two kernel
// mappings per stack, and vm.max_map_count (65530 by default) caps the
// mappings of a process. So the runtime gives guard pages to stacks only up
// to a budget of a quarter of the headroom it finds at start-up, and past it
// carves unguarded slabs (one mapping for all their stacks), whose overflow
// is caught by a canary checked whenever the goroutine leaves its processor.
#include "stack.hpp"

#include "g.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace rill::detail {

namespace {

constexpr std::size_t page = 4096;
constexpr std::size_t guard_size = 64 * 1024; // large frames skip a single page
constexpr int slab_stacks = 64;
constexpr std::uint64_t canary = 0x5a17c0de5a17c0deULL;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

std::size_t parse_size(const char* s) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(s, &end, 10);
    std::string unit(end ? end : "");
    if (unit == "KiB" || unit == "K" || unit == "k") v <<= 10;
    else if (unit == "MiB" || unit == "M" || unit == "m") v <<= 20;
    else if (!unit.empty()) return 0;
    return static_cast<std::size_t>(v);
}

std::size_t read_default_reserve() {
    std::size_t r = 256 * 1024;
    if (const char* s = std::getenv("RILL_STACK_RESERVE")) {
        std::size_t v = parse_size(s);
        if (v < 16 * 1024)
            spdlog::warn("rill: ignoring RILL_STACK_RESERVE={} (want a size of at least 16KiB, "
                         "e.g. 64KiB or 1MiB)",
                         s);
        else r = v;
    }
    return round_up(r, page);
}

// How many guarded stacks the map-count budget allows.
std::int64_t read_guard_budget() {
    long limit = 65530;
    if (std::ifstream f("/proc/sys/vm/max_map_count"); f) f >> limit;
    long maps = 0;
    if (std::ifstream f("/proc/self/maps"); f)
        for (std::string line; std::getline(f, line);) ++maps;
    return std::max<long>(0, (limit - maps) / 4);
}

struct global_pool {
    std::mutex mu;
    std::vector<stack> free; // trimmed stacks of the default reserve
    std::int64_t guard_budget = read_guard_budget();
    std::int64_t guarded_made = 0;
    bool warned = false;
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
        spdlog::critical("rill: cannot reserve {} bytes for goroutine stacks: {}", bytes,
                         std::strerror(errno));
        std::_Exit(2);
    }
    return static_cast<char*>(p);
}

void set_canary(stack& s) { std::memcpy(s.lo, &canary, sizeof canary); }

// Carves a new slab; must hold pool().mu. Returns its stacks.
void carve_slab(global_pool& gp, std::size_t reserve, std::vector<stack>& out) {
    bool guarded = gp.guarded_made + slab_stacks <= gp.guard_budget;
    if (!guarded && !gp.warned) {
        gp.warned = true;
        long limit = 0;
        if (std::ifstream f("/proc/sys/vm/max_map_count"); f) f >> limit;
        spdlog::warn("rill: {} goroutine stacks have guard pages, the most vm.max_map_count={} "
                     "allows this process; further stacks have none, and an overflow on them is "
                     "detected by a canary when the goroutine next leaves its processor instead "
                     "of at the faulting instruction. Raise vm.max_map_count to keep guard "
                     "pages on every stack.",
                     gp.guarded_made, limit);
    }
    std::size_t each = reserve + (guarded ? guard_size : 0);
    char* base = map_or_die(each * slab_stacks);
    for (int i = 0; i < slab_stacks; ++i) {
        char* at = base + i * each;
        stack s;
        s.guarded = guarded;
        if (guarded) {
            mprotect(at, guard_size, PROT_NONE);
            at += guard_size;
        }
        s.lo = at;
        s.hi = at + reserve;
        out.push_back(s);
    }
    if (guarded) gp.guarded_made += slab_stacks;
}

void trim(const stack& s) {
    // Keep the top page: a reused stack touches it first.
    madvise(s.lo, s.reserve() - page, MADV_DONTNEED);
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
        bool guarded;
        {
            std::lock_guard lk(gp.mu);
            guarded = gp.guarded_made < gp.guard_budget;
            if (guarded) ++gp.guarded_made;
        }
        char* base = map_or_die(reserve + (guarded ? guard_size : 0));
        if (guarded) mprotect(base, guard_size, PROT_NONE);
        s.lo = base + (guarded ? guard_size : 0);
        s.hi = s.lo + reserve;
        s.guarded = guarded;
    } else if (cache && cache->n > 0) {
        s = cache->items[--cache->n];
    } else {
        auto& gp = pool();
        std::lock_guard lk(gp.mu);
        if (gp.free.empty()) carve_slab(gp, def, gp.free);
        // Refill half the cache at once so the lock is taken rarely.
        while (cache && cache->n < stack_cache::capacity / 2 && gp.free.size() > 1) {
            cache->items[cache->n++] = gp.free.back();
            gp.free.pop_back();
        }
        s = gp.free.back();
        gp.free.pop_back();
    }
    if (!s.guarded) set_canary(s);
    count(s, +1);
    return s;
}

void stack_free(stack_cache* cache, stack s) {
    count(s, -1);
    if (s.reserve() != default_stack_reserve()) {
        char* base = s.lo - (s.guarded ? guard_size : 0);
        munmap(base, s.reserve() + (s.guarded ? guard_size : 0));
        if (s.guarded) {
            std::lock_guard lk(pool().mu);
            --pool().guarded_made;
        }
        return;
    }
    if (cache && cache->n < stack_cache::capacity * 2) {
        cache->items[cache->n++] = s;
        return;
    }
    // The cache is full: trim the older half and hand it back.
    auto& gp = pool();
    int keep = cache ? stack_cache::capacity : 0;
    std::vector<stack> cold;
    if (cache) {
        for (int i = keep; i < cache->n; ++i) cold.push_back(cache->items[i]);
        cache->n = keep;
    }
    cold.push_back(s);
    for (auto& c : cold) trim(c);
    std::lock_guard lk(gp.mu);
    gp.free.insert(gp.free.end(), cold.begin(), cold.end());
}

bool stack_canary_ok(const stack& s) noexcept {
    return s.guarded || std::memcmp(s.lo, &canary, sizeof canary) == 0;
}

stack_counts stack_stats() noexcept {
    return {static_cast<std::uint64_t>(std::max<std::int64_t>(0, live_guarded.load())),
            static_cast<std::uint64_t>(std::max<std::int64_t>(0, live_unguarded.load()))};
}

// ---- overflow reporting -----------------------------------------------------

namespace {

struct sigaction prev_segv, prev_bus;

// Async-signal-safe report: spdlog may hold locks the faulting code held, so
// this path formats into a local buffer and write(2)s it.
[[noreturn]] void report_overflow(G* g) {
    char buf[512];
    int n = std::snprintf(buf, sizeof buf,
                          "rill: fatal: stack overflow in goroutine %llu \"%s\" (stack reserve "
                          "%zu bytes; raise it with go_options::stack_reserve or "
                          "RILL_STACK_RESERVE)\n",
                          static_cast<unsigned long long>(g->id), g->name.c_str(),
                          g->stk.reserve());
    if (n > 0) (void)!write(STDERR_FILENO, buf, static_cast<std::size_t>(n));
    _exit(2);
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
    G* g = current_g_for_signal();
    if (g && !g->is_thread && g->stk.lo) {
        auto* addr = static_cast<char*>(info->si_addr);
        if (addr < g->stk.lo && addr >= g->stk.lo - guard_size) report_overflow(g);
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
