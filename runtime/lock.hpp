// Runtime lock (mirrors Go's lock_futex.go): guards runtime and channel state
// for a few instructions at a time. It blocks the OS thread, never parks the
// goroutine, so it may be taken on the scheduler stack and in timer callbacks.
// While held, the thread counts it: no async preemption may land then.
#pragma once

#include "tls.hpp"

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

} // namespace rill::detail

// The runtime locks the calling thread holds. A goroutine never parks holding
// one (park hands the unlock to its M's scheduler stack), so lock and unlock
// happen on one thread.
extern "C" thread_local int rill_rt_locks_held;

namespace rill::detail {

RILL_TLS_ACCESSOR(int, rt_locks_slot, rill_rt_locks_held)
inline void rt_locks_add(int delta) noexcept { *rt_locks_slot() += delta; }
inline int rt_locks_held() noexcept { return *rt_locks_slot(); }

class rt_lock {
public:
    void lock() noexcept {
        rt_locks_add(1);
        std::uint32_t z = 0;
        if (!state_.compare_exchange_strong(z, 1, std::memory_order_acquire,
                                            std::memory_order_relaxed))
            lock_slow();
    }
    bool try_lock() noexcept {
        std::uint32_t z = 0;
        bool ok = state_.compare_exchange_strong(z, 1, std::memory_order_acquire,
                                                 std::memory_order_relaxed);
        if (ok) rt_locks_add(1);
        return ok;
    }
    void unlock() noexcept {
        if (state_.exchange(0, std::memory_order_release) == 2) futex_wake(&state_, 1);
        rt_locks_add(-1);
    }

private:
    void lock_slow() noexcept;
    // 0 unlocked, 1 locked, 2 locked with sleepers.
    std::atomic<std::uint32_t> state_{0};
};

} // namespace rill::detail
