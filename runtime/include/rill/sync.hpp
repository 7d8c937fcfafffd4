// Parking synchronisation primitives (mirrors Go's sync package and
// x/sync/semaphore): they park the goroutine, not the thread, and also work
// from plain OS threads (which then block). mutex and rw_mutex meet the
// standard Lockable requirements, so std::lock_guard / std::unique_lock /
// std::shared_lock work with them. None of them may be copied or moved.
// Misuse that Go reports as a fatal error (unlocking what is not locked,
// releasing more than was acquired) throws std::logic_error here.
//
// Memory ordering (Go's rules, go.dev/ref/mem; README "Memory model"): what
// was written before an operation is visible after one that it happens
// before, with no data race:
//  - mutex: the n-th unlock happens before the (n+1)-th lock returns (a
//    try_lock that returns true is a lock);
//  - rw_mutex: unlock and lock as for mutex; the n-th unlock also happens
//    before the return of every lock_shared that takes the lock after it,
//    and an unlock_shared happens before the next lock returns (the first
//    to exclude that reader); the try forms count when they return true;
//  - cond: wait returns with the mutex locked again, so the mutex orders
//    what the signaller did while holding it; besides, a signal or
//    broadcast happens before the return of each wait it wakes. A wait may
//    return without a signal (wait_for also on timeout): re-check the
//    condition under the mutex;
//  - wait_group: a done() (an add that lowers the counter) happens before
//    the return of any wait() it unblocks;
//  - once: the completion of the f that returned normally happens before
//    any call() returns, and before done() returns true;
//  - semaphore: a release happens before the return of the acquire (or try
//    form returning true) that it satisfies.
// A try form that fails (try_acquire_for also when it times out) and
// once::done() returning false order nothing; a cond::wait_for that times
// out is ordered by the mutex alone.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace rill {

// Use it rather than std::mutex for a lock that goroutines share: a goroutine
// waiting for a std::mutex blocks its thread, which keeps its processor, and
// once every processor's goroutine waits so while the holder is preempted,
// nothing runs the holder again. A rill::mutex parks the waiter instead.
//
// Not fair in the common case: a running goroutine may take the lock ahead of
// a woken one (which is what makes it fast). A waiter that has waited over
// 1 ms switches the mutex into starvation mode, as Go's does: the lock is
// then handed to the waiters in turn and newcomers queue behind them.
class mutex {
public:
    mutex() = default;
    mutex(const mutex&) = delete;
    mutex& operator=(const mutex&) = delete;
    void lock();
    bool try_lock() noexcept;
    void unlock();

private:
    void lock_slow();
    // Flags (locked, woken, starving, handoff) and, above them, the number
    // of waiters; see sync.cpp.
    std::atomic<std::uint32_t> state_{0};
};

// Writer-preferring reader/writer lock: once a writer waits, new readers wait.
class rw_mutex {
public:
    rw_mutex() = default;
    rw_mutex(const rw_mutex&) = delete;
    rw_mutex& operator=(const rw_mutex&) = delete;
    void lock();
    bool try_lock();
    void unlock();
    void lock_shared();
    bool try_lock_shared();
    void unlock_shared();

private:
    mutex w_;                              // held by the writer (and writers waiting)
    std::atomic<std::int32_t> readers_{0}; // active readers; minus max_readers while a writer waits
    std::atomic<std::int32_t> departing_{0}; // readers the writer still waits for
    std::atomic<std::uint32_t> reader_sem_{0};
    std::atomic<std::uint32_t> writer_sem_{0};
};

// Condition variable tied to a rill::mutex. As with std::condition_variable,
// wait may return without a signal: wait in a loop (or use the predicate form).
class cond {
public:
    cond() = default;
    cond(const cond&) = delete;
    cond& operator=(const cond&) = delete;
    void wait(std::unique_lock<mutex>& lk);
    template <class Pred> void wait(std::unique_lock<mutex>& lk, Pred pred) {
        while (!pred())
            wait(lk);
    }
    // false on timeout
    bool wait_for(std::unique_lock<mutex>& lk, std::chrono::nanoseconds d);
    void signal();
    void broadcast();

private:
    std::atomic<std::uint32_t> seq_{0};
};

class wait_group {
public:
    wait_group() = default;
    wait_group(const wait_group&) = delete;
    wait_group& operator=(const wait_group&) = delete;
    // Throws std::logic_error if the counter would go negative (and
    // std::overflow_error past 2^31 - 1), leaving it unchanged.
    void add(std::int64_t n);
    void done() { add(-1); }
    void wait();

private:
    // The counter, and in the top bit whether anyone waits.
    std::atomic<std::uint32_t> state_{0};
};

class once {
public:
    once() = default;
    once(const once&) = delete;
    once& operator=(const once&) = delete;
    // Runs f exactly once across all callers; others wait until it returned.
    // If f throws, the exception propagates and a later call tries again.
    template <class F> void call(F&& f) {
        if (done_.load(std::memory_order_acquire)) return;
        std::lock_guard<mutex> g(m_);
        if (done_.load(std::memory_order_relaxed)) return;
        f();
        done_.store(true, std::memory_order_release);
    }
    bool done() const noexcept { return done_.load(std::memory_order_acquire); }

private:
    std::atomic<bool> done_{false};
    mutex m_;
};

// Weighted counting semaphore (x/sync/semaphore): FIFO, so a large request is
// not starved by small ones. A request for n < 0 or n > capacity can never
// be granted and throws std::invalid_argument, from the try forms too.
class semaphore {
public:
    explicit semaphore(std::int64_t capacity);
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;
    void acquire(std::int64_t n = 1);
    bool try_acquire(std::int64_t n = 1);
    bool try_acquire_for(std::chrono::nanoseconds d, std::int64_t n = 1);
    void release(std::int64_t n = 1);

private:
    struct waiter;
    bool acquire_until(std::int64_t n, std::int64_t deadline);
    void check(std::int64_t n) const;
    // With lock_ held: takes w out of the queue.
    void unlink(waiter* w) noexcept;
    // With lock_ held: grants the front waiters their shares while they fit.
    void grant();
    std::int64_t capacity_;
    std::int64_t available_;
    mutex lock_; // guards available_ and the queue
    waiter* head_ = nullptr;
    waiter* tail_ = nullptr;
};

} // namespace rill
