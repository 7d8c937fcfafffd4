// Runtime timers (mirrors Go's runtime/time.go): per-P 4-ary heaps ordered by
// `when` (steady-clock nanoseconds). A timer's callback runs on a scheduler
// stack, never on a goroutine: it must not block (ready() a goroutine or
// try_send on a channel instead). The timer object must stay alive until it
// has fired (one-shot) or timer_del returned.
#pragma once

#include "lock.hpp"

#include <atomic>
#include <cstdint>
#include <vector>

namespace rill::detail {

struct timer_heap;

struct timer {
    std::int64_t when = 0;
    std::int64_t period = 0; // > 0: re-armed every period after firing
    void (*f)(void* arg, std::int64_t now) = nullptr;
    void* arg = nullptr;
    // Owned by the heap that holds it.
    std::atomic<timer_heap*> heap{nullptr};
    int index = -1;
    std::atomic<std::uint32_t> running{0};
};

struct timer_heap {
    rt_lock lock;
    // 4-ary min-heap on when, kept beside the pointer so that sifting does
    // not chase timers scattered over goroutine stacks.
    struct entry {
        std::int64_t when;
        timer* t;
    };
    std::vector<entry> h;
    std::atomic<std::int64_t> next{INT64_MAX}; // when of h[0], read without the lock
};

std::int64_t nanotime() noexcept;
// A cheaper, tick-grained clock for "waiting since" stamps in dumps.
std::int64_t coarse_nanotime() noexcept;
// Arms t (t->when, t->f, t->arg set by the caller) on the current P's heap.
// t must not be armed already.
void timer_add(timer* t);
// Disarms t. Returns true if it was removed before firing. If its callback is
// running on another thread, waits until it has returned.
bool timer_del(timer* t);
// Disarms (if armed) and arms again at when.
void timer_reset(timer* t, std::int64_t when);

// Runs h's timers due at now; returns when the next one is due (INT64_MAX: none).
std::int64_t timers_run(timer_heap& h, std::int64_t now);
// Moves every timer of from into to (a processor being retired).
void timers_move(timer_heap& from, timer_heap& to);

// Provided by the scheduler (proc.cpp): the heap timers are added to from the
// calling thread, and the hook that makes sure some thread wakes by `when`.
timer_heap& current_timer_heap();
void timers_changed(std::int64_t when);

} // namespace rill::detail
