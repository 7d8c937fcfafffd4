// Asynchronous preemption (mirrors Go's runtime/preempt.go and the SIGURG
// half of signal_unix.go). sysmon flags a goroutine that ran too long and
// signals its M; the SIGURG handler stops the goroutine right there only at a
// safe point, else the flag waits for the next preempt_check().
//
// Safe point: the M holds its P and no runtime lock and is not in a
// blocking call, the goroutine is not in a no_preempt section nor locked to
// its thread, the interrupted context is on the goroutine's own stack and
// ran with the M's own signal mask, and the interrupted instruction lies in
// the executable's own code outside the runtime (and its logging libraries)
// and outside the PLT stubs, so never in libc, the loader or libstdc++, which
// keep thread-tied state (locks, errno, TLS addresses) that must not move
// threads, nor on the way there from the runtime.
//
// The mask rule keeps signal handlers whole: a handler that interrupted a
// goroutine runs on the goroutine's stack (unless installed with
// SA_ONSTACK, when the stack rule already excludes it), and preempted there
// it would finish on another thread, with its signal still blocked on the
// first one and the code it interrupted (perhaps the runtime's) resumed on
// the wrong M. While a handler runs, the kernel blocks its signal and its
// sa_mask on top of the M's mask, so the interrupted context's mask tells.
// Undetectable: a handler installed with SA_NODEFER and an empty sa_mask on
// a goroutine's stack, which looks like the goroutine's own code and may be
// preempted. Code that blocked signals itself (pthread_sigmask) is not
// preempted either until it restores the mask.
//
// The handler runs on the goroutine's own stack (not the alternate signal
// stack), so the kernel's signal frame is the injected frame: it lies below
// the x86-64 red zone and holds every general-purpose, vector and flags
// register. The handler switches away from inside itself; when the goroutine
// is resumed, possibly on another M, it returns and sigreturn restores the
// interrupted state exactly.
//
// Goroutines may outlive main, and SIGURG with them: everything the handler
// reads is allocated once and never destroyed, so that static destruction
// cannot free it under a late signal.
#pragma once

#include <cstdint>

namespace rill::detail {

struct M;

// Installs the SIGURG handler and reads the executable's symbol table to
// tell user code from runtime code. Async preemption is off (cooperative
// only) where that cannot be done: under TSan (it defers signals to its own
// safe points), with RILL_ASYNC_PREEMPT=0, or for an executable without a
// symbol table.
void preempt_init();
bool async_preempt_enabled() noexcept;
// Sends SIGURG to m's thread if async preemption is on.
void signal_preempt(M* m);
// Whether an interruption at pc may be turned into a preemption (exposed for
// tests).
bool pc_is_preemptible(std::uintptr_t pc) noexcept;

} // namespace rill::detail
