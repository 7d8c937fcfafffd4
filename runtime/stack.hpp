// Goroutine stacks (mirrors Go's runtime/stack.go, adapted to C++ where a
// stack cannot move): mmap'd reservations, committed page by page by the
// kernel, with a guard page below while the process's memory-map budget
// (vm.max_map_count) allows, and pooled per P.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rill::detail {

struct stack {
    char* base = nullptr; // lowest byte of the mapping that holds it (its slab's)
    char* lo = nullptr;   // lowest usable byte
    char* hi = nullptr;   // one past the highest usable byte
    bool guarded = false;
    std::size_t reserve() const noexcept { return static_cast<std::size_t>(hi - lo); }
};

// A per-P cache of free stacks of the default reserve.
struct stack_cache {
    static constexpr int capacity = 64; // kept resident (hot) before trimming
    stack items[capacity * 2];
    int n = 0;
};

std::size_t default_stack_reserve() noexcept;
// Allocates a stack of at least `reserve` bytes (0: the default).
stack stack_alloc(stack_cache* cache, std::size_t reserve);
void stack_free(stack_cache* cache, stack s);
// Returns the memory of some free stacks beyond a hot reserve to the kernel.
// Called by Ms with nothing to run, so the madvise calls stay off the path of
// running goroutines.
void stack_trim_idle();
// sysmon's scavenger (as Go's background scavenger returns free heap pages,
// mgcscavenge.go): returns to the kernel the memory of a batch of free stacks
// that have sat unused in the global pool for a while beyond the hot reserve,
// so that a program gone quiet shrinks back. It touches only the global pool,
// under its lock, never a P's cache (owned by the M holding the P). Returns
// whether it trimmed any (then call again soon: more may be due).
bool stack_scavenge(std::int64_t now);
// Whether the global pool holds more free stacks than its hot reserve, which
// stack_scavenge will trim once they have sat unused long enough. Set only
// by an M holding a P, before it releases the P: sysmon reads it after
// seeing every P idle, and then keeps watching instead of sleeping deeply.
bool stack_scavenge_pending() noexcept;

// Unguarded stacks carry a canary at their lowest word; a clobbered canary is
// a detected overflow.
bool stack_canary_ok(const stack& s) noexcept;

// Installs the SIGSEGV/SIGBUS handler that reports guard-page hits, and gives
// the calling thread an alternate signal stack. Idempotent per thread.
void stack_install_overflow_handler();
void stack_thread_init();

struct stack_counts {
    std::uint64_t guarded, unguarded;
};
stack_counts stack_stats() noexcept;

// The global pool of free stacks of the default reserve: how many it keeps as
// they were left (resident) and how many it has trimmed, and how many it may
// keep resident for good. For tests.
struct stack_pool_counts {
    std::size_t resident, trimmed, resident_limit;
};
stack_pool_counts stack_pool_stats();

} // namespace rill::detail
