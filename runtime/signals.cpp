// The signal masks of the runtime's threads. See signals.hpp.
#include "signals.hpp"

#include "log.hpp"
#include "sched.hpp"

#include <pthread.h>

#include <cstring>

namespace rill::detail {

namespace {

// Written once by signals_init, before any runtime thread exists; read by
// the threads it starts, by the SIGURG handler and in forked children. Plain
// data, never destroyed: goroutines and handlers may run after main returns.
sigset_t original_mask;
sigset_t m_mask;
sigset_t helper_mask;

constexpr int fault_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};

// In the child of a fork: an M's mask was the runtime's choice, not the
// program's, so the child gets the original one. A plain thread's child
// keeps its parent's mask, as POSIX has it.
void restore_original_in_child() {
    if (current_m()) pthread_sigmask(SIG_SETMASK, &original_mask, nullptr);
}

} // namespace

void signals_init() {
    pthread_sigmask(SIG_SETMASK, nullptr, &original_mask);
    m_mask = original_mask;
    helper_mask = original_mask;
    for (int sig : fault_signals) {
        sigdelset(&m_mask, sig);
        sigdelset(&helper_mask, sig);
    }
    sigdelset(&m_mask, SIGURG);
    sigaddset(&helper_mask, SIGURG);
    sigaddset(&helper_mask, SIGQUIT);
    if (int rc = pthread_atfork(nullptr, nullptr, restore_original_in_child); rc != 0)
        runtime_log().warn("rill: programs that goroutines fork get the runtime's signal mask, "
                           "not the original one (pthread_atfork: {})",
                           std::strerror(rc));
}

void signals_thread_start(thread_kind kind) noexcept {
    pthread_sigmask(SIG_SETMASK, kind == thread_kind::m ? &m_mask : &helper_mask, nullptr);
}

sigset_t signals_block_all() noexcept {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    return old;
}

void signals_restore(const sigset_t& mask) noexcept {
    pthread_sigmask(SIG_SETMASK, &mask, nullptr);
}

bool is_m_sigmask(const sigset_t& mask) noexcept {
    // Signal by signal: the kernel writes only its own sigset size into a
    // signal frame's uc_sigmask, and what follows it there is not a mask.
    for (int sig = 1; sig < NSIG; ++sig)
        if (sigismember(&mask, sig) != sigismember(&m_mask, sig)) return false;
    return true;
}

} // namespace rill::detail
