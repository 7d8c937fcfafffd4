// The scheduler's shared state: P (processor) and M (OS thread) and the
// global sched structure (mirrors the scheduler half of Go's
// runtime/runtime2.go). Internal; proc.cpp owns it, sysmon.cpp, preempt.cpp
// and debug.cpp read it.
#pragma once

#include "g.hpp"
#include "tls.hpp"

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <vector>

// libstdc++'s per-thread exception state. Declared here without the const
// attribute <cxxabi.h> gives it: its result changes when a goroutine moves.
struct rill_eh_globals {
    void* caught;
    unsigned int uncaught;
};

namespace rill::detail {

constexpr int max_procs = 256;
constexpr std::uint32_t runq_size = 256;

struct P {
    int id = 0;
    // syscall: its M is in a blocking call (rill::blocking); whoever moves
    // it out of syscall first (the M on return, or sysmon) owns it.
    enum status_t { idle, running, syscall, dead };
    std::atomic<status_t> status{idle}; // changed under sched.lock, or by CAS from syscall
    std::atomic<M*> m{nullptr};         // the M running it, for sysmon
    std::atomic<std::uint32_t> runqhead{0};
    std::atomic<std::uint32_t> runqtail{0};
    std::atomic<G*> runq[runq_size]{};
    std::atomic<G*> runnext{nullptr};
    // Goroutines readied by timers this P ran, run before anything else so
    // that a backlog of new goroutines cannot make sleepers late. Owner only;
    // a P never goes idle with it non-empty.
    G* timerq_head = nullptr;
    G* timerq_tail = nullptr;
    P* link = nullptr; // idle list
    // Bumped by the owner at every goroutine switch-in and blocking call;
    // sysmon reads them to spot a goroutine running too long, or a
    // blocking call worth retaking the P from.
    std::atomic<std::uint32_t> schedtick{0};
    // Set by sysmon when the current time slice has run too long; cleared
    // when the next slice starts. While set, runnext does not inherit the
    // slice (runqget in proc.cpp) and the global queue goes first
    // (findrunnable).
    std::atomic<bool> slice_over{false};
    std::atomic<std::uint32_t> syscalltick{0};
    G* gfree = nullptr;
    int ngfree = 0;
    stack_cache stacks;
    timer_heap timers;
    std::uint64_t goid_next = 0, goid_end = 0;
    // Written by the owner only; read by stats().
    std::atomic<std::uint64_t> created{0}, exited{0}, steals{0}, parks{0}, preempts{0};
};

struct M {
    void* g0_sp = nullptr;
    std::atomic<G*> curg{nullptr}; // read by sysmon
    P* p = nullptr;
    P* nextp = nullptr;
    P* oldp = nullptr;    // the P it gave up for a blocking call
    bool blocked = false; // inside rill::blocking: its goroutine acts as a plain thread
    M* schedlink = nullptr;
    G* lockedg = nullptr; // lock_os_thread: the only goroutine this M runs
    pthread_t thread{};
    bool spinning = false;
    std::atomic<std::uint32_t> park{0};
    std::uint64_t id = 0;
    std::uint64_t rand = 0;
    bool in_timers = false; // running timer callbacks: ready() uses p->timerq
    // What g0 does once the goroutine has switched out: act_preempt is a
    // yield that counts as a preemption; act_block_exit queues a goroutine
    // back from a blocking call that found no free P.
    enum action_t {
        act_none,
        act_park,
        act_yield,
        act_preempt,
        act_exit,
        act_block_exit
    } action = act_none;
    void* asan_fake_stack = nullptr;
    const void* g0_stack_lo = nullptr;
    std::size_t g0_stack_size = 0;
    void* tsan_g0 = nullptr;
    rill_eh_globals* eh = nullptr; // this thread's exception state
};

struct sched_t {
    rt_lock lock;
    G* runq_head = nullptr;
    G* runq_tail = nullptr;
    std::atomic<std::int32_t> runqsize{0};
    P* pidle = nullptr;
    std::atomic<std::int32_t> npidle{0};
    M* midle = nullptr;
    std::atomic<std::int32_t> nmspinning{0};
    std::atomic<std::int32_t> gomaxprocs{0};
    std::atomic<int> nallp{0};
    P* allp[max_procs]{};
    rt_lock gflock;
    std::atomic<G*> gfree{nullptr}; // changed under gflock; peeked without it
    std::atomic<bool> polling{false};
    std::atomic<std::int64_t> poll_until{0}; // INT64_MAX: polling without a timer
    std::atomic<std::int64_t> lastpoll{0};
    std::atomic<std::uint64_t> goid_gen{0};
    std::atomic<std::uint64_t> mcount{0};
    std::atomic<std::uint64_t> thread_created{0}; // goroutines spawned by plain threads
    // Every G ever created (Gs are recycled, never freed), for dumps.
    rt_lock allglock;
    std::vector<G*> allgs;
    std::atomic<std::uint64_t> slices_ended{0};     // by sysmon (preemptone)
    std::atomic<std::uint64_t> preempts_async{0};   // by SIGURG at a safe point
    std::atomic<std::uint64_t> blocking_retakes{0}; // Ps retaken from blocking calls
    std::atomic<std::uint64_t> netpoll_wakeups{0};  // goroutines readied by I/O
};

extern sched_t& sched;

} // namespace rill::detail

// The M running on this thread (null on plain threads).
extern "C" thread_local rill::detail::M* rill_tls_m;

namespace rill::detail {

RILL_TLS_ACCESSOR(M*, tls_m_slot, rill_tls_m)

// The M running on this thread (null on plain threads); never a stale answer
// from before a park that moved the goroutine (see tls.hpp).
inline M* current_m() noexcept { return *tls_m_slot(); }

// The goroutine running on this thread: null on g0 and on plain threads, and
// set inside rill::blocking too (unlike getg). Async-signal-safe.
inline G* running_g() noexcept {
    M* m = current_m();
    return m ? m->curg.load(std::memory_order_relaxed) : nullptr;
}

// A cooperative preemption point (channel operations, spawning,
// rill::preempt_point): yields if sysmon asked the current goroutine to.
inline void preempt_check() {
    M* m = current_m();
    G* g = m && !m->blocked ? m->curg.load(std::memory_order_relaxed) : nullptr;
    if (g && g->preempt.load(std::memory_order_relaxed)) preempt_yield();
}

// Finds work for a P whose M stopped running goroutines (sysmon retaking it
// from a blocking call): an M to run its queue, or the idle list.
void handoffp(P* p);
bool runqempty(P* p);
// Starts a detached runtime thread running fn(arg). If it cannot: with fatal
// the process ends (the runtime cannot work without it), else a warning is
// logged and it returns false. `what` names the thread in the message.
bool start_thread(void* (*fn)(void*), void* arg, const char* what, bool fatal);
// netpoll, noting when it last ran; returns the goroutines it found ready
// (linked through schedlink) for inject_glist.
G* poll_io(std::int64_t delay_ns);
// Makes a list from poll_io runnable and queues it (Go's injectglist),
// counting the wake-ups. With p (held by the caller):
// returns the first goroutine for the caller to run, puts the rest on p's
// queue and wakes one idle M to share them. Without: everything goes on the
// global queue and idle Ms are started for it; returns null.
G* inject_glist(G* list, P* p);

} // namespace rill::detail
