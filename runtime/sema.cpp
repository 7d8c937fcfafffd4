// Goroutine-aware futex (plays the part of Go's runtime/sema.go, whose table
// of semaRoots keyed by address this mirrors). Waiters hash by address into a
// fixed table of buckets; a bucket is an rt_lock and a FIFO list of the
// waiters parked on any address that hashes to it. A waiter lives on the
// stack of the goroutine (or plain thread) that waits, so it is valid exactly
// as long as that wait lasts.
#include "sema.hpp"

namespace rill::detail {

namespace {

struct sema_waiter {
    const std::atomic<std::uint32_t>* addr;
    G* g;
    sema_waiter* prev = nullptr;
    sema_waiter* next = nullptr;
    bool linked = false;
};

struct alignas(64) bucket {
    rt_lock lock;
    // Waiters linked here, counted before *addr is read, so that a wake can
    // skip the lock when there are none (see gfutex_wake).
    std::atomic<std::uint32_t> nwait{0};
    sema_waiter* head = nullptr;
    sema_waiter* tail = nullptr;

    void push(sema_waiter* w) noexcept {
        w->prev = tail;
        w->next = nullptr;
        (tail ? tail->next : head) = w;
        tail = w;
        w->linked = true;
    }
    void remove(sema_waiter* w) noexcept {
        (w->prev ? w->prev->next : head) = w->next;
        (w->next ? w->next->prev : tail) = w->prev;
        w->linked = false;
        nwait.fetch_sub(1, std::memory_order_relaxed);
    }
};

// Prime, as in Go, so that addresses with a common stride spread out.
constexpr std::size_t table_size = 251;
constinit bucket table[table_size];

bucket& bucket_for(const void* addr) noexcept {
    return table[(reinterpret_cast<std::uintptr_t>(addr) >> 3) % table_size];
}

void unlock_bucket(void* b) { static_cast<bucket*>(b)->lock.unlock(); }

} // namespace

bool gfutex_wait(const std::atomic<std::uint32_t>* addr, std::uint32_t expected, wait_reason why,
                 std::int64_t deadline) {
    bucket& b = bucket_for(addr);
    G* g = getg();
    sema_waiter w{addr, g};
    b.lock.lock();
    b.nwait.fetch_add(1, std::memory_order_acq_rel);
    if (addr->load(std::memory_order_acquire) != expected) {
        b.nwait.fetch_sub(1, std::memory_order_relaxed);
        b.lock.unlock();
        return true;
    }
    g->claim.store(claim_waiting, std::memory_order_relaxed);
    b.push(&w);
    // The bucket lock is released only once this G has stopped, so a waker
    // that finds w cannot ready it too early.
    if (park_until(unlock_bucket, &b, why, deadline)) return true;
    // Timed out. A waker may have unlinked w meanwhile; its claim then failed
    // and it did not count this waiter.
    b.lock.lock();
    if (w.linked) b.remove(&w);
    b.lock.unlock();
    return false;
}

int gfutex_wake(const std::atomic<std::uint32_t>* addr, int n) {
    bucket& b = bucket_for(addr);
    // The caller changed *addr before calling. This read-modify-write and the
    // waiter's increment of nwait are ordered one way or the other: either
    // it sees the waiter, or the waiter (acquiring through nwait) sees the
    // new *addr and does not sleep.
    if (n <= 0 || b.nwait.fetch_add(0, std::memory_order_acq_rel) == 0) return 0;
    // Claims are taken under the lock and the goroutines readied after it is
    // released (try_wake in two halves): a claimed waiter stays parked, and
    // its waiter record valid, until ready.
    sema_waiter* first = nullptr;
    sema_waiter** last = &first;
    int woken = 0;
    b.lock.lock();
    for (sema_waiter* w = b.head; w && woken < n;) {
        sema_waiter* next = w->next;
        if (w->addr == addr) {
            b.remove(w);
            std::uint32_t c = claim_waiting;
            if (w->g->claim.compare_exchange_strong(c, claim_woken, std::memory_order_acq_rel)) {
                w->next = nullptr;
                *last = w;
                last = &w->next;
                ++woken;
            }
        }
        w = next;
    }
    b.lock.unlock();
    while (first) {
        sema_waiter* w = first;
        first = w->next;
        ready(w->g);
    }
    return woken;
}

} // namespace rill::detail
