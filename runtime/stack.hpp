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

} // namespace rill::detail
