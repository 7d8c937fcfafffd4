// Runtime lock and the raw futex calls beneath it (mirrors Go's
// runtime/lock_futex.go and os_linux.go futexsleep / futexwakeup).
#include "lock.hpp"

#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

extern "C" {
thread_local int rill_rt_locks_held = 0;
}

namespace rill::detail {

void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t expected,
                std::int64_t timeout_ns) noexcept {
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1'000'000'000;
        ts.tv_nsec = timeout_ns % 1'000'000'000;
        tsp = &ts;
    }
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, tsp,
            nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>* addr, int n) noexcept {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr,
            nullptr, 0);
}

void rt_lock::lock_slow() noexcept {
    // Spin briefly, as Go's lock_futex does: holders keep the lock for a few
    // instructions, and a futex round trip costs far more. Probing only every
    // few dozen cycles keeps the waiters from stealing the cache line from
    // the holder.
    auto try_acquire = [this] {
        for (std::uint32_t s = state_.load(std::memory_order_relaxed); s == 0;
             s = state_.load(std::memory_order_relaxed))
            if (state_.compare_exchange_weak(s, 1, std::memory_order_acquire,
                                             std::memory_order_relaxed))
                return true;
        return false;
    };
    for (int i = 0; i < 4; ++i) {
        if (try_acquire()) return;
        for (int k = 0; k < 30; ++k)
            cpu_relax();
    }
    if (try_acquire()) return;
    sched_yield();
    while (state_.exchange(2, std::memory_order_acquire) != 0)
        futex_wait(&state_, 2);
}

} // namespace rill::detail
