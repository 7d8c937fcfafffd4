// Runtime lock (mirrors Go's lock_futex.go): guards runtime and channel state
// for a few instructions at a time. It blocks the OS thread, never parks the
// goroutine, so it may be taken on the scheduler stack and in timer callbacks.
// While held, the M counts it (no async preemption may land; see issue 3).
#pragma once

#include <atomic>
#include <cstdint>

namespace rill::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t expected,
                std::int64_t timeout_ns = -1) noexcept;
void futex_wake(std::atomic<std::uint32_t>* addr, int n) noexcept;

class rt_lock {
public:
    void lock() noexcept {
        std::uint32_t z = 0;
        if (!state_.compare_exchange_strong(z, 1, std::memory_order_acquire,
                                            std::memory_order_relaxed))
            lock_slow();
    }
    bool try_lock() noexcept {
        std::uint32_t z = 0;
        return state_.compare_exchange_strong(z, 1, std::memory_order_acquire,
                                              std::memory_order_relaxed);
    }
    void unlock() noexcept {
        if (state_.exchange(0, std::memory_order_release) == 2) futex_wake(&state_, 1);
    }

private:
    void lock_slow() noexcept;
    // 0 unlocked, 1 locked, 2 locked with sleepers.
    std::atomic<std::uint32_t> state_{0};
};

} // namespace rill::detail
