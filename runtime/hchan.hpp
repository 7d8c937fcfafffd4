// Channel internals shared by chan.cpp and select.cpp (mirrors hchan, waitq
// and sudog of Go's runtime/chan.go and runtime2.go).
//
// Locking: every field below the lock is guarded by chan_core::lock, except
// that the lock-free fast paths of non-blocking operations, chan_len and
// chan_closed read qcount, closed and waitq::first without it (hence atomics,
// written with relaxed stores under the lock).
//
// Memory ordering (the promises of <rill/chan.hpp>): a value moves, and a
// close is seen, under the lock, whose release and acquire order the two
// sides; a waiter is handed its value (or the close) under the lock before
// it is readied, and ready() orders what precedes it before the G resumes
// (run queue or thread_wake, release then acquire). The lock-free fast paths
// conclude only "not ready", which promises nothing, except a non-blocking
// receive's "closed and drained": closed is stored with release under the
// lock and read with acquire there and by chan_closed, so the close comes
// before it. chan_len reads qcount relaxed and promises nothing.
//
// Waiting: a blocked operation puts a waiter (Go's sudog) on its own stack
// into recvq or sendq. A select, which waits on several channels and maybe a
// deadline, sets g->claim = claim_waiting before enqueuing; a waker that
// dequeues a select's waiter must win that claim before it touches the waiter
// (see g.hpp), so a select that won on another channel or timed out is
// skipped. A plain send or receive waits on one channel only, so whoever
// dequeues its waiter owns it, and no atomic operation is spent (as in Go).
// A dequeued waiter is left with null links, which waitq::remove recognises
// as "not queued".
#pragma once

#include "g.hpp"
#include "lock.hpp"

#include <rill/detail/chan_core.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace rill::detail {

struct chan_waiter {
    G* g;
    void* elem; // send: the value to move from; recv: storage to construct into
    chan_waiter* next;
    chan_waiter* prev;
    bool is_select; // ended by whoever wins g->claim
    bool success;   // set by the waker: true when a value moved, false when closed
};

// FIFO of waiters (Go's waitq).
class waitq {
public:
    // The oldest waiter; without the lock only a hint (the fast paths' "empty").
    chan_waiter* front() const noexcept { return first_.load(std::memory_order_acquire); }
    bool empty() const noexcept { return front() == nullptr; }

    void enqueue(chan_waiter* w) noexcept {
        w->next = nullptr;
        w->prev = last_;
        if (last_)
            last_->next = w;
        else
            first_.store(w, std::memory_order_relaxed);
        last_ = w;
    }

    // Unlinks waiters from the front until one the caller may wake (a plain
    // operation's, or a select's whose claim the caller wins); nullptr when
    // none is left.
    chan_waiter* dequeue() noexcept {
        for (;;) {
            chan_waiter* w = first_.load(std::memory_order_relaxed);
            if (!w) return nullptr;
            chan_waiter* n = w->next;
            if (n)
                n->prev = nullptr;
            else
                last_ = nullptr;
            first_.store(n, std::memory_order_relaxed);
            w->next = nullptr;
            if (!w->is_select) return w;
            std::uint32_t expected = claim_waiting;
            if (w->g->claim.compare_exchange_strong(expected, claim_woken,
                                                    std::memory_order_acq_rel))
                return w;
        }
    }

    // Unlinks w if it is still queued (a select's cleanup of its losing cases).
    void remove(chan_waiter* w) noexcept {
        chan_waiter* p = w->prev;
        chan_waiter* n = w->next;
        if (!p && !n && first_.load(std::memory_order_relaxed) != w) return;
        if (p)
            p->next = n;
        else
            first_.store(n, std::memory_order_relaxed);
        if (n)
            n->prev = p;
        else
            last_ = p;
        w->next = w->prev = nullptr;
    }

private:
    std::atomic<chan_waiter*> first_{nullptr};
    chan_waiter* last_ = nullptr;
};

struct alignas(64) chan_core {
    chan_core(const elem_ops* o, std::size_t capacity, char* buffer) noexcept
        : dataqsiz(capacity), buf(buffer), ops(o) {}

    rt_lock lock;
    std::atomic<std::uint32_t> closed{0};
    std::atomic<std::size_t> qcount{0}; // values in buf
    const std::size_t dataqsiz;         // capacity of buf
    char* const buf;                    // ring of dataqsiz slots, in the same allocation
    const elem_ops* const ops;
    std::size_t sendx = 0; // next slot to fill
    std::size_t recvx = 0; // next slot to take
    waitq recvq;           // blocked receivers
    waitq sendq;           // blocked senders
    std::atomic<std::uint32_t> refs{1};

    void* slot(std::size_t i) const noexcept { return buf + i * ops->size; }

    // Not ready for a send / a receive; read without the lock by fast paths.
    bool full() const noexcept {
        if (dataqsiz == 0) return recvq.empty();
        return qcount.load(std::memory_order_acquire) == dataqsiz;
    }
    bool empty() const noexcept {
        if (dataqsiz == 0) return sendq.empty();
        return qcount.load(std::memory_order_acquire) == 0;
    }

    // The operations below run under lock.

    void buf_push(void* src) noexcept {
        ops->move_construct(slot(sendx), src);
        if (++sendx == dataqsiz) sendx = 0;
        qcount.store(qcount.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    void buf_pop(void* dst) noexcept {
        void* s = slot(recvx);
        ops->move_construct(dst, s);
        ops->destroy(s);
        if (++recvx == dataqsiz) recvx = 0;
        qcount.store(qcount.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    }

    bool is_closed() const noexcept { return closed.load(std::memory_order_relaxed); }

    // Completes a send at once if a receiver waits (handing it src) or the
    // buffer has room; false if neither. A receiver to ready() once the lock
    // is released is left in wake_g. The caller has checked is_closed().
    bool send_now(void* src, G*& wake_g) noexcept {
        if (chan_waiter* r = recvq.dequeue()) {
            ops->move_construct(r->elem, src);
            wake_g = wake(r, true);
            return true;
        }
        if (qcount.load(std::memory_order_relaxed) == dataqsiz) return false;
        buf_push(src);
        return true;
    }

    // Completes a receive at once if a sender waits or the buffer holds a
    // value; false if neither (then is_closed() tells whether it ever will).
    // With a waiting sender, an unbuffered channel takes its value directly;
    // a buffered one is full, so the head goes to dst and the sender's value
    // takes the freed slot at the tail, keeping FIFO order. A sender to
    // ready() once the lock is released is left in wake_g.
    bool recv_now(void* dst, G*& wake_g) noexcept {
        if (chan_waiter* s = sendq.dequeue()) {
            if (dataqsiz == 0) {
                ops->move_construct(dst, s->elem);
            } else {
                void* head = slot(recvx);
                ops->move_construct(dst, head);
                ops->destroy(head);
                ops->move_construct(head, s->elem);
                if (++recvx == dataqsiz) recvx = 0;
                sendx = recvx;
            }
            wake_g = wake(s, true);
            return true;
        }
        if (qcount.load(std::memory_order_relaxed) == 0) return false;
        buf_pop(dst);
        return true;
    }

    static G* wake(chan_waiter* w, bool success) noexcept {
        w->success = success;
        G* g = w->g;
        g->param = w;
        return g;
    }
};

// park() callback releasing one channel's lock.
inline void unlock_chan(void* c) { static_cast<chan_core*>(c)->lock.unlock(); }

// Parks the calling goroutine (or thread) forever: Go's block on a nil channel.
[[noreturn]] void park_forever(wait_reason why);

// Go's panic "send on closed channel".
[[noreturn]] void throw_send_closed();

} // namespace rill::detail
