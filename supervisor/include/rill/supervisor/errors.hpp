// Errors of supervisor operations, mirroring OTP's {error, ...} tuples. Every
// operation on a running supervisor either succeeds or throws
// supervisor_error with one of these codes; invalid specs and options throw
// std::invalid_argument naming the supervisor and the child id instead.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace rill {

enum class sup_errc {
    not_found,       // no child with that id (or dynamic child with that ref)
    running,         // restart_child / delete_child on a running child
    restarting,      // ... on a child waiting for its restart
    already_started, // start_child with the id of a running child
    already_present, // start_child with the id of a stopped child whose spec is kept
    max_children,    // a dynamic supervisor at its limit
    start_failed,    // the child's start threw; nested_reason() holds the exception
    not_running,     // the supervisor has not started or has exited
};

const char* to_string(sup_errc e) noexcept;

class supervisor_error : public std::runtime_error {
public:
    supervisor_error(sup_errc code, const std::string& what, std::exception_ptr reason = nullptr)
        : std::runtime_error(what), code_(code), reason_(std::move(reason)) {}
    sup_errc code() const noexcept { return code_; }
    // For start_failed: what the child threw.
    std::exception_ptr nested_reason() const noexcept { return reason_; }

private:
    sup_errc code_;
    std::exception_ptr reason_;
};

} // namespace rill
