// The signal masks of the runtime's threads (mirrors Go's initSigmask, the
// sigprocmask around clone in newosproc, and minitSignalMask in
// signal_unix.go).
//
// The process's original mask is the mask of the thread that starts the
// runtime (normally main, before rill::run), read once at start-up. Every
// runtime thread is started with every signal blocked (start_thread), so it
// inherits nothing from whichever thread started it — sysmon, which blocks
// SIGURG, or an M running inside a signal handler — and takes no signal
// before it is set up; then it sets the mask meant for its kind:
// - an M: the original mask, less SIGURG (asynchronous preemption);
// - sysmon and the SIGQUIT dump thread: the original mask plus SIGURG and
//   SIGQUIT. They run no goroutine to preempt, the dump thread is woken
//   through an eventfd, and a signal would only cut their waits short.
// Neither blocks the fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
// SIGSYS), whatever the original mask says: a blocked fault kills the
// process without running any handler, neither the runtime's stack-overflow
// report nor a sanitizer's.
//
// A process forked by an M (a goroutine, in or out of rill::blocking) gets
// the original mask back in the child (a pthread_atfork handler), so that a
// program it execs starts as it would without the runtime. posix_spawn, and
// system() and popen() built on it, run no fork handlers: their children
// start with the M's mask, which differs from the original only where the
// original blocked SIGURG or a fault signal.
#pragma once

#include <signal.h>

namespace rill::detail {

enum class thread_kind {
    m,      // runs goroutines
    helper, // sysmon, the dump thread
};

// Reads the original mask. Once, before the runtime starts any thread.
void signals_init();
// The first thing a runtime thread does: sets the mask meant for its kind.
void signals_thread_start(thread_kind kind) noexcept;
// Blocks every signal on the calling thread and returns the mask it had, for
// signals_restore: around pthread_create, so the new thread starts with
// every signal blocked.
sigset_t signals_block_all() noexcept;
void signals_restore(const sigset_t& mask) noexcept;
// Whether `mask`, the mask an interrupted context ran with (uc_sigmask), is
// an M's own. Anything else means the M was inside a signal handler (which
// blocks at least its own signal, unless installed with SA_NODEFER and an
// empty sa_mask) or code that blocked signals itself. Async-signal-safe.
bool is_m_sigmask(const sigset_t& mask) noexcept;

} // namespace rill::detail
