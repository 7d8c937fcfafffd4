// The G/M/P scheduler (mirrors Go's runtime/proc.go): run, go, schedule,
// findrunnable, work stealing, spinning Ms, park/ready, and the processor
// count. See g.hpp for the parking protocol.
//
// Each M (OS thread) runs schedule() on its own thread stack ("g0") and
// switches into goroutines from there; a goroutine that blocks, yields or
// exits switches back to g0, which then finishes the job (releases the lock
// the goroutine parked under, frees its stack) — only after the goroutine's
// context is saved, so no waker can run it early.
#include "context.hpp"
#include "debug.hpp"
#include "g.hpp"
#include "netpoll.hpp"
#include "preempt.hpp"
#include "sched.hpp"
#include "signals.hpp"
#include "stack.hpp"
#include "sysmon.hpp"
#include "time.hpp"

#include <rill/detail/chan_core.hpp>

#include "log.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <thread>

#if defined(RILL_SANITIZE_ADDRESS)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(RILL_SANITIZE_THREAD)
#include <sanitizer/tsan_interface.h>
#endif

extern "C" rill_eh_globals* __cxa_get_globals() noexcept;

extern "C" {
thread_local rill::detail::M* rill_tls_m = nullptr;
}

namespace rill::detail {

sched_t& sched = *new sched_t; // never destroyed: goroutines may outlive main

namespace {

G* thread_g() {
    struct stand_in {
        G g;
        stand_in() { g.is_thread = true; }
    };
    thread_local stand_in t;
    return &t.g;
}

// ---- random numbers (per M, no locking) -------------------------------------

std::uint32_t fastrand(M* m) {
    m->rand ^= m->rand << 13;
    m->rand ^= m->rand >> 7;
    m->rand ^= m->rand << 17;
    return static_cast<std::uint32_t>(m->rand >> 16);
}

// ---- run queues (Go's runqput / runqget / runqgrab / runqsteal) ------------

void globrunqput_batch(G* head, G* tail, int n) {
    tail->schedlink = nullptr;
    if (sched.runq_tail)
        sched.runq_tail->schedlink = head;
    else
        sched.runq_head = head;
    sched.runq_tail = tail;
    sched.runqsize.fetch_add(n, std::memory_order_relaxed);
}

void globrunqput(G* g) { globrunqput_batch(g, g, 1); }

bool runqputslow(P* p, G* g, std::uint32_t h, std::uint32_t t) {
    G* batch[runq_size / 2 + 1];
    std::uint32_t n = (t - h) / 2;
    for (std::uint32_t i = 0; i < n; ++i)
        batch[i] = p->runq[(h + i) % runq_size].load(std::memory_order_relaxed);
    if (!p->runqhead.compare_exchange_strong(h, h + n, std::memory_order_release,
                                             std::memory_order_relaxed))
        return false;
    batch[n] = g;
    for (std::uint32_t i = 0; i < n; ++i)
        batch[i]->schedlink = batch[i + 1];
    sched.lock.lock();
    globrunqput_batch(batch[0], batch[n], static_cast<int>(n + 1));
    sched.lock.unlock();
    return true;
}

void runqput(P* p, G* g, bool next) {
    if (next) {
        g = p->runnext.exchange(g, std::memory_order_acq_rel);
        if (!g) return;
    }
    for (;;) {
        std::uint32_t h = p->runqhead.load(std::memory_order_acquire);
        std::uint32_t t = p->runqtail.load(std::memory_order_relaxed);
        if (t - h < runq_size) {
            p->runq[t % runq_size].store(g, std::memory_order_relaxed);
            p->runqtail.store(t + 1, std::memory_order_release);
            return;
        }
        if (runqputslow(p, g, h, t)) return;
    }
}

G* timerq_get(P* p) {
    G* g = p->timerq_head;
    if (g) {
        p->timerq_head = g->schedlink;
        if (!p->timerq_head) p->timerq_tail = nullptr;
    }
    return g;
}

void timerq_put(P* p, G* g) {
    g->schedlink = nullptr;
    if (p->timerq_tail)
        p->timerq_tail->schedlink = g;
    else
        p->timerq_head = g;
    p->timerq_tail = g;
}

// Takes p's next goroutine. *inherit (if given) says whether it inherits the
// current time slice (Go's inheritTime): a goroutine readied by the one
// that ran before it (runnext), or by a timer meanwhile (timerq, which Go
// puts in runnext too), continues that one's turn. So two goroutines
// handing work back and forth count as one that runs on, and sysmon
// preempts them after a slice like any other. Were each hop a new slice —
// or each sleeper's wake-up in between — such a pair would keep its
// processor for ever.
// sysmon ends a slice by flagging the P as well as the goroutine (see
// preemptone): the goroutine may park before it sees its own flag, and its
// partner in runnext would then carry the slice on; with the P flagged,
// runnext goes to the back of the queue instead.
G* runqget(P* p, bool* inherit = nullptr) {
    if (G* g = timerq_get(p)) {
        if (inherit) *inherit = true;
        return g;
    }
    if (inherit) *inherit = false;
    G* next = p->runnext.load(std::memory_order_relaxed);
    if (next && p->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
        if (!inherit || !p->slice_over.load(std::memory_order_relaxed)) {
            if (inherit) *inherit = true;
            return next;
        }
        runqput(p, next, false);
    }
    for (;;) {
        std::uint32_t h = p->runqhead.load(std::memory_order_acquire);
        std::uint32_t t = p->runqtail.load(std::memory_order_relaxed);
        if (t == h) return nullptr;
        G* g = p->runq[h % runq_size].load(std::memory_order_relaxed);
        if (p->runqhead.compare_exchange_strong(h, h + 1, std::memory_order_release,
                                                std::memory_order_relaxed))
            return g;
    }
}

} // namespace

bool runqempty(P* p) {
    std::uint32_t h = p->runqhead.load(std::memory_order_acquire);
    std::uint32_t t = p->runqtail.load(std::memory_order_acquire);
    return h == t && !p->runnext.load(std::memory_order_acquire);
}

namespace {

// Takes half of p's queue into batch (a ring) starting at batch_head.
std::uint32_t runqgrab(P* p, std::atomic<G*>* batch, std::uint32_t batch_head, bool steal_next) {
    for (;;) {
        std::uint32_t h = p->runqhead.load(std::memory_order_acquire);
        std::uint32_t t = p->runqtail.load(std::memory_order_acquire);
        std::uint32_t n = t - h;
        n -= n / 2;
        if (n == 0) {
            if (steal_next) {
                if (G* next = p->runnext.load(std::memory_order_acquire)) {
                    if (p->status == P::running) {
                        // The owner is likely about to run it (it was just
                        // readied, as in ping-pong); give it a moment.
                        usleep(3);
                    }
                    if (p->runnext.compare_exchange_strong(next, nullptr,
                                                           std::memory_order_acq_rel)) {
                        batch[batch_head % runq_size].store(next, std::memory_order_relaxed);
                        return 1;
                    }
                }
            }
            return 0;
        }
        if (n > runq_size / 2) continue; // read an inconsistent h and t
        for (std::uint32_t i = 0; i < n; ++i)
            batch[(batch_head + i) % runq_size].store(
                p->runq[(h + i) % runq_size].load(std::memory_order_relaxed),
                std::memory_order_relaxed);
        if (p->runqhead.compare_exchange_strong(h, h + n, std::memory_order_release,
                                                std::memory_order_relaxed))
            return n;
    }
}

G* runqsteal(P* p, P* victim, bool steal_next) {
    std::uint32_t t = p->runqtail.load(std::memory_order_relaxed);
    std::uint32_t n = runqgrab(victim, p->runq, t, steal_next);
    if (n == 0) return nullptr;
    p->steals.store(p->steals.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    --n;
    G* g = p->runq[(t + n) % runq_size].load(std::memory_order_relaxed);
    if (n) p->runqtail.store(t + n, std::memory_order_release);
    return g;
}

// With sched.lock held: takes a fair share of the global queue, keeping one
// to run and moving the rest to p's local queue.
G* globrunqget(P* p, int max) {
    int size = sched.runqsize.load(std::memory_order_relaxed);
    if (size == 0) return nullptr;
    int n = std::min(size, size / sched.gomaxprocs.load(std::memory_order_relaxed) + 1);
    if (max > 0 && n > max) n = max;
    n = std::min<int>(n, runq_size / 2);
    sched.runqsize.fetch_sub(n, std::memory_order_relaxed);
    G* g = sched.runq_head;
    sched.runq_head = g->schedlink;
    for (int i = 1; i < n; ++i) {
        G* g1 = sched.runq_head;
        sched.runq_head = g1->schedlink;
        runqput(p, g1, false);
    }
    if (!sched.runq_head) sched.runq_tail = nullptr;
    return g;
}

// ---- idle P and M lists (sched.lock held, except pidleget) --------------------

void pidleput(P* p) {
    if (p->id >= sched.gomaxprocs.load(std::memory_order_relaxed)) {
        // Retired by set_maxprocs: its timers go to processor 0.
        p->status = P::dead;
        timers_move(p->timers, sched.allp[0]->timers);
        return;
    }
    p->status = P::idle;
    p->link = sched.pidle;
    sched.pidle = p;
    sched.npidle.fetch_add(1, std::memory_order_release);
}

// An idle P, or null; with sched.lock held.
P* pidleget_nolock() {
    P* p = sched.pidle;
    if (p) {
        sched.pidle = p->link;
        sched.npidle.fetch_sub(1, std::memory_order_release);
        p->status = P::running;
    }
    return p;
}

// An idle P, or null (takes sched.lock).
P* pidleget() {
    sched.lock.lock();
    P* p = pidleget_nolock();
    sched.lock.unlock();
    return p;
}

namespace {
// Binds p to m (Go's wirep), leaving p's time slice as it was.
void wirep(M* m, P* p) {
    m->p = p;
    p->m.store(m, std::memory_order_release);
    p->status = P::running;
}
} // namespace

void acquirep(M* m, P* p) {
    wirep(m, p);
    // A P taken up again starts a new slice, whatever it runs first: sysmon
    // must not count its idle time as running time.
    p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sysmon_work_started();
}

P* releasep(M* m) {
    P* p = m->p;
    m->p = nullptr;
    p->m.store(nullptr, std::memory_order_relaxed);
    return p;
}

void notewakeup(M* m) {
    m->park.store(1, std::memory_order_release);
    futex_wake(&m->park, 1);
}

void mstart(M* m);

void newm(P* p, bool spinning) {
    auto* m = new M;
    m->id = sched.mcount.fetch_add(1) + 1;
    m->rand = 0x9E3779B97F4A7C15ULL ^ (m->id * 0xBF58476D1CE4E5B9ULL);
    m->nextp = p;
    m->spinning = spinning;
    start_thread(
        [](void* arg) -> void* {
            mstart(static_cast<M*>(arg));
            return nullptr;
        },
        m, "a scheduler thread", true);
}

// Runs p on some M: an idle one, or a new one.
void startm(P* p, bool spinning) {
    sched.lock.lock();
    if (!p) {
        p = pidleget_nolock();
        if (!p) {
            sched.lock.unlock();
            if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_acq_rel);
            return;
        }
    }
    M* m = sched.midle;
    if (m) sched.midle = m->schedlink;
    sched.lock.unlock();
    if (!m) return newm(p, spinning);
    m->spinning = spinning;
    m->nextp = p;
    notewakeup(m);
}

// Starts one spinning M if a P is idle and nobody is already looking for work.
void wakep() {
    if (sched.npidle.load(std::memory_order_acquire) == 0) return;
    std::int32_t z = 0;
    if (sched.nmspinning.load(std::memory_order_relaxed) != 0 ||
        !sched.nmspinning.compare_exchange_strong(z, 1, std::memory_order_acq_rel))
        return;
    startm(nullptr, true);
}

// Sleeps until notewakeup, then takes the P it was handed in m->nextp.
void wait_for_p(M* m) {
    while (m->park.load(std::memory_order_acquire) == 0)
        futex_wait(&m->park, 0);
    m->park.store(0, std::memory_order_relaxed);
    acquirep(m, m->nextp);
    m->nextp = nullptr;
}

// Parks the M until startm hands it a P.
void stopm(M* m) {
    sched.lock.lock();
    m->schedlink = sched.midle;
    sched.midle = m;
    sched.lock.unlock();
    wait_for_p(m);
}

void resetspinning(M* m) {
    m->spinning = false;
    if (sched.nmspinning.fetch_sub(1, std::memory_order_acq_rel) == 1) wakep();
}

} // namespace

G* poll_io(std::int64_t delay_ns) {
    G* list = netpoll(delay_ns);
    sched.lastpoll.store(nanotime(), std::memory_order_relaxed);
    return list;
}

G* inject_glist(G* list, P* p) {
    if (!list) return nullptr;
    // One walk: mark each runnable, count them, and find the tail.
    G* tail = list;
    int n = 1;
    for (;; tail = tail->schedlink, ++n) {
        casgstatus(tail, gstatus::waiting, gstatus::runnable);
        if (!tail->schedlink) break;
    }
    sched.netpoll_wakeups.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    if (p) {
        G* first = list;
        for (G* g = first->schedlink; g;) {
            G* next = g->schedlink;
            runqput(p, g, false);
            g = next;
        }
        // One more M is enough: if it finds work it wakes the next in turn
        // (resetspinning), rather than one thread per goroutine.
        if (n > 1) wakep();
        first->schedlink = nullptr;
        return first;
    }
    sched.lock.lock();
    globrunqput_batch(list, tail, n);
    sched.lock.unlock();
    for (int i = 0; i < n && sched.npidle.load(std::memory_order_acquire) > 0; ++i)
        startm(nullptr, false);
    return nullptr;
}

bool start_thread(void* (*fn)(void*), void* arg, const char* what, bool fatal) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    // The thread starts with every signal blocked, whatever the mask of the
    // thread starting it (sysmon's, an M's inside a signal handler), and sets
    // its own (signals_thread_start), as Go's newosproc and minit do.
    sigset_t mask = signals_block_all();
    int rc = pthread_create(&th, &attr, fn, arg);
    signals_restore(mask);
    pthread_attr_destroy(&attr);
    if (rc == 0) return true;
    if (!fatal) {
        runtime_log().warn("rill: cannot start {}: {}", what, std::strerror(rc));
        return false;
    }
    runtime_log().critical("rill: cannot start {}: {}", what, std::strerror(rc));
    std::_Exit(2);
}

void handoffp(P* p) {
    if (!runqempty(p) || p->timerq_head || sched.runqsize.load(std::memory_order_relaxed) > 0)
        return startm(p, false);
    // No work of its own; look for some elsewhere only if nobody else is.
    std::int32_t z = 0;
    if (sched.nmspinning.load(std::memory_order_relaxed) +
                sched.npidle.load(std::memory_order_relaxed) ==
            0 &&
        sched.nmspinning.compare_exchange_strong(z, 1, std::memory_order_acq_rel))
        return startm(p, true);
    sched.lock.lock();
    if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
        sched.lock.unlock();
        return startm(p, false);
    }
    pidleput(p);
    sched.lock.unlock();
    // Its timers still need a poller to wait for them.
    std::int64_t next = p->timers.next.load(std::memory_order_acquire);
    if (next != INT64_MAX) timers_changed(next);
}

namespace {

// ---- free G cache ---------------------------------------------------------

void gfput(P* p, G* g) {
    g->schedlink = p->gfree;
    p->gfree = g;
    if (++p->ngfree < 64) return;
    // Hand half to the global list.
    G* head = p->gfree;
    G* tail = head;
    for (int i = 1; i < 32; ++i)
        tail = tail->schedlink;
    p->gfree = tail->schedlink;
    p->ngfree -= 32;
    sched.gflock.lock();
    tail->schedlink = sched.gfree.load(std::memory_order_relaxed);
    sched.gfree.store(head, std::memory_order_relaxed);
    sched.gflock.unlock();
}

G* gfget(P* p) {
    if (!p->gfree && sched.gfree.load(std::memory_order_relaxed)) {
        sched.gflock.lock();
        for (int i = 0; i < 32 && sched.gfree.load(std::memory_order_relaxed); ++i) {
            G* g = sched.gfree.load(std::memory_order_relaxed);
            sched.gfree.store(g->schedlink, std::memory_order_relaxed);
            g->schedlink = p->gfree;
            p->gfree = g;
            ++p->ngfree;
        }
        sched.gflock.unlock();
    }
    G* g = p->gfree;
    if (g) {
        p->gfree = g->schedlink;
        --p->ngfree;
    }
    return g;
}

// ---- context switches -------------------------------------------------------

void eh_save(M* m, G* g) {
    rill_eh_globals* eh = m->eh;
    g->eh_caught = eh->caught;
    g->eh_uncaught = eh->uncaught;
    eh->caught = nullptr;
    eh->uncaught = 0;
}

void eh_load(M* m, G* g) {
    rill_eh_globals* eh = m->eh;
    eh->caught = g->eh_caught;
    eh->uncaught = g->eh_uncaught;
}

[[noreturn]] void fatal_canary(G* g) {
    runtime_log().critical(
        "rill: fatal: stack overflow in goroutine {} \"{}\" (unguarded stack of {} "
        "bytes; its canary was overwritten)",
        g->id, g->name, g->stk.reserve());
    runtime_log().flush();
    std::_Exit(2);
}

// On g0: runs g until it switches back.
void switch_to_g(M* m, G* g) {
    eh_load(m, g);
#if defined(RILL_SANITIZE_ADDRESS)
    __sanitizer_start_switch_fiber(&m->asan_fake_stack, g->stk.lo, g->stk.reserve());
#endif
#if defined(RILL_SANITIZE_THREAD)
    if (!g->tsan_fiber) g->tsan_fiber = __tsan_create_fiber(0);
    __tsan_switch_to_fiber(g->tsan_fiber, 0);
#endif
    rill_switch(&m->g0_sp, g->sp);
#if defined(RILL_SANITIZE_ADDRESS)
    __sanitizer_finish_switch_fiber(m->asan_fake_stack, nullptr, nullptr);
#endif
    (void)m;
}

// On g: switches to the current M's g0 with the given action. Returns when g
// is resumed, possibly on another M.
__attribute__((noinline)) void mcall(M::action_t a) {
    M* m = current_m();
    G* g = m->curg.load(std::memory_order_relaxed);
    m->action = a;
    eh_save(m, g);
#if defined(RILL_SANITIZE_ADDRESS)
    __sanitizer_start_switch_fiber(a == M::act_exit ? nullptr : &g->asan_fake_stack, m->g0_stack_lo,
                                   m->g0_stack_size);
#endif
#if defined(RILL_SANITIZE_THREAD)
    __tsan_switch_to_fiber(m->tsan_g0, 0);
#endif
    rill_switch(&g->sp, m->g0_sp);
#if defined(RILL_SANITIZE_ADDRESS)
    __sanitizer_finish_switch_fiber(g->asan_fake_stack, nullptr, nullptr);
#endif
}

// ---- scheduling ---------------------------------------------------------------

void run_timers_if_due(M* m, P* p, std::int64_t& now, std::int64_t& poll_until) {
    std::int64_t next = p->timers.next.load(std::memory_order_acquire);
    if (next == INT64_MAX) return;
    if (now == 0) now = nanotime();
    if (next <= now) {
        m->in_timers = true;
        next = timers_run(p->timers, now);
        m->in_timers = false;
    }
    poll_until = std::min(poll_until, next);
}

G* steal_work(M* m, P* p, std::int64_t& now, std::int64_t& poll_until) {
    int n = sched.nallp.load(std::memory_order_acquire);
    for (int round = 0; round < 4; ++round) {
        bool last = round == 3;
        std::uint32_t off = fastrand(m);
        for (int k = 0; k < n; ++k) {
            P* victim = sched.allp[(off + k) % n];
            if (victim == p) continue;
            if (last) {
                // Run the victim's due timers here: its M may be busy or gone.
                run_timers_if_due(m, victim, now, poll_until);
                if (G* g = runqget(p)) return g;
            }
            if (G* g = runqsteal(p, victim, last)) return g;
        }
    }
    return nullptr;
}

// Hands a retired processor's goroutines and timers on.
void retire_p(M* m) {
    P* p = m->p;
    sched.lock.lock();
    while (G* g = runqget(p))
        globrunqput(g);
    releasep(m);
    pidleput(p); // marks it dead and moves its timers
    sched.lock.unlock();
    timers_changed(sched.allp[0]->timers.next.load());
}

// Finds a goroutine to run on m's P, waiting for one if need be; inherit
// says whether it continues the current time slice (see runqget).
G* findrunnable(M* m, bool& inherit) {
    inherit = false;
top:
    P* p = m->p;
    if (!p) {
        stopm(m);
        goto top;
    }
    if (p->id >= sched.gomaxprocs.load(std::memory_order_acquire)) {
        retire_p(m);
        if (m->spinning) {
            m->spinning = false;
            sched.nmspinning.fetch_sub(1);
        }
        P* np = pidleget();
        if (np) acquirep(m, np);
        goto top;
    }
    std::int64_t now = 0, poll_until = INT64_MAX;
    run_timers_if_due(m, p, now, poll_until);

    // The global queue is served every 61st slice (Go's rule), and also
    // whenever sysmon has just ended a slice. Preempted and yielding
    // goroutines wait there; a P whose local queue never empties (a
    // ping-pong pair keeps one goroutine in runnext) would otherwise leave
    // them for 61 slices, over half a second.
    if ((p->schedtick.load(std::memory_order_relaxed) % 61 == 0 ||
         p->slice_over.load(std::memory_order_relaxed)) &&
        sched.runqsize.load(std::memory_order_relaxed) > 0) {
        sched.lock.lock();
        G* g = globrunqget(p, 1);
        sched.lock.unlock();
        if (g) return g;
    }
    if (G* g = runqget(p, &inherit)) return g;
    if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
        sched.lock.lock();
        G* g = globrunqget(p, 0);
        sched.lock.unlock();
        if (g) return g;
    }

    // I/O that became ready while every M was busy: its goroutines land on
    // this P's queue. Skipped while an M blocks in the poller, which will see
    // the same events.
    if (netpoll_has_waiters() && !sched.polling.load(std::memory_order_relaxed)) {
        if (G* g = inject_glist(poll_io(0), p)) return g;
    }

    int procs = sched.gomaxprocs.load(std::memory_order_relaxed);
    if (m->spinning || 2 * sched.nmspinning.load(std::memory_order_relaxed) <
                           procs - sched.npidle.load(std::memory_order_relaxed)) {
        if (!m->spinning) {
            m->spinning = true;
            sched.nmspinning.fetch_add(1, std::memory_order_acq_rel);
        }
        if (G* g = steal_work(m, p, now, poll_until)) return g;
    }

    // Nothing to do: give up the P.
    sched.lock.lock();
    if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
        G* g = globrunqget(p, 0);
        sched.lock.unlock();
        return g;
    }
    releasep(m);
    pidleput(p);
    sched.lock.unlock();

    stack_trim_idle();

    // Stop spinning before the re-check below: a goroutine readied in between
    // either sees no spinning M and wakes one, or is seen by the re-check.
    bool was_spinning = m->spinning;
    if (was_spinning) {
        m->spinning = false;
        sched.nmspinning.fetch_sub(1, std::memory_order_acq_rel);
    }
    // Work readied by a plain thread lands on the global queue; by a
    // goroutine, on its P's queue.
    bool work_left = sched.runqsize.load(std::memory_order_acquire) > 0;
    int n = sched.nallp.load(std::memory_order_acquire);
    for (int i = 0; i < n && !work_left; ++i) {
        P* p2 = sched.allp[i];
        work_left = p2->status != P::dead && !runqempty(p2);
    }
    if (work_left) {
        P* np = pidleget();
        if (np) {
            acquirep(m, np);
            if (was_spinning) {
                m->spinning = true;
                sched.nmspinning.fetch_add(1, std::memory_order_acq_rel);
            }
            goto top;
        }
    }
    for (int i = 0; i < n; ++i)
        poll_until =
            std::min(poll_until, sched.allp[i]->timers.next.load(std::memory_order_acquire));

    // One M waits in the poller until the next timer or I/O event; the
    // others sleep.
    if ((poll_until != INT64_MAX || netpoll_has_waiters()) &&
        !sched.polling.exchange(true, std::memory_order_acq_rel)) {
        sched.poll_until.store(poll_until, std::memory_order_release);
        std::int64_t delay =
            poll_until == INT64_MAX ? -1 : std::max<std::int64_t>(poll_until - nanotime(), 0);
        G* polled = poll_io(delay);
        sched.poll_until.store(0, std::memory_order_release);
        sched.polling.store(false, std::memory_order_release);
        P* np = pidleget();
        // The first polled goroutine runs here, on the P just taken.
        if (G* g = inject_glist(polled, np)) {
            acquirep(m, np);
            return g;
        }
        if (np) {
            acquirep(m, np);
            // Timers may be due on any idle P: look as a spinning M does.
            m->spinning = true;
            sched.nmspinning.fetch_add(1, std::memory_order_acq_rel);
        }
        goto top;
    }
    stopm(m);
    goto top;
}

void handle_switch_back(M* m, G* g) {
    P* p = m->p;
    if (!g->stk.guarded && !stack_canary_ok(g->stk)) fatal_canary(g);
    switch (m->action) {
    case M::act_park: {
        p->parks.store(p->parks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        // Once the timer is armed or unlock has run, a waker may run g on
        // another M: read what is needed first and touch g no more.
        void (*unlock)(void*) = g->unlockf;
        void* arg = g->unlock_arg;
        timer* t = g->park_timer;
        casgstatus(g, gstatus::running, gstatus::waiting, std::memory_order_release);
        if (t) timer_add(t);
        unlock(arg);
        break;
    }
    case M::act_preempt:
        // To the back of its own P's queue, not the global one as in Go: the
        // global queue goes first when a slice ends (findrunnable), and the
        // goroutine just preempted would take the next slice again. Idle Ps
        // still steal it from here.
        p->preempts.store(p->preempts.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
        casgstatus(g, gstatus::running, gstatus::runnable);
        runqput(p, g, false);
        break;
    case M::act_yield:
        casgstatus(g, gstatus::running, gstatus::runnable);
        sched.lock.lock();
        globrunqput(g);
        sched.lock.unlock();
        break;
    case M::act_block_exit:
        // Back from a blocking call with every P taken: wait in the queue.
        casgstatus(g, gstatus::running, gstatus::runnable);
        sched.lock.lock();
        if (P* np = pidleget_nolock()) {
            acquirep(m, np);
            sched.lock.unlock();
            runqput(np, g, false);
        } else {
            globrunqput(g);
            sched.lock.unlock();
        }
        break;
    case M::act_exit:
        casgstatus(g, gstatus::running, gstatus::dead);
        if (g->lockedm.load(std::memory_order_relaxed)) {
            m->lockedg = nullptr;
            g->lockedm.store(nullptr, std::memory_order_relaxed);
            g->lockdepth = 0;
        }
#if defined(RILL_SANITIZE_THREAD)
        __tsan_destroy_fiber(g->tsan_fiber);
        g->tsan_fiber = nullptr;
#endif
        stack_free(&p->stacks, g->stk);
        g->stk = {};
        g->name.clear();
        p->exited.store(p->exited.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        if (G* w = std::exchange(g->exit_waiter, nullptr)) ready(w);
        gfput(p, g);
        break;
    case M::act_none:
        break;
    }
    m->action = M::act_none;
}

// Runs g on m's P until it switches back. A new time slice starts unless g
// inherits the current one (see runqget): sysmon measures slices by
// schedtick, and preempts a P whose schedtick stood still for too long.
void execute(M* m, G* g, bool inherit) {
    P* p = m->p;
    if (!g->stk.lo) {
        g->stk = stack_alloc(&p->stacks, g->stack_reserve);
        g->sp = make_context(g->stk.hi, g);
    }
    casgstatus(g, gstatus::runnable, gstatus::running);
    g->preempt.store(false, std::memory_order_relaxed); // a stale request
    m->curg.store(g, std::memory_order_release);        // sysmon reads g through it
    if (!inherit) {
        p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
        p->slice_over.store(false, std::memory_order_relaxed);
    }
    switch_to_g(m, g);
    m->curg.store(nullptr, std::memory_order_relaxed);
    handle_switch_back(m, g);
}

// Go's stoplockedm: the M's locked goroutine is not runnable, so its P goes
// to other work until startlockedm hands the M a P to run it with.
void stoplockedm(M* m) {
    if (m->p) handoffp(releasep(m));
    wait_for_p(m);
}

// Go's startlockedm: g may run only on its locked M, which is waiting in
// stoplockedm; hand it this M's P (it runs g next) and go idle.
void startlockedm(M* m, G* g) {
    M* lm = g->lockedm.load(std::memory_order_relaxed);
    lm->nextp = releasep(m);
    notewakeup(lm);
    stopm(m);
}

[[noreturn]] void schedule(M* m) {
    for (;;) {
        if (m->lockedg) {
            stoplockedm(m);
            execute(m, m->lockedg, false);
            continue;
        }
        bool inherit;
        G* g = findrunnable(m, inherit);
        if (m->spinning) resetspinning(m);
        if (M* lm = g->lockedm.load(std::memory_order_relaxed); lm && lm != m) {
            startlockedm(m, g);
            continue;
        }
        if (m->p->id >= sched.gomaxprocs.load(std::memory_order_acquire)) {
            // set_maxprocs retired this P while we looked for work: nothing
            // starts on it any more.
            sched.lock.lock();
            globrunqput(g);
            sched.lock.unlock();
            continue;
        }
        execute(m, g, inherit);
    }
}

void mstart(M* m) {
    rill_tls_m = m;
    m->thread = pthread_self();
    m->eh = __cxa_get_globals();
    stack_thread_init();
    // Started with every signal blocked: take them now that the thread has
    // its M and its alternate signal stack.
    signals_thread_start(thread_kind::m);
#if defined(RILL_SANITIZE_THREAD)
    m->tsan_g0 = __tsan_get_current_fiber();
#endif
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void* lo;
        std::size_t size;
        pthread_attr_getstack(&attr, &lo, &size);
        m->g0_stack_lo = lo;
        m->g0_stack_size = size;
        pthread_attr_destroy(&attr);
    }
    acquirep(m, m->nextp);
    m->nextp = nullptr;
    schedule(m);
}

// ---- start-up -------------------------------------------------------------------

int procs_from_env() {
    for (const char* var : {"RILL_MAXPROCS", "GOMAXPROCS"}) {
        const char* s = std::getenv(var);
        if (!s || !*s) continue;
        char* end = nullptr;
        long v = std::strtol(s, &end, 10);
        if (*end == '\0' && v >= 1 && v <= max_procs) return static_cast<int>(v);
        runtime_log().warn("rill: ignoring {}={}: want a whole number from 1 to {}", var, s,
                           max_procs);
    }
    return std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, max_procs);
}

// With sched.lock held.
void grow_allp(int n) {
    for (int i = sched.nallp.load(); i < n; ++i) {
        P* p = new P;
        p->id = i;
        p->status = P::dead;
        sched.allp[i] = p;
        sched.nallp.store(i + 1, std::memory_order_release);
    }
}

void start_runtime() {
    static std::once_flag once;
    std::call_once(once, [] {
        signals_init(); // before the first runtime thread starts
        int n = procs_from_env();
        stack_install_overflow_handler();
        netpoll_init();
        preempt_init();
        debug_init();
        sched.lock.lock();
        grow_allp(n);
        sched.gomaxprocs.store(n, std::memory_order_release);
        for (int i = n - 1; i >= 0; --i)
            pidleput(sched.allp[i]);
        sched.lock.unlock();
        sysmon_start();
    });
}

struct panic_state {
    std::mutex mu;
    panic_handler handler;
};
panic_state& panics() {
    static auto* s = new panic_state;
    return *s;
}

void handle_panic(G* g, std::exception_ptr ep) {
    panic_info info{g->id, g->name, ep, {}};
    try {
        std::rethrow_exception(ep);
    } catch (const std::exception& e) {
        info.what = e.what();
    } catch (...) {
        info.what = "non-standard exception";
    }
    panic_handler h;
    {
        std::lock_guard lk(panics().mu);
        h = panics().handler;
    }
    if (h) return h(info);
    runtime_log().critical("panic: goroutine {} \"{}\": {}", info.goroutine_id, info.goroutine_name,
                           info.what);
    runtime_log().flush();
    std::_Exit(2);
}

void noop_unlock(void*) {}

void park_timeout(void* arg, std::int64_t) {
    G* g = static_cast<G*>(arg);
    std::uint32_t w = claim_waiting;
    if (g->claim.compare_exchange_strong(w, claim_timeout, std::memory_order_acq_rel)) ready(g);
}

// A plain thread's park: no scheduler to hand the lock to, so unlock first;
// thread_wake (cleared before unlock) keeps a wake-up from being lost.
bool thread_park(G* g, void (*unlock)(void*), void* arg, std::int64_t deadline) {
    g->thread_wake.store(0, std::memory_order_relaxed);
    unlock(arg);
    while (g->thread_wake.load(std::memory_order_acquire) == 0) {
        if (deadline == INT64_MAX) {
            futex_wait(&g->thread_wake, 0);
            continue;
        }
        std::int64_t left = deadline - nanotime();
        if (left <= 0) {
            std::uint32_t w = claim_waiting;
            if (g->claim.compare_exchange_strong(w, claim_timeout, std::memory_order_acq_rel))
                return false;
            deadline = INT64_MAX; // a waker claimed us: its ready() is on the way
            continue;
        }
        futex_wait(&g->thread_wake, 0, left);
    }
    return true;
}

} // namespace

// ---- internal API (g.hpp, time.hpp) ------------------------------------------------

G* getg() noexcept {
    M* m = current_m();
    if (m && !m->blocked)
        if (G* g = m->curg.load(std::memory_order_relaxed)) return g;
    return thread_g();
}

void park(void (*unlock)(void*), void* arg, wait_reason why) {
    G* g = getg();
    if (g->is_thread) {
        thread_park(g, unlock, arg, INT64_MAX);
        return;
    }
    g->reason.store(why, std::memory_order_relaxed);
    g->wait_since.store(coarse_nanotime(), std::memory_order_relaxed);
    g->unlockf = unlock;
    g->unlock_arg = arg;
    g->park_timer = nullptr;
    mcall(M::act_park);
}

bool park_until(void (*unlock)(void*), void* arg, wait_reason why, std::int64_t deadline) {
    G* g = getg();
    if (g->is_thread) return thread_park(g, unlock, arg, deadline);
    if (deadline == INT64_MAX) {
        park(unlock, arg, why);
        return true;
    }
    timer t;
    t.when = deadline;
    t.f = park_timeout;
    t.arg = g;
    g->reason.store(why, std::memory_order_relaxed);
    g->wait_since.store(coarse_nanotime(), std::memory_order_relaxed);
    g->unlockf = unlock;
    g->unlock_arg = arg;
    g->park_timer = &t;
    mcall(M::act_park);
    timer_del(&t);
    return g->claim.load(std::memory_order_acquire) != claim_timeout;
}

void ready(G* g) {
    if (g->is_thread) {
        g->thread_wake.store(1, std::memory_order_release);
        futex_wake(&g->thread_wake, 1);
        return;
    }
    casgstatus(g, gstatus::waiting, gstatus::runnable);
    M* m = current_m();
    P* p = m ? m->p : nullptr;
    if (p && m->in_timers) {
        timerq_put(p, g);
    } else if (p) {
        runqput(p, g, true);
    } else {
        sched.lock.lock();
        globrunqput(g);
        sched.lock.unlock();
    }
    wakep();
}

void preempt_yield() {
    G* g = getg();
    if (g->is_thread || g->nopreempt > 0) return;
    mcall(M::act_preempt);
}

bool enter_blocking() noexcept {
    M* m = current_m();
    G* g = running_g();
    if (!g || m->blocked) return false;
    P* p = m->p;
    // Goroutines readied by timers may wait only on a running P: whoever
    // takes this one must see them as ordinary work.
    while (G* ready_g = timerq_get(p))
        runqput(p, ready_g, false);
    g->reason.store(wait_reason::blocking_call, std::memory_order_relaxed);
    g->wait_since.store(coarse_nanotime(), std::memory_order_relaxed);
    m->blocked = true;
    m->oldp = releasep(m);
    p->syscalltick.store(p->syscalltick.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
    p->status.store(P::syscall, std::memory_order_release);
    sysmon_blocking_started();
    return true;
}

void exit_blocking() noexcept {
    M* m = current_m();
    P* p = std::exchange(m->oldp, nullptr);
    m->blocked = false;
    running_g()->reason.store(wait_reason::none, std::memory_order_relaxed);
    // Fast path: sysmon did not take the P (Go's exitsyscallfast). The
    // goroutine's slice goes on: time in blocking calls counts towards it,
    // else back-to-back calls would start a new slice each and never be
    // preempted. If sysmon ended the slice meanwhile, yield now: a preemption
    // signal that arrived during the call found no safe point.
    P::status_t s = P::syscall;
    if (p->id < sched.gomaxprocs.load(std::memory_order_acquire) &&
        p->status.compare_exchange_strong(s, P::running, std::memory_order_acq_rel)) {
        wirep(m, p);
        if (p->slice_over.load(std::memory_order_relaxed)) preempt_yield();
        return;
    }
    P* np = pidleget();
    if (np) {
        acquirep(m, np);
        return;
    }
    mcall(M::act_block_exit);
}

timer_heap& current_timer_heap() {
    start_runtime();
    M* m = current_m();
    if (m && m->p) return m->p->timers;
    return sched.allp[0]->timers;
}

void timers_changed(std::int64_t when) {
    // With every P busy, only a preemption runs the timer in time.
    if (sched.npidle.load(std::memory_order_relaxed) == 0) sysmon_timer_added(when);
    if (sched.polling.load(std::memory_order_acquire)) {
        std::int64_t until = sched.poll_until.load(std::memory_order_acquire);
        if (until == 0 || when < until) netpoll_break();
        return;
    }
    wakep();
}

const char* to_string(gstatus s) noexcept {
    switch (s) {
    case gstatus::idle:
        return "idle";
    case gstatus::runnable:
        return "runnable";
    case gstatus::running:
        return "running";
    case gstatus::waiting:
        return "waiting";
    case gstatus::dead:
        return "dead";
    }
    return "?";
}

void bad_gstatus(G* g, gstatus seen, gstatus from, gstatus to) noexcept {
    runtime_log().critical("rill: fatal: goroutine {} \"{}\" was {} when it should have been {} "
                           "on its way to {}: a scheduler bug",
                           g->id, g->name, to_string(seen), to_string(from), to_string(to));
    runtime_log().flush();
    std::abort();
}

const char* to_string(wait_reason r) noexcept {
    switch (r) {
    case wait_reason::none:
        return "running";
    case wait_reason::chan_send:
        return "chan send";
    case wait_reason::chan_recv:
        return "chan receive";
    case wait_reason::chan_nil:
        return "chan (nil)";
    case wait_reason::select:
        return "select";
    case wait_reason::select_no_cases:
        return "select (no cases)";
    case wait_reason::sleep:
        return "sleep";
    case wait_reason::sync_mutex:
        return "sync.Mutex";
    case wait_reason::sync_rwmutex:
        return "sync.RWMutex";
    case wait_reason::sync_cond:
        return "sync.Cond";
    case wait_reason::sync_waitgroup:
        return "sync.WaitGroup";
    case wait_reason::sync_once:
        return "sync.Once";
    case wait_reason::sync_semaphore:
        return "semaphore";
    case wait_reason::run_main:
        return "run";
    case wait_reason::io_read:
        return "IO wait (read)";
    case wait_reason::io_write:
        return "IO wait (write)";
    case wait_reason::blocking_call:
        return "blocking call";
    case wait_reason::preempted:
        return "preempted";
    }
    return "?";
}

void spawn(go_func&& f, const go_options& opts) {
    start_runtime();
    M* m = current_m();
    P* p = m ? m->p : nullptr;
    G* g = p ? gfget(p) : nullptr;
    gstatus was = gstatus::dead; // a recycled G
    if (!g) {
        sched.gflock.lock();
        g = sched.gfree.load(std::memory_order_relaxed);
        if (g) sched.gfree.store(g->schedlink, std::memory_order_relaxed);
        sched.gflock.unlock();
        if (!g) {
            g = new G;
            was = gstatus::idle;
            sched.allglock.lock();
            sched.allgs.push_back(g);
            sched.allglock.unlock();
        }
    }
    g->fn = std::move(f);
    g->name.assign(opts.name.data(), opts.name.size());
    g->stack_reserve = opts.stack_reserve;
    g->claim.store(claim_waiting, std::memory_order_relaxed);
    g->param = nullptr;
    g->reason.store(wait_reason::none, std::memory_order_relaxed);
    g->eh_caught = nullptr;
    g->eh_uncaught = 0;
    casgstatus(g, was, gstatus::runnable);
    if (p) {
        if (p->goid_next == p->goid_end) {
            p->goid_next = sched.goid_gen.fetch_add(16, std::memory_order_relaxed) + 1;
            p->goid_end = p->goid_next + 16;
        }
        g->id = p->goid_next++;
        p->created.store(p->created.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        runqput(p, g, true);
    } else {
        g->id = sched.goid_gen.fetch_add(1, std::memory_order_relaxed) + 1;
        sched.thread_created.fetch_add(1, std::memory_order_relaxed);
        sched.lock.lock();
        globrunqput(g);
        sched.lock.unlock();
    }
    wakep();
    preempt_check();
}

std::exception_ptr run_main(go_func&& f) {
    if (in_goroutine()) throw std::logic_error("rill::run called from inside a goroutine");
    struct state {
        go_func fn;
        std::exception_ptr error;
        G* waiter;
    } st{std::move(f), nullptr, thread_g()};
    st.waiter->claim.store(claim_waiting, std::memory_order_relaxed);
    // The main goroutine wakes the waiting thread through park/ready; the
    // thread parks under this lock so the wake-up cannot come too early.
    rt_lock handoff;
    handoff.lock();
    spawn(go_func([&st, &handoff] {
              try {
                  st.fn();
              } catch (...) {
                  st.error = std::current_exception();
              }
              st.fn.reset();
              // Wake the caller only once this goroutine has fully exited,
              // so that run() returns with the runtime's counters settled.
              handoff.lock();
              getg()->exit_waiter = st.waiter;
              handoff.unlock();
          }),
          {"main", 0});
    park([](void* l) { static_cast<rt_lock*>(l)->unlock(); }, &handoff, wait_reason::run_main);
    return st.error;
}

} // namespace rill::detail

extern "C" void rill_goroutine_main(void* arg) {
    using namespace rill::detail;
    G* g = static_cast<G*>(arg);
#if defined(RILL_SANITIZE_ADDRESS)
    __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
    try {
        g->fn();
    } catch (...) {
        g->fn.reset();
        handle_panic(g, std::current_exception());
    }
    g->fn.reset();
    mcall(M::act_exit);
    __builtin_unreachable();
}

// ---- public API (runtime.hpp) -----------------------------------------------------------

namespace rill {

using namespace detail;

panic_handler set_panic_handler(panic_handler h) {
    std::lock_guard lk(panics().mu);
    std::swap(h, panics().handler);
    return h;
}

void gosched() {
    if (getg()->is_thread) return std::this_thread::yield();
    mcall(M::act_yield);
}

void sleep_until(std::chrono::steady_clock::time_point t) {
    auto d = t - std::chrono::steady_clock::now();
    sleep(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
}

void sleep(std::chrono::nanoseconds d) {
    if (d.count() <= 0) return;
    G* g = getg();
    g->claim.store(claim_waiting, std::memory_order_relaxed);
    park_until(noop_unlock, nullptr, wait_reason::sleep, deadline_after(d));
}

void lock_os_thread() {
    G* g = getg();
    if (g->is_thread) return;
    if (g->lockdepth++ == 0) {
        M* m = current_m();
        g->lockedm.store(m, std::memory_order_relaxed);
        m->lockedg = g;
    }
}

void unlock_os_thread() {
    G* g = getg();
    if (g->is_thread || g->lockdepth == 0) return;
    if (--g->lockdepth == 0) {
        g->lockedm.load(std::memory_order_relaxed)->lockedg = nullptr;
        g->lockedm.store(nullptr, std::memory_order_relaxed);
    }
}

void preempt_point() { preempt_check(); }

no_preempt::no_preempt() noexcept { ++getg()->nopreempt; }

no_preempt::~no_preempt() {
    G* g = getg();
    if (--g->nopreempt == 0) preempt_check();
}

std::uint64_t goroutine_id() noexcept {
    G* g = running_g();
    return g ? g->id : 0;
}

std::string_view goroutine_name() noexcept {
    G* g = running_g();
    return g ? std::string_view(g->name) : std::string_view();
}

bool in_goroutine() noexcept { return running_g() != nullptr; }

int maxprocs() noexcept {
    start_runtime();
    return sched.gomaxprocs.load(std::memory_order_acquire);
}

int set_maxprocs(int n) {
    if (n < 1 || n > max_procs)
        throw std::invalid_argument("rill::set_maxprocs: want 1 to " + std::to_string(max_procs) +
                                    " processors, got " + std::to_string(n));
    start_runtime();
    sched.lock.lock();
    int old = sched.gomaxprocs.load(std::memory_order_relaxed);
    grow_allp(n);
    sched.gomaxprocs.store(n, std::memory_order_release);
    // Revive retired processors below n; retire idle ones at or above it.
    // Running ones above n retire at their next scheduling point.
    for (int i = old; i < n; ++i)
        if (sched.allp[i]->status == P::dead) pidleput(sched.allp[i]);
    for (P** pp = &sched.pidle; *pp;) {
        P* p = *pp;
        if (p->id >= n) {
            *pp = p->link;
            sched.npidle.fetch_sub(1, std::memory_order_release);
            p->status = P::dead;
            timers_move(p->timers, sched.allp[0]->timers);
        } else {
            pp = &p->link;
        }
    }
    sched.lock.unlock();
    timers_changed(sched.allp[0]->timers.next.load());
    for (int i = old; i < n; ++i)
        wakep();
    return old;
}

runtime_stats stats() noexcept {
    runtime_stats s{};
    std::uint64_t exited = 0;
    int n = sched.nallp.load(std::memory_order_acquire);
    for (int i = 0; i < n; ++i) {
        P* p = sched.allp[i];
        s.goroutines_created += p->created.load(std::memory_order_relaxed);
        exited += p->exited.load(std::memory_order_relaxed);
        s.steals += p->steals.load(std::memory_order_relaxed);
        s.parks += p->parks.load(std::memory_order_relaxed);
        s.preempts_coop += p->preempts.load(std::memory_order_relaxed);
    }
    s.slices_ended = sched.slices_ended.load(std::memory_order_relaxed);
    s.preempts_async = sched.preempts_async.load(std::memory_order_relaxed);
    s.preempts_coop -= std::min(s.preempts_coop, s.preempts_async);
    s.blocking_retakes = sched.blocking_retakes.load(std::memory_order_relaxed);
    s.netpoll_wakeups = sched.netpoll_wakeups.load(std::memory_order_relaxed);
    s.processors = static_cast<std::uint64_t>(sched.gomaxprocs.load(std::memory_order_relaxed));
    s.goroutines_created += sched.thread_created.load(std::memory_order_relaxed);
    s.goroutines_live = s.goroutines_created - exited;
    s.threads = sched.mcount.load(std::memory_order_relaxed);
    auto st = stack_stats();
    s.stacks_guarded = st.guarded;
    s.stacks_unguarded = st.unguarded;
    return s;
}

} // namespace rill
