// A dynamic supervisor (OTP's simple_one_for_one, Elixir's DynamicSupervisor):
// no children at start, then any number of children started from one
// template spec, optionally at most max_children of them.
//
// Contract: as rill::supervisor (see supervisor.hpp) with strategy
// one_for_one, except: start_child(body) runs body with the template's restart
// type, shutdown, kind and significance — binding extra arguments into body
// is the C++ form of OTP appending start_child's arguments to the spec's;
// children are named by the ref start_child returns ("id#ref" in logs); a
// child that ends and is not restarted is forgotten (OTP keeps no stopped
// dynamic children); restart_child and delete_child do not exist here; and
// at shutdown every child is cancelled at once and waited for in parallel.
// count_children counts one spec, the template, as OTP does, and
// auto_shutdown must be never (OTP 27 refuses the combination).
// which_children lists the children in start order (OTP's order for
// simple_one_for_one is unspecified).
#pragma once

#include <rill/supervisor/supervisor.hpp>

#include <cstdint>
#include <optional>

namespace rill {

class dynamic_supervisor : public detail::supervisor_base {
public:
    // std::invalid_argument as for supervisor, and for max_children == 0.
    dynamic_supervisor(supervisor_options options, child_spec child_template);
    ~dynamic_supervisor() = default;
    dynamic_supervisor(dynamic_supervisor&&) noexcept = default;
    dynamic_supervisor& operator=(dynamic_supervisor&&) noexcept = default;

    // Starts a child running the template's start function (or body): its
    // ref, or nullopt when it said "ignore". supervisor_error: max_children,
    // start_failed.
    std::optional<std::uint64_t> start_child();
    std::optional<std::uint64_t> start_child(child_fn body);
    // Stops the child and forgets it; nothing to do for a child that has
    // ended already (OTP returns ok too). supervisor_error: not_found for a
    // ref this supervisor never gave out.
    void terminate_child(std::uint64_t ref);
    // One child's row of which_children. supervisor_error: not_found.
    child_info which_child(std::uint64_t ref) const;
    // The template spec (OTP's get_childspec on simple_one_for_one).
    child_spec get_childspec() const;
};

} // namespace rill
