// select over channel cases (mirrors Go's runtime/select.go selectgo).
//
// Pass 0 shuffles the enabled cases into a random poll order and sorts them
// by channel address into the lock order, so that concurrent selects lock in
// one global order and each channel is locked once however many cases name
// it. Pass 1 takes the first ready case in poll order (first trying each
// case under its own lock alone, which is cheaper). Otherwise pass 2 queues
// a waiter on every case's channel and parks; whoever wins the goroutine's
// claim (a channel operation, a close or the deadline) ends the wait, and
// pass 3 dequeues the waiters that lost.
#include "hchan.hpp"
#include "sched.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>

namespace rill::detail {

namespace {

// wyrand, per thread: only the poll order depends on it, so a goroutine that
// migrates between threads mid-stream does no harm.
std::uint32_t cheaprandn(std::uint32_t n) noexcept {
    thread_local std::uint64_t state = 0;
    if (state == 0)
        state = static_cast<std::uint64_t>(nanotime()) ^ reinterpret_cast<std::uintptr_t>(&state);
    state += 0xa0761d6478bd642fULL;
    unsigned __int128 m = static_cast<unsigned __int128>(state) * (state ^ 0xe7037ed1a0b428dbULL);
    auto r = static_cast<std::uint32_t>(static_cast<std::uint64_t>(m >> 64) ^
                                        static_cast<std::uint64_t>(m));
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(r) * n) >> 32);
}

// Poll order, lock order and waiters of one select: on the stack for common
// sizes, so that a select allocates nothing.
class scratch {
public:
    explicit scratch(int n) {
        if (n <= inline_cases) {
            pollorder = inline_orders_;
            waiters = inline_waiters_;
        } else {
            heap_orders_ = std::make_unique_for_overwrite<int[]>(2 * static_cast<std::size_t>(n));
            heap_waiters_ =
                std::make_unique_for_overwrite<chan_waiter[]>(static_cast<std::size_t>(n));
            pollorder = heap_orders_.get();
            waiters = heap_waiters_.get();
        }
        lockorder = pollorder + n;
    }
    int* pollorder;
    int* lockorder;
    chan_waiter* waiters; // waiters[i] belongs to case lockorder[i]

private:
    static constexpr int inline_cases = 16;
    int inline_orders_[2 * inline_cases];
    chan_waiter inline_waiters_[inline_cases];
    std::unique_ptr<int[]> heap_orders_;
    std::unique_ptr<chan_waiter[]> heap_waiters_;
};

struct selection {
    select_case* cases;
    const int* lockorder;
    int n; // enabled cases
};

void sellock(const selection& s) noexcept {
    chan_core* prev = nullptr;
    for (int i = 0; i < s.n; ++i) {
        chan_core* c = s.cases[s.lockorder[i]].c;
        if (c != prev) c->lock.lock();
        prev = c;
    }
}

// Also the park() callback. Unlocks in reverse lock order; the selecting
// goroutine may resume once the last lock is released, and its frame holds
// *s, so nothing is read after that.
void selunlock(void* arg) {
    const auto* s = static_cast<const selection*>(arg);
    for (int i = s->n - 1; i >= 0; --i) {
        chan_core* c = s->cases[s->lockorder[i]].c;
        if (i > 0 && c == s->cases[s->lockorder[i - 1]].c) continue;
        c->lock.unlock();
    }
}

// Runs one case as a non-blocking operation (Go's selectnbsend and
// selectnbrecv); false if it was not ready.
bool try_case(select_case& sc) {
    if (sc.kind == select_case::send) return chan_send(sc.c, sc.elem, false);
    recv_result r = chan_recv(sc.c, sc.elem, false);
    sc.received = r.received;
    return r.selected;
}

} // namespace

int select_go(select_case* cases, int n, bool block, std::int64_t deadline) {
    preempt_check();
    // Go compiles a select of one case and a default to a non-blocking operation.
    if (!block && n == 1) return try_case(cases[0]) ? 0 : -1;

    scratch sx(n);
    // Pass 0: a uniformly random permutation of the enabled cases (inside-out
    // Fisher-Yates).
    int norder = 0;
    for (int i = 0; i < n; ++i) {
        if (!cases[i].c) continue;
        auto j = static_cast<int>(cheaprandn(static_cast<std::uint32_t>(norder + 1)));
        sx.pollorder[norder] = sx.pollorder[j];
        sx.pollorder[j] = i;
        ++norder;
    }
    if (norder == 0 && block && deadline == no_deadline) park_forever(wait_reason::select_no_cases);

    // Pass 1a (not in Go): each case alone, in poll order, locking only its
    // own channel and none at all for a case the lock-free checks find not
    // ready. Any case found ready may be taken; but cases found not ready one
    // at a time need not have been so at one moment, so concluding that
    // none is ready is left to the locked pass 1.
    for (int i = 0; i < norder; ++i)
        if (try_case(cases[sx.pollorder[i]])) return sx.pollorder[i];

    // Pass 0, continued: the lock order, by channel address.
    std::copy_n(sx.pollorder, norder, sx.lockorder);
    std::sort(sx.lockorder, sx.lockorder + norder,
              [cases](int a, int b) { return std::less<>{}(cases[a].c, cases[b].c); });
    selection sel{cases, sx.lockorder, norder};
    sellock(sel);

    // Pass 1: the first ready case in poll order.
    for (int i = 0; i < norder; ++i) {
        int k = sx.pollorder[i];
        select_case& sc = cases[k];
        chan_core* c = sc.c;
        G* wake = nullptr;
        if (sc.kind == select_case::recv) {
            sc.received = c->recv_now(sc.elem, wake);
            if (!sc.received && !c->is_closed()) continue;
        } else {
            if (c->is_closed()) {
                selunlock(&sel);
                throw_send_closed();
            }
            if (!c->send_now(sc.elem, wake)) continue;
        }
        selunlock(&sel);
        if (wake) ready(wake);
        return k;
    }
    if (!block || (deadline != no_deadline && deadline <= nanotime())) {
        selunlock(&sel);
        return block ? -2 : -1;
    }

    // Pass 2: wait on every case. The claim is reset before any waiter is
    // visible to a waker.
    G* g = getg();
    g->claim.store(claim_waiting, std::memory_order_relaxed);
    for (int i = 0; i < norder; ++i) {
        select_case& sc = cases[sx.lockorder[i]];
        chan_waiter* w = &sx.waiters[i];
        *w = chan_waiter{g, sc.elem, nullptr, nullptr, true, false};
        (sc.kind == select_case::recv ? sc.c->recvq : sc.c->sendq).enqueue(w);
    }
    if (deadline == no_deadline)
        park(selunlock, &sel, wait_reason::select);
    else if (norder > 0)
        park_until(selunlock, &sel, wait_reason::select, deadline);
    else
        // Only the deadline: no lock holds this goroutine back once its
        // timer is armed, so the unlock must not read sel (see park_until).
        park_until([](void*) {}, nullptr, wait_reason::select, deadline);

    // Pass 3: whoever won the claim decided the outcome (its waker already
    // dequeued the winning waiter); withdraw the rest.
    chan_waiter* win = g->claim.load(std::memory_order_acquire) == claim_woken
                           ? static_cast<chan_waiter*>(g->param)
                           : nullptr;
    sellock(sel);
    for (int i = 0; i < norder; ++i) {
        if (&sx.waiters[i] == win) continue;
        select_case& sc = cases[sx.lockorder[i]];
        (sc.kind == select_case::recv ? sc.c->recvq : sc.c->sendq).remove(&sx.waiters[i]);
    }
    selunlock(&sel);
    g->param = nullptr;
    if (!win) return -2;

    int k = sx.lockorder[win - sx.waiters];
    select_case& sc = cases[k];
    if (sc.kind == select_case::send) {
        if (!win->success) throw_send_closed();
    } else {
        sc.received = win->success;
    }
    return k;
}

} // namespace rill::detail
