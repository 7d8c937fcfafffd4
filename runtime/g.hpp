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

enum class gstatus : std::uint32_t { idle, runnable, running, waiting, dead };

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

// The current goroutine, or the calling plain thread's stand-in. Never null.
// Re-read after anything that may park: the goroutine may have moved threads.
G* getg() noexcept;
// Parks the current G until ready(g). unlock(arg) runs once the G's context
// is saved (on the scheduler stack for goroutines), so a waker that needs the
// lock unlock releases cannot run the G before it has stopped.
void park(void (*unlock)(void*), void* arg, wait_reason why);
// As park, and at deadline (steady nanotime) the wait ends with
// claim_timeout unless a waker claimed it first. Before publishing itself,
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
