// Supervisor flags (OTP's sup_flags()) and what a supervisor reports about
// its children and itself.
#pragma once

#include <rill/supervisor/backoff.hpp>
#include <rill/supervisor/child_spec.hpp>
#include <rill/supervisor/events.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rill {

enum class strategy { one_for_one, one_for_all, rest_for_one };

enum class auto_shutdown { never, any_significant, all_significant };

// Every strategy in declaration order; to_string(strategy) holds the words,
// strategy_from reads one back.
inline constexpr std::array strategies{strategy::one_for_one, strategy::one_for_all,
                                       strategy::rest_for_one};
const char* to_string(strategy s) noexcept;
std::optional<strategy> strategy_from(std::string_view word) noexcept;
const char* to_string(auto_shutdown a) noexcept;

struct supervisor_options {
    // The last element of the supervisor's path; a supervisor started under
    // another takes its child id instead.
    std::string name = "supervisor";
    rill::strategy strategy = rill::strategy::one_for_one; // ignored by dynamic_supervisor
    // More than `intensity` restarts within `period` and the supervisor gives up.
    int intensity = 1;
    std::chrono::nanoseconds period = std::chrono::seconds(5);
    rill::auto_shutdown auto_shutdown = rill::auto_shutdown::never;
    // Dynamic supervisors only: at most this many children (none: no limit).
    std::optional<std::size_t> max_children{};
    std::optional<rill::backoff> backoff{};
    event_hook on_event{};
};

enum class child_state {
    running,
    restarting, // a restart failed and is being retried, or waits for its backoff
    stopped,    // OTP's pid `undefined`: the spec is kept, no goroutine runs
};
const char* to_string(child_state s) noexcept;

// One row of which_children.
struct child_info {
    std::string id;
    std::uint64_t ref = 0; // dynamic children: what terminate_child takes
    child_state state;
    child_kind kind;
    rill::restart restart;
    int restarts = 0; // times this child was restarted by the supervisor
};

// count_children: specs (children known), active (running), and specs by kind.
struct child_counts {
    std::size_t specs = 0;
    std::size_t active = 0;
    std::size_t supervisors = 0;
    std::size_t workers = 0;
};

// Why a supervisor ended.
enum class sup_exit {
    stopped,            // stop(), destruction, or its parent context was cancelled
    intensity_exceeded, // it gave up (OTP: reached_max_restart_intensity, reason shutdown)
    auto_shutdown,      // a significant child ended (OTP: reason shutdown)
    start_failed,       // a child failed to start during start()
};
const char* to_string(sup_exit e) noexcept;

} // namespace rill
