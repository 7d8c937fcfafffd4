// Runtime timers on per-P 4-ary heaps (mirrors Go's runtime/time.go).
#include "time.hpp"

#include <rill/detail/chan_core.hpp>

#include <ctime>
#include <sched.h>

namespace rill::detail {

namespace {

using entry = timer_heap::entry;

void place(timer_heap& th, entry e, int i) {
    th.h[i] = e;
    e.t->index = i;
}

void sift_up(timer_heap& th, int i) {
    entry e = th.h[i];
    while (i > 0) {
        int parent = (i - 1) / 4;
        if (th.h[parent].when <= e.when) break;
        place(th, th.h[parent], i);
        i = parent;
    }
    place(th, e, i);
}

void sift_down(timer_heap& th, int i) {
    int n = static_cast<int>(th.h.size());
    entry e = th.h[i];
    for (;;) {
        int c = 4 * i + 1;
        if (c >= n) break;
        int best = c;
        for (int k = c + 1; k < c + 4 && k < n; ++k)
            if (th.h[k].when < th.h[best].when) best = k;
        if (th.h[best].when >= e.when) break;
        place(th, th.h[best], i);
        i = best;
    }
    place(th, e, i);
}

void update_next(timer_heap& th) {
    th.next.store(th.h.empty() ? INT64_MAX : th.h[0].when, std::memory_order_release);
}

// Both with th.lock held.
void push(timer_heap& th, timer* t) {
    th.h.push_back({t->when, t});
    sift_up(th, static_cast<int>(th.h.size()) - 1);
    t->heap.store(&th, std::memory_order_release);
}

void remove_at(timer_heap& th, int i) {
    entry last = th.h.back();
    th.h.pop_back();
    if (i < static_cast<int>(th.h.size())) {
        place(th, last, i);
        sift_down(th, i);
        sift_up(th, last.t->index);
    }
}

} // namespace

namespace {
std::int64_t clock_ns(clockid_t clock) noexcept {
    timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}
} // namespace

std::int64_t nanotime() noexcept { return clock_ns(CLOCK_MONOTONIC); }

std::int64_t coarse_nanotime() noexcept { return clock_ns(CLOCK_MONOTONIC_COARSE); }

void timer_add(timer* t) {
    timer_heap& th = current_timer_heap();
    th.lock.lock();
    push(th, t);
    bool first = th.h[0].t == t;
    std::int64_t when = t->when; // once unlocked, t may fire and its owner free it
    update_next(th);
    th.lock.unlock();
    if (first) timers_changed(when);
}

bool timer_del(timer* t) {
    bool removed = false;
    for (;;) {
        if (timer_heap* th = t->heap.load(std::memory_order_acquire)) {
            th->lock.lock();
            if (t->heap.load(std::memory_order_relaxed) == th) {
                remove_at(*th, t->index);
                t->heap.store(nullptr, std::memory_order_relaxed);
                update_next(*th);
                removed = true;
            }
            th->lock.unlock();
            continue;
        }
        if (!t->running.load(std::memory_order_acquire)) break;
        // Its callback runs right now; callbacks are short and never block.
        sched_yield();
    }
    return removed;
}

void timer_reset(timer* t, std::int64_t when) {
    timer_del(t);
    t->when = when;
    timer_add(t);
}

std::int64_t timers_run(timer_heap& th, std::int64_t now) {
    th.lock.lock();
    while (!th.h.empty() && th.h[0].when <= now) {
        timer* t = th.h[0].t;
        remove_at(th, 0);
        t->running.store(1, std::memory_order_relaxed);
        t->heap.store(nullptr, std::memory_order_release);
        update_next(th);
        th.lock.unlock();
        t->f(t->arg, now);
        th.lock.lock();
        if (t->period > 0) {
            t->when += t->period;
            if (t->when <= now) t->when = now + t->period; // skip ticks missed while late
            push(th, t);
            update_next(th);
        }
        t->running.store(0, std::memory_order_release);
    }
    std::int64_t next = th.h.empty() ? INT64_MAX : th.h[0].when;
    th.lock.unlock();
    return next;
}

void timers_move(timer_heap& from, timer_heap& to) {
    // Both locks at once (in address order), so that timer_del never sees a
    // timer in neither heap while it is not running.
    timer_heap* first = &from < &to ? &from : &to;
    timer_heap* second = first == &from ? &to : &from;
    first->lock.lock();
    second->lock.lock();
    for (entry e : from.h)
        push(to, e.t);
    from.h.clear();
    update_next(from);
    update_next(to);
    second->lock.unlock();
    first->lock.unlock();
}

} // namespace rill::detail
