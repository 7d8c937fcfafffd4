// sysmon and retake (mirrors Go's runtime/proc.go). See sysmon.hpp.
#include "sysmon.hpp"

#include "netpoll.hpp"
#include "preempt.hpp"
#include "sched.hpp"
#include "signals.hpp"
#include "stack.hpp"

#include <algorithm>

namespace rill::detail {

namespace {

constexpr std::int64_t min_sleep_ns = 20'000;
constexpr std::int64_t max_sleep_ns = 10'000'000;
// A goroutine holding its P this long is asked to yield (Go's forcePreemptNS).
constexpr std::int64_t force_preempt_ns = 10'000'000;
// A goroutine that has run this long yields early to an overdue timer of its
// P: timers run only when their P schedules, and a sleeper must not wait for
// a whole time slice.
constexpr std::int64_t timer_preempt_ns = 1'000'000;
constexpr std::int64_t poll_interval_ns = 10'000'000;

// sysmon's view of each P at its previous look (sysmon's own; Go's sysmontick).
struct observation {
    std::uint32_t schedtick = 0;
    std::int64_t schedwhen = 0;
    std::uint32_t syscalltick = 0;
    std::int64_t syscallwhen = 0;
};
observation obs[max_procs];

// How long sysmon is sleeping: 0 while awake, -1 until woken; and until when.
std::atomic<std::int64_t> sleeping{0};
std::atomic<std::int64_t> wake_at{0};
std::atomic<std::uint32_t> wake_word{0};

void wake() {
    wake_word.store(1, std::memory_order_release);
    futex_wake(&wake_word, 1);
}

// After asking a P to end its slice, sysmon looks again this soon, to see
// the next slice start close to when it does.
constexpr std::int64_t slice_start_look_ns = 100'000;

// Returns true if it retook a P from a blocking call. Lowers next_look to
// when a running P's slice or its earliest timer wants sysmon to look again:
// slices then last force_preempt_ns give or take sysmon's wake-up latency,
// rather than up to twice that with sysmon's back-off.
//
// As in Go (sysretake), a goroutine's slice runs on through its blocking
// calls: a P in a blocking call whose slice is over is taken from it even if
// the call is a new one since sysmon's last look. Otherwise a goroutine
// making short calls back to back would keep its P for ever, since sysmon
// would hardly ever see it running, or see one call twice.
bool retake(std::int64_t now, std::int64_t& next_look) {
    bool retook = false;
    int n = sched.nallp.load(std::memory_order_acquire);
    for (int i = 0; i < n; ++i) {
        P* p = sched.allp[i];
        observation& o = obs[i];
        P::status_t s = p->status.load(std::memory_order_acquire);
        if (s != P::running && s != P::syscall) continue;
        bool slice_over = false;
        std::uint32_t t = p->schedtick.load(std::memory_order_relaxed);
        if (o.schedtick != t) {
            o.schedtick = t;
            o.schedwhen = now;
        }
        std::int64_t ran = now - o.schedwhen;
        std::int64_t timer = p->timers.next.load(std::memory_order_acquire);
        if (ran >= force_preempt_ns || (timer <= now && ran >= timer_preempt_ns)) {
            preemptone(p);
            sched.slices_ended.fetch_add(1, std::memory_order_relaxed);
            slice_over = true;
            o.schedwhen = now; // ask again in a full slice, not every tick
            next_look = std::min(next_look, now + slice_start_look_ns);
        } else {
            next_look = std::min(next_look, o.schedwhen + force_preempt_ns);
            if (timer != INT64_MAX)
                next_look = std::min(next_look, std::max(timer, o.schedwhen + timer_preempt_ns));
        }
        if (s != P::syscall) continue;
        std::uint32_t c = p->syscalltick.load(std::memory_order_relaxed);
        if (!slice_over && o.syscalltick != c) {
            o.syscalltick = c;
            o.syscallwhen = now;
            continue;
        }
        // Nothing for it to run and other Ms free to take new work:
        // leave it to its M a while, which saves a hand-off per call.
        if (runqempty(p) &&
            sched.nmspinning.load(std::memory_order_relaxed) +
                    sched.npidle.load(std::memory_order_relaxed) >
                0 &&
            now - o.syscallwhen < force_preempt_ns)
            continue;
        P::status_t expect = P::syscall;
        if (p->status.compare_exchange_strong(expect, P::idle, std::memory_order_acq_rel)) {
            sched.blocking_retakes.fetch_add(1, std::memory_order_relaxed);
            handoffp(p);
            retook = true;
        }
    }
    return retook;
}

bool all_idle() { return sched.npidle.load() == sched.gomaxprocs.load(); }

[[noreturn]] void sysmon_loop() {
    std::int64_t delay = min_sleep_ns; // the back-off
    std::int64_t sleep_ns = delay;     // the next sleep: the back-off, or less
    int idle = 0;                      // rounds in a row with nothing done
    for (;;) {
        // With nothing running there is nothing to preempt or retake, and the
        // poller M waits for timers and I/O: sleep until a P is taken. The
        // second look closes the race with an acquirep that read sleeping
        // before it became -1. Free stacks still to scavenge keep sysmon
        // watching; only Ms holding Ps add to them, before the P goes idle, so
        // seeing every P idle first means seeing them.
        bool deep = false;
        if (all_idle()) {
            sleeping.store(-1);
            deep = all_idle() && !stack_scavenge_pending();
            if (!deep) sleeping.store(0);
        }
        if (deep) {
            wake_at.store(INT64_MAX, std::memory_order_relaxed);
            futex_wait(&wake_word, 0);
            delay = min_sleep_ns;
            idle = 0;
        } else {
            sleeping.store(sleep_ns, std::memory_order_relaxed);
            wake_at.store(nanotime() + sleep_ns, std::memory_order_relaxed);
            futex_wait(&wake_word, 0, sleep_ns);
        }
        sleeping.store(0, std::memory_order_relaxed);
        wake_at.store(0, std::memory_order_relaxed);
        wake_word.store(0, std::memory_order_relaxed);

        std::int64_t now = nanotime();
        bool acted = false;
        if (netpoll_has_waiters() && !sched.polling.load(std::memory_order_relaxed) &&
            now - sched.lastpoll.load(std::memory_order_relaxed) >= poll_interval_ns) {
            if (G* polled = poll_io(0)) {
                inject_glist(polled, nullptr);
                acted = true;
            }
        }
        std::int64_t next_look = INT64_MAX;
        acted |= retake(now, next_look);
        acted |= stack_scavenge(now);
        idle = acted ? 0 : idle + 1;
        // Go's back-off: 20 µs while things happen, doubling after 1 ms of
        // nothing, up to 10 ms.
        if (idle == 0)
            delay = min_sleep_ns;
        else if (idle > 50)
            delay = std::min(delay * 2, max_sleep_ns);
        // A slice or timer due sooner shortens this sleep, not the back-off.
        sleep_ns = delay;
        if (next_look != INT64_MAX)
            sleep_ns = std::clamp(next_look - nanotime(), min_sleep_ns, delay);
    }
}

} // namespace

void preemptone(P* p) {
    // The slice ends even if the goroutine parks before it sees its flag
    // (or is between goroutines right now, with no curg to flag).
    p->slice_over.store(true, std::memory_order_relaxed);
    M* m = p->m.load(std::memory_order_acquire);
    G* g = m ? m->curg.load(std::memory_order_acquire) : nullptr;
    if (!g) return;
    g->preempt.store(true, std::memory_order_release);
    signal_preempt(m);
}

void sysmon_start() {
    start_thread(
        [](void*) -> void* {
            // SIGURG and SIGQUIT are for the Ms and the dump thread, not here.
            signals_thread_start(thread_kind::helper);
            sysmon_loop();
        },
        nullptr, "the sysmon thread", true);
}

void sysmon_blocking_started() noexcept {
    std::int64_t s = sleeping.load(std::memory_order_relaxed);
    if (s < 0 || s > min_sleep_ns) wake();
}

void sysmon_timer_added(std::int64_t when) noexcept {
    // Awake (wake_at 0), or due to look within a slice of `when`: nothing to do.
    if (when < wake_at.load(std::memory_order_relaxed) - timer_preempt_ns) wake();
}

void sysmon_work_started() noexcept {
    if (sleeping.load() < 0) wake();
}

} // namespace rill::detail
