// Poll descriptors (mirrors the pollDesc half of Go's runtime/netpoll.go;
// see poll_desc.hpp for the contract).
//
// Lost wake-ups. Each direction has a `ready` flag and a list of waiters,
// both guarded by the descriptor's rt_lock. A waiter links itself and parks
// with that lock still held: park hands the unlock to the scheduler stack,
// which runs it only once the goroutine's context is saved. An event (or a
// close, or a deadline change) takes the lock, so it either comes before the
// waiter looked, and sets `ready`, which the waiter consumes instead of
// parking, or after the waiter has stopped, and finds it linked. The waker
// then claims the waiter (claim_waiting -> claim_woken) under the lock and
// readies it after unlocking; the deadline timer races for the same claim,
// so exactly one of them readies the goroutine. A waiter that timed out
// relocks the descriptor to unlink itself, which orders it after any waker
// that saw it linked, before its claim is reused by its next wait.
#include "poll_desc.hpp"

#include "lock.hpp"
#include "time.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <poll.h>
#include <unistd.h>

namespace rill::detail {

namespace {

struct io_waiter {
    G* g;
    io_waiter* prev = nullptr;
    io_waiter* next = nullptr;
    bool linked = false;
};

struct direction {
    bool ready = false; // an event came while nobody waited
    io_waiter* head = nullptr;
    // Written under the lock; read without it by pd_check.
    std::atomic<std::int64_t> deadline{INT64_MAX};

    void reset() noexcept {
        ready = false;
        head = nullptr;
        deadline.store(INT64_MAX, std::memory_order_relaxed);
    }

    void push(io_waiter* w) noexcept {
        w->prev = nullptr;
        w->next = head;
        if (head) head->prev = w;
        head = w;
        w->linked = true;
    }
    void remove(io_waiter* w) noexcept {
        (w->prev ? w->prev->next : head) = w->next;
        if (w->next) w->next->prev = w->prev;
        w->linked = false;
    }
    // Unlinks every waiter and claims those whose wait is still open,
    // pushing them on *list; returns how many it claimed.
    int wake_all(G** list) noexcept {
        int n = 0;
        while (io_waiter* w = head) {
            remove(w);
            std::uint32_t c = claim_waiting;
            if (w->g->claim.compare_exchange_strong(c, claim_woken, std::memory_order_acq_rel)) {
                w->g->schedlink = *list;
                *list = w->g;
                ++n;
            }
        }
        return n;
    }
};

// state: generation << 32 | closed_bit | references.
constexpr std::uint64_t closed_bit = 1ull << 31;
constexpr std::uint64_t ref_mask = closed_bit - 1;

} // namespace

struct poll_desc {
    rt_lock lock;
    int fd = -1;
    bool own_fd = true;
    std::atomic<bool> closing{false};
    direction rd, wr;
    std::atomic<std::uint64_t> state{0};
    poll_desc* next_free = nullptr;

    direction& dir(pd_mode m) noexcept { return m == pd_read ? rd : wr; }
};

namespace {

// Descriptors are recycled, never freed (see poll_desc.hpp).
rt_lock cache_lock;
poll_desc* cache = nullptr;

poll_desc* cache_get() {
    cache_lock.lock();
    poll_desc* pd = cache;
    if (pd) cache = pd->next_free;
    cache_lock.unlock();
    return pd ? pd : new poll_desc;
}

void cache_put(poll_desc* pd) noexcept {
    cache_lock.lock();
    pd->next_free = cache;
    cache = pd;
    cache_lock.unlock();
}

// The last reference is gone: nobody uses the fd any more.
void destroy(poll_desc* pd) noexcept {
    if (pd->own_fd) {
        ::close(pd->fd); // also leaves the epoll set
    } else {
        netpoll_close(pd->fd);
    }
    pd->lock.lock();
    pd->fd = -1;
    pd->rd.reset();
    pd->wr.reset();
    pd->lock.unlock();
    std::uint64_t s = pd->state.load(std::memory_order_relaxed);
    pd->state.store(((s >> 32) + 1) << 32, std::memory_order_release);
    cache_put(pd);
}

void unlock_pd(void* arg) { static_cast<poll_desc*>(arg)->lock.unlock(); }

// A waiter that timed out unlinks itself, ordered after any waker that saw
// it. Out of line: rt_lock counts locks in a thread_local, and inlined
// after park the compiler may reuse that variable's address from before the
// park, which belongs to the thread the goroutine ran on then.
[[gnu::noinline]] void unlink_timed_out(poll_desc* pd, direction& d, io_waiter& w) noexcept {
    pd->lock.lock();
    if (w.linked) d.remove(&w);
    pd->lock.unlock();
}

// A plain thread has no scheduler to park in and may run while no M polls,
// so it asks the kernel directly. It looks at closing between slices, which
// bounds how late a close from elsewhere is noticed.
pd_result thread_wait(poll_desc* pd, pd_mode mode) noexcept {
    constexpr std::int64_t slice_ns = 20'000'000;
    for (;;) {
        if (pd->closing.load(std::memory_order_acquire)) return pd_result::closed;
        pd->lock.lock();
        std::int64_t deadline = pd->dir(mode).deadline.load(std::memory_order_relaxed);
        pd->lock.unlock();
        std::int64_t left = deadline == INT64_MAX ? slice_ns : deadline - nanotime();
        if (left <= 0) return pd_result::timed_out;
        pollfd p{pd->fd, static_cast<short>(mode == pd_read ? POLLIN | POLLRDHUP : POLLOUT), 0};
        int ms = static_cast<int>((std::min(left, slice_ns) + 999'999) / 1'000'000);
        if (::poll(&p, 1, ms) > 0) return pd_result::ready;
    }
}

} // namespace

poll_desc* pd_open(int fd, bool own_fd, std::uint32_t* gen) noexcept {
    poll_desc* pd = cache_get();
    pd->fd = fd;
    pd->own_fd = own_fd;
    pd->closing.store(false, std::memory_order_relaxed);
    std::uint64_t s = pd->state.load(std::memory_order_relaxed) & ~(closed_bit | ref_mask);
    *gen = static_cast<std::uint32_t>(s >> 32);
    pd->state.store(s | 1, std::memory_order_release);
    if (int err = netpoll_open(fd, pd)) {
        pd->state.store(s | closed_bit, std::memory_order_relaxed);
        pd->fd = -1;
        cache_put(pd);
        errno = err;
        return nullptr;
    }
    return pd;
}

bool pd_acquire(poll_desc* pd, std::uint32_t gen) noexcept {
    std::uint64_t s = pd->state.load(std::memory_order_acquire);
    do {
        if ((s >> 32) != gen || (s & closed_bit)) return false;
    } while (!pd->state.compare_exchange_weak(s, s + 1, std::memory_order_acquire,
                                              std::memory_order_acquire));
    return true;
}

void pd_release(poll_desc* pd) noexcept {
    if (((pd->state.fetch_sub(1, std::memory_order_acq_rel) - 1) & ref_mask) == 0) destroy(pd);
}

bool pd_is_open(const poll_desc* pd, std::uint32_t gen) noexcept {
    std::uint64_t s = pd->state.load(std::memory_order_acquire);
    return (s >> 32) == gen && !(s & closed_bit);
}

bool pd_close(poll_desc* pd, std::uint32_t gen) noexcept {
    std::uint64_t s = pd->state.load(std::memory_order_acquire);
    do {
        if ((s >> 32) != gen || (s & closed_bit)) return false;
    } while (!pd->state.compare_exchange_weak(s, s | closed_bit, std::memory_order_acq_rel,
                                              std::memory_order_acquire));
    G* list = nullptr;
    pd->lock.lock();
    pd->closing.store(true, std::memory_order_release);
    pd->rd.wake_all(&list);
    pd->wr.wake_all(&list);
    pd->lock.unlock();
    pd_ready_list(list);
    pd_release(pd); // the owner's reference
    return true;
}

int pd_ready_list(G* list) noexcept {
    int n = 0;
    for (; G* g = list; ++n) {
        list = g->schedlink;
        g->schedlink = nullptr;
        ready(g);
    }
    return n;
}

pd_result pd_check(poll_desc* pd, pd_mode mode) noexcept {
    if (pd->closing.load(std::memory_order_acquire)) return pd_result::closed;
    std::int64_t deadline = pd->dir(mode).deadline.load(std::memory_order_relaxed);
    if (deadline != INT64_MAX && deadline <= nanotime()) return pd_result::timed_out;
    return pd_result::ready;
}

pd_result pd_wait(poll_desc* pd, pd_mode mode) noexcept {
    G* g = getg();
    if (g->is_thread) return thread_wait(pd, mode);
    direction& d = pd->dir(mode);
    pd->lock.lock();
    if (pd->closing.load(std::memory_order_relaxed)) {
        pd->lock.unlock();
        return pd_result::closed;
    }
    std::int64_t deadline = d.deadline.load(std::memory_order_relaxed);
    if (deadline != INT64_MAX && deadline <= nanotime()) {
        pd->lock.unlock();
        return pd_result::timed_out;
    }
    if (d.ready) {
        d.ready = false;
        pd->lock.unlock();
        return pd_result::ready;
    }
    io_waiter w{g};
    g->claim.store(claim_waiting, std::memory_order_relaxed);
    d.push(&w);
    netpoll_add_waiters(1);
    bool woken = park_until(
        unlock_pd, pd, mode == pd_read ? wait_reason::io_read : wait_reason::io_write, deadline);
    netpoll_add_waiters(-1);
    if (woken)
        return pd->closing.load(std::memory_order_acquire) ? pd_result::closed : pd_result::ready;
    unlink_timed_out(pd, d, w);
    return pd_result::timed_out;
}

void pd_set_deadline(poll_desc* pd, int modes, std::int64_t when) noexcept {
    G* list = nullptr;
    pd->lock.lock();
    for (pd_mode m : {pd_read, pd_write}) {
        if (!(modes & m)) continue;
        pd->dir(m).deadline.store(when, std::memory_order_relaxed);
        pd->dir(m).wake_all(&list);
    }
    pd->lock.unlock();
    pd_ready_list(list);
}

void pd_ready(poll_desc* pd, int modes, G** list) noexcept {
    pd->lock.lock();
    for (pd_mode m : {pd_read, pd_write}) {
        if (!(modes & m)) continue;
        // Waiters that timed out meanwhile do not take the event.
        direction& d = pd->dir(m);
        if (d.wake_all(list) == 0) d.ready = true;
    }
    pd->lock.unlock();
}

} // namespace rill::detail
