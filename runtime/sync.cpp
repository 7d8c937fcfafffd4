// Parking synchronisation primitives (mirrors Go's sync/mutex.go, rwmutex.go,
// cond.go, waitgroup.go and golang.org/x/sync/semaphore), built on the
// goroutine-aware futex of sema.hpp, so each one parks a goroutine and blocks
// a plain thread alike.
#include "sema.hpp"

#include <rill/detail/chan_core.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <climits>
#include <stdexcept>

namespace rill {

using detail::gfutex_wait;
using detail::gfutex_wake;
using detail::wait_reason;

// ---- mutex ----------------------------------------------------------------------------
//
// Go's sync.Mutex algorithm on the futex word itself. The word holds flags
// and the number of registered waiters (goroutines that have parked at least
// once and not yet acquired). Normal mode: unlock releases the lock and,
// unless a woken waiter is already on its way, wakes one, which then
// competes with running goroutines (barging is what makes it fast). A waiter
// that has waited over starve_after_ns sets `starving`: unlock then keeps the
// lock locked and sets `handoff`, which only a registered waiter may take,
// so newcomers queue behind the waiters (in the futex's FIFO order) instead
// of barging, and yield while a hand-off is pending rather than park on it.
// The last waiter, or one that did not wait long, ends starvation mode.
//
// Once unlock's read-modify-write has released or handed off the lock,
// another goroutine may acquire, release and destroy the mutex: unlock then
// touches no member again (gfutex_wake only uses the address as a key).

namespace {

constexpr std::uint32_t locked = 1;   // held
constexpr std::uint32_t woken = 2;    // a woken waiter is on its way: unlock wakes no other
constexpr std::uint32_t starving = 4; // hand the lock from waiter to waiter
constexpr std::uint32_t handoff = 8;  // locked, and owed to whichever registered waiter takes it
constexpr std::uint32_t one_waiter = 16;
// A critical section is usually far shorter than a park and wake-up.
constexpr int spin_limit = 8;
constexpr std::int64_t starve_after_ns = 1'000'000;

[[noreturn]] void throw_misuse(const char* what) { throw std::logic_error(what); }

} // namespace

// Under contention the word is rarely 0 (registered waiters stay counted in
// it), so the fast paths start from its current value rather than assume 0.
void mutex::lock() {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    if ((s & locked) || !state_.compare_exchange_strong(s, s | locked, std::memory_order_acquire,
                                                        std::memory_order_relaxed))
        lock_slow();
}

bool mutex::try_lock() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    while (!(s & locked))
        if (state_.compare_exchange_weak(s, s | locked, std::memory_order_acquire,
                                         std::memory_order_relaxed))
            return true;
    return false;
}

void mutex::lock_slow() {
    std::int64_t parked_at = 0; // when this call registered and first parked; 0: not yet
    int spins = 0;
    for (;;) {
        std::uint32_t s = state_.load(std::memory_order_relaxed);
        // A registered waiter has been woken, or will be, so it clears `woken`
        // in each of its updates, and leaves the count when it acquires.
        const std::uint32_t clear = parked_at ? woken : 0;
        const std::uint32_t mine = parked_at ? one_waiter : 0;
        if (!(s & locked)) {
            if (state_.compare_exchange_weak(s, ((s | locked) & ~clear) - mine,
                                             std::memory_order_acquire, std::memory_order_relaxed))
                return;
            continue;
        }
        if (s & handoff) {
            if (!parked_at) {
                // Owed to a waiter on its way here: make room for it to run.
                // A newcomer never parks on a pending hand-off, so every
                // parked waiter is one a hand-off may wake.
                gosched();
                continue;
            }
            std::uint32_t n = (s & ~(handoff | woken)) - one_waiter;
            if (n < one_waiter || detail::nanotime() - parked_at < starve_after_ns) n &= ~starving;
            if (state_.compare_exchange_weak(s, n, std::memory_order_acquire,
                                             std::memory_order_relaxed))
                return;
            continue;
        }
        if (!(s & starving) && spins < spin_limit) {
            // Look again only every few dozen cycles (as Go's procyield does):
            // probing the word steals its cache line from the holder.
            ++spins;
            for (int k = 0; k < 30; ++k)
                detail::cpu_relax();
            continue;
        }
        std::uint32_t want = parked_at ? s & ~woken : s + one_waiter;
        if (parked_at && detail::nanotime() - parked_at >= starve_after_ns) want |= starving;
        if (want != s && !state_.compare_exchange_weak(s, want, std::memory_order_relaxed))
            continue;
        if (!parked_at) parked_at = detail::nanotime();
        gfutex_wait(&state_, want, wait_reason::sync_mutex);
        spins = 0;
    }
}

void mutex::unlock() {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
        if (!(s & locked) || (s & handoff)) throw_misuse("rill::mutex: unlock of unlocked mutex");
        // `starving` implies a registered waiter, which will take the hand-off:
        // the woken one, or one about to park that finds the word changed.
        bool wake = (s & starving) || (s >= one_waiter && !(s & woken));
        std::uint32_t n = (s & starving) ? s | handoff : (s & ~locked) | (wake ? woken : 0);
        if (state_.compare_exchange_weak(s, n, std::memory_order_release,
                                         std::memory_order_relaxed)) {
            if (wake) gfutex_wake(&state_, 1);
            return;
        }
    }
}

// ---- counting semaphores on a futex word (Go's semacquire / semrelease) ---------------

namespace {

void sem_acquire(std::atomic<std::uint32_t>& sem, wait_reason why) {
    std::uint32_t c = sem.load(std::memory_order_relaxed);
    for (;;) {
        if (c == 0) {
            gfutex_wait(&sem, 0, why);
            c = sem.load(std::memory_order_relaxed);
        } else if (sem.compare_exchange_weak(c, c - 1, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
            return;
        }
    }
}

void sem_release(std::atomic<std::uint32_t>& sem, std::uint32_t n) {
    sem.fetch_add(n, std::memory_order_release);
    gfutex_wake(&sem, static_cast<int>(n));
}

} // namespace

// ---- rw_mutex (Go's sync.RWMutex) -----------------------------------------------------
//
// readers_ counts active readers; a writer subtracts max_readers from it, so
// a negative count tells arriving readers that a writer is pending and they
// must wait on reader_sem_. The writer then waits on writer_sem_ until the
// departing_ readers that were active at that moment have left.

namespace {
constexpr std::int32_t max_readers = 1 << 30;
}

void rw_mutex::lock_shared() {
    if (readers_.fetch_add(1, std::memory_order_acq_rel) + 1 < 0)
        sem_acquire(reader_sem_, wait_reason::sync_rwmutex);
}

bool rw_mutex::try_lock_shared() {
    std::int32_t c = readers_.load(std::memory_order_relaxed);
    while (c >= 0)
        if (readers_.compare_exchange_weak(c, c + 1, std::memory_order_acquire,
                                           std::memory_order_relaxed))
            return true;
    return false;
}

void rw_mutex::unlock_shared() {
    std::int32_t r = readers_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    if (r >= 0) return;
    if (r + 1 == 0 || r + 1 == -max_readers) {
        readers_.fetch_add(1, std::memory_order_relaxed);
        throw_misuse("rill::rw_mutex: unlock_shared of unlocked rw_mutex");
    }
    // A writer is pending; the last reader it waits for lets it in.
    if (departing_.fetch_sub(1, std::memory_order_acq_rel) == 1) sem_release(writer_sem_, 1);
}

void rw_mutex::lock() {
    w_.lock();
    std::int32_t r = readers_.fetch_sub(max_readers, std::memory_order_acq_rel);
    if (r != 0 && departing_.fetch_add(r, std::memory_order_acq_rel) + r != 0)
        sem_acquire(writer_sem_, wait_reason::sync_rwmutex);
}

bool rw_mutex::try_lock() {
    if (!w_.try_lock()) return false;
    std::int32_t z = 0;
    if (!readers_.compare_exchange_strong(z, -max_readers, std::memory_order_acquire,
                                          std::memory_order_relaxed)) {
        w_.unlock();
        return false;
    }
    return true;
}

void rw_mutex::unlock() {
    std::int32_t r = readers_.fetch_add(max_readers, std::memory_order_acq_rel) + max_readers;
    if (r >= max_readers) {
        readers_.fetch_sub(max_readers, std::memory_order_relaxed);
        throw_misuse("rill::rw_mutex: unlock of unlocked rw_mutex");
    }
    if (r > 0) sem_release(reader_sem_, static_cast<std::uint32_t>(r));
    w_.unlock();
}

// ---- cond -----------------------------------------------------------------------------
//
// A waiter samples seq_ while it still holds the mutex; any signal after
// that changes seq_, so the futex wait cannot miss it.

void cond::wait(std::unique_lock<mutex>& lk) {
    std::uint32_t s = seq_.load(std::memory_order_relaxed);
    lk.unlock();
    gfutex_wait(&seq_, s, wait_reason::sync_cond);
    lk.lock();
}

bool cond::wait_for(std::unique_lock<mutex>& lk, std::chrono::nanoseconds d) {
    std::int64_t deadline = detail::deadline_after(d);
    std::uint32_t s = seq_.load(std::memory_order_relaxed);
    lk.unlock();
    bool woken = gfutex_wait(&seq_, s, wait_reason::sync_cond, deadline);
    lk.lock();
    return woken;
}

void cond::signal() {
    seq_.fetch_add(1, std::memory_order_release);
    gfutex_wake(&seq_, 1);
}

void cond::broadcast() {
    seq_.fetch_add(1, std::memory_order_release);
    gfutex_wake(&seq_, INT_MAX);
}

// ---- wait_group -----------------------------------------------------------------------
//
// One futex word: the counter and a flag saying that someone waits. The add
// that brings the counter to zero clears both in the same update, so once a
// waiter sees zero and returns (and may destroy the wait_group), that add
// touches no member again.

namespace {
constexpr std::uint32_t wg_waiters = 1u << 31;
constexpr std::uint32_t wg_count = wg_waiters - 1;
} // namespace

void wait_group::add(std::int64_t n) {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
        std::int64_t v = std::int64_t{s & wg_count} + n;
        if (v < 0) throw std::logic_error("rill::wait_group: negative counter");
        if (v > wg_count) throw std::overflow_error("rill::wait_group: counter overflow");
        std::uint32_t ns = v == 0 ? 0 : (s & wg_waiters) | static_cast<std::uint32_t>(v);
        if (state_.compare_exchange_weak(s, ns, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) {
            if (v == 0 && (s & wg_waiters)) gfutex_wake(&state_, INT_MAX);
            return;
        }
    }
}

void wait_group::wait() {
    std::uint32_t s = state_.load(std::memory_order_acquire);
    while (s & wg_count) {
        if (!(s & wg_waiters) &&
            !state_.compare_exchange_weak(s, s | wg_waiters, std::memory_order_acquire,
                                          std::memory_order_acquire))
            continue;
        gfutex_wait(&state_, s | wg_waiters, wait_reason::sync_waitgroup);
        s = state_.load(std::memory_order_acquire);
    }
}

// ---- semaphore (x/sync/semaphore) -----------------------------------------------------
//
// Each waiter sleeps on a futex word of its own, which a releaser sets under
// lock_ once it has granted the waiter its share. Every waiter takes lock_
// again before it returns, so a releaser is done with the waiter's record
// (on the waiter's stack) by then, and a waiter that timed out learns under
// lock_ whether it was granted after all (then it keeps the share, as
// x/sync/semaphore does) or must leave the queue.

struct semaphore::waiter {
    std::int64_t n;
    std::atomic<std::uint32_t> granted{0};
    waiter* next = nullptr;
};

semaphore::semaphore(std::int64_t capacity) : capacity_(capacity), available_(capacity) {
    if (capacity < 0) throw std::invalid_argument("rill::semaphore: negative capacity");
}

void semaphore::check(std::int64_t n) const {
    if (n < 0 || n > capacity_)
        throw std::invalid_argument("rill::semaphore: request outside 0..capacity");
}

void semaphore::unlink(waiter* w) noexcept {
    waiter* prev = nullptr;
    for (waiter* p = head_; p != w; p = p->next)
        prev = p;
    (prev ? prev->next : head_) = w->next;
    if (tail_ == w) tail_ = prev;
}

void semaphore::grant() {
    while (head_ && head_->n <= available_) {
        waiter* w = head_;
        unlink(w);
        available_ -= w->n;
        w->granted.store(1, std::memory_order_release);
        gfutex_wake(&w->granted, 1);
    }
}

void semaphore::acquire(std::int64_t n) { acquire_until(n, detail::no_deadline); }

bool semaphore::try_acquire(std::int64_t n) {
    check(n);
    std::lock_guard<mutex> g(lock_);
    if (head_ || available_ < n) return false;
    available_ -= n;
    return true;
}

bool semaphore::try_acquire_for(std::chrono::nanoseconds d, std::int64_t n) {
    return acquire_until(n, detail::deadline_after(d));
}

bool semaphore::acquire_until(std::int64_t n, std::int64_t deadline) {
    check(n);
    std::unique_lock<mutex> lk(lock_);
    if (!head_ && available_ >= n) {
        available_ -= n;
        return true;
    }
    waiter w{n};
    (tail_ ? tail_->next : head_) = &w;
    tail_ = &w;
    lk.unlock();
    while (!w.granted.load(std::memory_order_acquire) &&
           gfutex_wait(&w.granted, 0, wait_reason::sync_semaphore, deadline)) {
    }
    lk.lock();
    if (w.granted.load(std::memory_order_relaxed)) return true;
    // Timed out. Leaving the front of the queue may let those behind in.
    bool front = head_ == &w;
    unlink(&w);
    if (front) grant();
    return false;
}

void semaphore::release(std::int64_t n) {
    if (n < 0) throw std::invalid_argument("rill::semaphore: negative release");
    std::lock_guard<mutex> g(lock_);
    if (n > capacity_ - available_) throw_misuse("rill::semaphore: released more than held");
    available_ += n;
    grant();
}

} // namespace rill
