// Child specifications (OTP's child_spec()): what a supervisor starts, when it
// restarts it and how it stops it.
//
// Contract: a child is a goroutine body receiving its own rill::context, which
// the supervisor cancels to stop it. How the child ends is its exit reason,
// classified as OTP classifies exits: returning by itself is `normal`;
// returning (or throwing context_canceled) after the supervisor cancelled it,
// or throwing rill::shutdown_exit at any time, is `shutdown`; any other
// exception is `abnormal` (a panic). Start is synchronous when await_started is
// set: the child counts as started once it calls rill::notify_started(ctx); an
// exception before that is a start failure and a return before that means
// "ignore" (OTP's init returning ignore). Without await_started the child
// counts as started as soon as its goroutine is spawned.
#pragma once

#include <rill/csp/context.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rill {

// When a terminated child is restarted.
enum class restart {
    permanent, // always
    transient, // only after an abnormal exit
    temporary, // never; its spec is deleted once it has ended
};

enum class child_kind { worker, supervisor };

// How a child (or a supervisor) ended.
enum class exit_reason { normal, shutdown, abnormal };

// Every restart type in declaration order. to_string(restart) holds each
// one's word (OTP's atom, also a topology file's); restart_from reads it back.
inline constexpr std::array restart_types{restart::permanent, restart::transient,
                                          restart::temporary};
const char* to_string(restart r) noexcept;
std::optional<restart> restart_from(std::string_view word) noexcept;
const char* to_string(child_kind k) noexcept;
const char* to_string(exit_reason r) noexcept;

// Shutdown times. A goroutine cannot be killed, so a child still running when
// its shutdown time is up is abandoned (reported, then forgotten); zero is
// OTP's brutal_kill: cancel and abandon at once unless it has already ended.
inline constexpr std::chrono::nanoseconds shutdown_infinity = std::chrono::nanoseconds::max();
// The default: 5 s for a worker, infinity for a supervisor (as OTP).
inline constexpr std::chrono::nanoseconds shutdown_default{-1};

using child_fn = std::function<void(const context&)>;

struct child_spec {
    std::string id{};
    child_fn start{};
    rill::restart restart = rill::restart::permanent;
    std::chrono::nanoseconds shutdown = shutdown_default;
    child_kind kind = child_kind::worker;
    // Counts for the supervisor's auto_shutdown; invalid on a permanent child.
    bool significant = false;
    // Started only once the body calls notify_started(ctx) (see above).
    bool await_started = false;
};

// Tells the supervisor that the child whose context this is has started
// (OTP's init returning {ok, State}). Only the first call counts; outside a
// supervised child it does nothing.
void notify_started(const context& ctx);

// Thrown by a child to end with reason shutdown (OTP's exit({shutdown, Term})):
// not abnormal, so a transient child is not restarted. A supervisor that gave
// up (restart intensity) or shut itself down (auto_shutdown) ends with one.
class shutdown_exit : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The path of the supervised child (or supervisor) running under ctx, as
// "root/child/grandchild"; empty outside a supervision tree.
std::string supervision_path(const context& ctx);

} // namespace rill
