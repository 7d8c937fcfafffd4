// G, M and P: goroutines, OS threads and processors, and their states
// (mirrors Go's runtime/runtime2.go). Internal to the runtime.
#pragma once

#include "lock.hpp"
#include "stack.hpp"
#include "time.hpp"

#include <rill/runtime.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace rill::detail {

enum class wait_reason : std::uint8_t {
    none,
    chan_send,
    chan_recv,
    chan_nil,
    select,
    select_no_cases,
    sleep,
    sync_mutex,
    sync_rwmutex,
    sync_cond,
    sync_waitgroup,
    sync_once,
    sync_semaphore,
    run_main,
    io_read,
    io_write,
    blocking_call,
    preempted,
};
const char* to_string(wait_reason r) noexcept;

// A goroutine's state (Go's _Gidle, _Grunnable, ... in runtime2.go), and who
// owns its stack and context in each. Every change goes through casgstatus,
// which sanitizer builds check against the expected old state.
enum class gstatus : std::uint32_t {
    // Just allocated, never run; no stack yet. Owned by spawn.
    idle,
    // On a run queue (a P's runq, runnext or timerq, or the global queue),
    // or being handed to one. Not running anywhere; its saved context (sp)
    // is complete. Owned by the queue: whoever dequeues it may run it.
    // spawn: idle/dead -> runnable; ready and netpoll: waiting -> runnable;
    // a yield, a preemption or a return from a blocking call with no P:
    // running -> runnable.
    runnable,
    // Running on an M (m->curg), or switching back to that M's g0: the stack
    // and the CPU registers belong to that M alone. Inside rill::blocking it
    // stays running (its M has given up its P). execute: runnable -> running.
    running,
    // Parked: its context is saved and it is on no run queue. Set by the M
    // it parked on, on g0, before the unlock function or the deadline can
    // let a waker see it; from then on only the waker that wins g->claim (or
    // the owner of the wait queue it is on) may ready it, once.
    // running -> waiting.
    waiting,
    // Exited; its stack is freed and the G is on a free list for spawn to
    // reuse. running -> dead.
    dead,
};
const char* to_string(gstatus s) noexcept;

// Values of G::claim: who ends a wait that can end several ways.
enum : std::uint32_t { claim_waiting = 0, claim_woken = 1, claim_timeout = 2 };

struct M;

struct G {
    void* sp = nullptr; // saved context while not running (asm_*.S)
    stack stk;
    G* schedlink = nullptr; // run queues and free lists
    std::atomic<gstatus> status{gstatus::idle};
    // A wait is ended by whoever moves claim from claim_waiting first
    // (a waker, or the timeout); the loser leaves the G alone.
    std::atomic<std::uint32_t> claim{claim_waiting};
    void* param = nullptr; // handed over by the waker (select: the winning case)
    // Written by the goroutine, read by goroutine dumps.
    std::atomic<wait_reason> reason{wait_reason::none};
    std::atomic<std::int64_t> wait_since{0};
    std::uint64_t id = 0;
    std::string name;
    go_func fn;
    // Set by sysmon when the goroutine has run too long; honoured by the
    // SIGURG handler at a safe point, else at the next preempt check.
    std::atomic<bool> preempt{false};
    int nopreempt = 0;                // depth of no_preempt sections
    std::atomic<M*> lockedm{nullptr}; // lock_os_thread
    int lockdepth = 0;                // nested lock_os_thread calls
    std::size_t stack_reserve = 0;
    bool is_thread = false;                    // the stand-in G of a plain OS thread
    std::atomic<std::uint32_t> thread_wake{0}; // plain threads block on it
    // Park handoff to the scheduler stack (see park()).
    void (*unlockf)(void*) = nullptr;
    void* unlock_arg = nullptr;
    timer* park_timer = nullptr;
    // Readied once this goroutine has fully exited (run() waits on it).
    G* exit_waiter = nullptr;
    // libstdc++ per-thread exception state, carried with the goroutine.
    void* eh_caught = nullptr;
    unsigned eh_uncaught = 0;
    // Sanitizer fiber state.
    void* asan_fake_stack = nullptr;
    void* tsan_fiber = nullptr;
};

#if defined(RILL_SANITIZE_ADDRESS) || defined(RILL_SANITIZE_THREAD)
inline constexpr bool check_gstatus = true;
#else
inline constexpr bool check_gstatus = false;
#endif
// Ends the process naming g and the transition: a scheduler bug.
[[noreturn]] void bad_gstatus(G* g, gstatus seen, gstatus from, gstatus to) noexcept;

// Moves g from state `from` to `to` (Go's casgstatus). Sanitizer builds
// check that g was in `from` (a G readied twice, or run while it runs, is
// caught where it happens rather than as a crash later); other builds only
// store `to`, with the same memory order.
inline void casgstatus(G* g, gstatus from, gstatus to,
                       std::memory_order order = std::memory_order_relaxed) noexcept {
    if constexpr (check_gstatus) {
        gstatus seen = g->status.exchange(to, order);
        if (seen != from) bad_gstatus(g, seen, from, to);
    } else {
        g->status.store(to, order);
    }
}

// The current goroutine, or the calling plain thread's stand-in. Never null.
// Re-read after anything that may park: the goroutine may have moved threads.
G* getg() noexcept;
// Parks the current G until ready(g). unlock(arg) runs once the G's context
// is saved (on the scheduler stack for goroutines), so a waker that needs the
// lock unlock releases cannot run the G before it has stopped.
void park(void (*unlock)(void*), void* arg, wait_reason why);
// As park, and at deadline (steady nanotime) the wait ends with
// claim_timeout unless a waker claimed it first. The deadline's timer is
// armed before unlock(arg) runs (a timer armed after the unlock could
// outlive the wait), so the G may be running again, on another M, while
// unlock runs: arg must not lie in the G's frame unless a lock that unlock
// releases keeps the G from returning, and unlock must read nothing through
// arg once it has released that lock. Before publishing itself,
// the waiter sets g->claim = claim_waiting; a waker calls try_wake(g).
// Returns true when woken, false on timeout. claim is reused by the G's next
// wait: a timed-out waiter must resynchronise with its wakers (unlink itself)
// under a lock that does not itself park on claim, such as rt_lock.
bool park_until(void (*unlock)(void*), void* arg, wait_reason why, std::int64_t deadline);
// Makes a parked G runnable.
void ready(G* g);
// Yields the processor as a preemption (counted as such). preempt_check
// (sched.hpp) calls it when sysmon asked.
void preempt_yield();
// Claims and readies g if its wait is still open; false if someone else ended it.
inline bool try_wake(G* g) {
    std::uint32_t w = claim_waiting;
    if (!g->claim.compare_exchange_strong(w, claim_woken, std::memory_order_acq_rel)) return false;
    ready(g);
    return true;
}

} // namespace rill::detail
