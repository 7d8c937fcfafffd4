// Channel operations (mirrors Go's runtime/chan.go): make, send, receive,
// close, len and cap over the type-erased chan_core of hchan.hpp.
#include "hchan.hpp"
#include "sched.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <new>
#include <stdexcept>
#include <utility>

namespace rill::detail {

namespace {

// Where the ring buffer starts inside the channel's single allocation.
std::size_t buf_offset(const elem_ops* ops) noexcept {
    return (sizeof(chan_core) + ops->align - 1) / ops->align * ops->align;
}
std::size_t alloc_align(const elem_ops* ops) noexcept {
    return std::max(alignof(chan_core), ops->align);
}

// A channel starts on a cache line of its own (chan_core is alignas(64)).
// operator new with that alignment is glibc's memalign, which carves the
// block out of a larger free chunk and costs several times a plain
// allocation (8% of a supervisor's restart storm); so the channel takes a
// plain block one alignment larger, starts at the first aligned address past
// its start, and keeps the block's address just below itself. Plain blocks
// are aligned to 16 bytes, so there is always room for it.
static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= sizeof(void*));
void* alloc_aligned(std::size_t size, std::size_t align) {
    auto* block = static_cast<char*>(::operator new(size + align));
    auto addr = (reinterpret_cast<std::uintptr_t>(block) + align) & ~(align - 1);
    auto* mem = reinterpret_cast<void*>(addr);
    reinterpret_cast<void**>(mem)[-1] = block;
    return mem;
}
void free_aligned(void* mem) noexcept { ::operator delete(static_cast<void**>(mem)[-1]); }

void no_unlock(void*) {}

} // namespace

void throw_send_closed() { throw closed_channel_error("send on closed channel"); }

void park_forever(wait_reason why) {
    for (;;)
        park(no_unlock, nullptr, why);
}

chan_core* chan_make(const elem_ops* ops, std::size_t capacity) {
    std::size_t off = buf_offset(ops);
    if (capacity > (std::numeric_limits<std::size_t>::max() - off - alloc_align(ops)) / ops->size)
        throw std::length_error("chan_make: capacity out of range");
    void* mem = alloc_aligned(off + capacity * ops->size, alloc_align(ops));
    return new (mem) chan_core(ops, capacity, static_cast<char*>(mem) + off);
}

void chan_retain(chan_core* c) noexcept { c->refs.fetch_add(1, std::memory_order_relaxed); }

void chan_release(chan_core* c) noexcept {
    if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    const elem_ops* ops = c->ops;
    for (std::size_t i = 0, n = c->qcount.load(std::memory_order_relaxed); i < n; ++i)
        ops->destroy(c->slot((c->recvx + i) % c->dataqsiz));
    c->~chan_core();
    free_aligned(c);
}

bool chan_send(chan_core* c, void* src, bool block) {
    preempt_check();
    if (!c) {
        if (!block) return false;
        park_forever(wait_reason::chan_nil);
    }
    // Fast path: an open channel that is not ready for sending. Observing
    // "open" and then "full" implies a moment when it was both, since a
    // closed channel never reopens.
    if (!block && !c->closed.load(std::memory_order_acquire) && c->full()) return false;

    c->lock.lock();
    if (c->is_closed()) {
        c->lock.unlock();
        throw_send_closed();
    }
    G* wake = nullptr;
    if (c->send_now(src, wake)) {
        c->lock.unlock();
        if (wake) ready(wake);
        return true;
    }
    if (!block) {
        c->lock.unlock();
        return false;
    }
    chan_waiter w{getg(), src, nullptr, nullptr, false, false};
    c->sendq.enqueue(&w);
    park(unlock_chan, c, wait_reason::chan_send);
    if (!w.success) throw_send_closed();
    return true;
}

recv_result chan_recv(chan_core* c, void* dst, bool block) {
    preempt_check();
    if (!c) {
        if (!block) return {false, false};
        park_forever(wait_reason::chan_nil);
    }
    // Fast path: nothing to receive. Emptiness is observed before
    // closedness: "still open" then implies a moment when the channel was
    // open and empty; once closed, it is drained for good if it is empty
    // after the close was seen.
    if (!block && c->empty()) {
        if (!c->closed.load(std::memory_order_acquire)) return {false, false};
        if (c->empty()) return {true, false};
    }

    c->lock.lock();
    G* wake = nullptr;
    if (c->recv_now(dst, wake)) {
        c->lock.unlock();
        if (wake) ready(wake);
        return {true, true};
    }
    if (bool closed = c->is_closed(); closed || !block) {
        c->lock.unlock();
        return {closed, false};
    }
    chan_waiter w{getg(), dst, nullptr, nullptr, false, false};
    c->recvq.enqueue(&w);
    park(unlock_chan, c, wait_reason::chan_recv);
    return {true, w.success};
}

void chan_close(chan_core* c) {
    if (!c) throw closed_channel_error("close of nil channel");
    c->lock.lock();
    if (c->is_closed()) {
        c->lock.unlock();
        throw closed_channel_error("close of closed channel");
    }
    c->closed.store(1, std::memory_order_release);
    // Collect every waiter (their next links are free once dequeued) and
    // ready them after unlocking, as Go does with its glist.
    chan_waiter* woken = nullptr;
    for (waitq* q : {&c->recvq, &c->sendq}) {
        while (chan_waiter* w = q->dequeue()) {
            chan_core::wake(w, false);
            w->next = woken;
            woken = w;
        }
    }
    c->lock.unlock();
    while (woken) {
        // The waiter lives on its goroutine's stack: finish with it, leaving
        // the null links of a dequeued waiter, before the goroutine runs.
        chan_waiter* w = std::exchange(woken, woken->next);
        w->next = nullptr;
        ready(w->g);
    }
}

std::size_t chan_len(const chan_core* c) noexcept {
    return c ? c->qcount.load(std::memory_order_relaxed) : 0;
}

std::size_t chan_cap(const chan_core* c) noexcept { return c ? c->dataqsiz : 0; }

bool chan_closed(const chan_core* c) noexcept {
    return c && c->closed.load(std::memory_order_acquire);
}

} // namespace rill::detail
