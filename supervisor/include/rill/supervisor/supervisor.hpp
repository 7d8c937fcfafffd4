// A supervisor (OTP's supervisor with one_for_one, one_for_all or
// rest_for_one): a goroutine that starts children in order, restarts them by
// its strategy and their restart types, gives up when restarts exceed
// intensity per period, and stops children in reverse order.
//
// Contract: start() is synchronous: it returns once every child has started,
// or stops those already started (in reverse order) and throws
// supervisor_error(start_failed). The supervisor runs in a goroutine of its
// own that serialises everything: child exits and operations (start_child,
// terminate_child, ... from any goroutine or thread) are handled one at a
// time, and a restart that fails is retried from the loop so that stop()
// and operations are still served while it fails. Its context derives from
// the one given to start(); cancelling that context, calling stop() or
// destroying the supervisor stops the children in reverse start order, each
// within its shutdown time (a child still running then is abandoned and
// reported), and ends the supervisor. Children's contexts do not derive from
// the supervisor's (so a cancelled parent cannot stop them out of order) and
// carry no values from it. Exceptions escaping children are caught here:
// they never reach rill::set_panic_handler's handler.
#pragma once

#include <rill/csp/context.hpp>
#include <rill/supervisor/child_spec.hpp>
#include <rill/supervisor/errors.hpp>
#include <rill/supervisor/options.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rill {

namespace detail {
class sup_core;

// What every kind of supervisor offers.
class supervisor_base {
public:
    supervisor_base(const supervisor_base&) = delete;
    supervisor_base& operator=(const supervisor_base&) = delete;
    supervisor_base(supervisor_base&&) noexcept = default;
    supervisor_base& operator=(supervisor_base&&) noexcept = default;

    // Starts the children (see above) under a context derived from parent.
    // May be called once.
    void start(const context& parent = background());
    // Stops the children in reverse order and ends the supervisor; returns
    // why it ended (stopped, unless it had ended already for another reason).
    sup_exit stop();
    // Waits until the supervisor has ended and returns why.
    sup_exit wait();
    // True from a successful start() until the supervisor ends.
    bool running() const;

    // The children in start order (OTP lists them last started first) and
    // their counts, as the supervisor's own goroutine sees them between two
    // of its steps: a child in a restart loop shows `restarting` under every
    // strategy, never a state in the middle of a restart. Answered by the
    // supervisor while it runs (so they wait while it is busy, e.g. stopping
    // a child), from the table as it was left otherwise. As in OTP, a child
    // must not ask its own supervisor before it has called notify_started:
    // the supervisor is waiting for that call and would never answer.
    std::vector<child_info> which_children() const;
    child_counts count_children() const;

    // "root/sub": the supervision path, used in logs, events and the view.
    std::string path() const;
    // The live view of this supervisor and its children (states, restarts).
    std::string view() const;

protected:
    explicit supervisor_base(std::shared_ptr<sup_core> core) noexcept;
    ~supervisor_base();
    std::shared_ptr<sup_core> core_;
};
} // namespace detail

class supervisor : public detail::supervisor_base {
public:
    // Checks the options and every spec: std::invalid_argument (naming the
    // supervisor and the child id) for duplicate ids, significant on a
    // permanent child or with auto_shutdown never, negative intensity, a
    // period that is not positive, a negative shutdown, a missing start.
    supervisor(supervisor_options options, std::vector<child_spec> children);
    // Stops the supervisor if it runs.
    ~supervisor() = default;
    supervisor(supervisor&&) noexcept = default;
    supervisor& operator=(supervisor&&) noexcept = default;

    // Adds a child at the end and starts it: true when it started, false when
    // it said "ignore" (its spec is then kept, unless temporary).
    // supervisor_error: already_started, already_present, start_failed (the
    // spec is not kept); std::invalid_argument for an invalid spec.
    bool start_child(child_spec spec);
    // Stops a child; its spec is kept (stopped), except a temporary child's.
    // supervisor_error: not_found.
    void terminate_child(const std::string& id);
    // Starts a stopped child again: true when it started, false on "ignore".
    // supervisor_error: not_found, running, restarting, start_failed.
    bool restart_child(const std::string& id);
    // Removes a stopped child's spec. supervisor_error: not_found, running,
    // restarting.
    void delete_child(const std::string& id);
    // One child's row of which_children. supervisor_error: not_found.
    child_info which_child(const std::string& id) const;
    // A copy of a child's spec (OTP's get_childspec). A running temporary
    // child's start is empty: its goroutine holds the only copy (OTP keeps no
    // start arguments for temporary children). supervisor_error: not_found.
    child_spec get_childspec(const std::string& id) const;
};

// Checks specs as a supervisor's constructor would (OTP's
// check_childspecs): nullopt when they are valid, else the reason.
std::optional<std::string> check_childspecs(const std::vector<child_spec>& specs,
                                            rill::auto_shutdown as = rill::auto_shutdown::never);

// A child spec that runs a supervisor built from options and children
// (kind supervisor, shutdown infinity, started synchronously: its start
// succeeds once all its children have started). Each restart builds it
// afresh. When it gives up or shuts itself down it ends with reason shutdown,
// as OTP's supervisors do: its parent restarts it only if it is permanent.
child_spec supervisor_child(std::string id, supervisor_options options,
                            std::vector<child_spec> children,
                            rill::restart restart = rill::restart::permanent);

// The live view of every running supervisor in the process, as the
// goroutine dump (SIGQUIT, rill::dump_goroutines) prints it.
std::string supervision_tree();

} // namespace rill
