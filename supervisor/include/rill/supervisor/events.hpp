// Supervisor events, for hooks and logs. Every event is also logged through
// spdlog's "rill.supervisor" logger with the supervisor's path and child id.
//
// Contract: a hook runs on the supervisor's own goroutine, in the order the
// events happen, so it must be quick and must not call the supervisor it
// observes (that would deadlock); it may record, count or send on a buffered
// channel. An exception escaping a hook is logged and ignored.
#pragma once

#include <rill/supervisor/child_spec.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <string>

namespace rill {

enum class event_kind {
    started,            // a child started (first start, start_child, restart_child)
    start_failed,       // its start threw (or, with await_started, it ended before being started)
    exited,             // a child ended; reason says how
    restarted,          // a child was started again by the restart strategy
    restart_scheduled,  // backoff: the restart waits for delay
    abandoned,          // a child ignored cancellation past its shutdown time
    intensity_exceeded, // too many restarts: the supervisor stops all children and exits
    auto_shutdown,      // a significant child ended: the supervisor shuts itself down
};

const char* to_string(event_kind k) noexcept;

struct supervisor_event {
    event_kind kind;
    std::string supervisor;                   // its path, "root/sub"
    std::string child;                        // the child's id (for dynamic children "id#n")
    exit_reason reason = exit_reason::normal; // for exited
    std::exception_ptr error;          // the exception, for abnormal exits and start failures
    std::string what;                  // error's what(), when there is one
    int restarts = 0;                  // the child's restarts so far
    std::chrono::nanoseconds delay{0}; // for restart_scheduled
};

using event_hook = std::function<void(const supervisor_event&)>;

} // namespace rill
