// Running a loaded topology: one channel per declared channel, each stage's
// workers as children of the supervisors the file nests them under, the run
// ending when every stage has finished, or when the root supervisor gives up.
//
// Contract:
// - A channel is closed once every worker writing to it has finished (returned
//   normally); a failed worker is restarted by its supervisor and the channel
//   stays open. Fan-in ports read a merge of their channels; fan-out ports
//   copy every value to each channel.
// - drain() (SIGINT/SIGTERM in `rill run`) cancels the sources only; they
//   finish, their channels close, and everything downstream runs until its
//   input is drained, so nothing accepted is lost. If that takes longer than
//   the grace period, or on stop(), every stage is cancelled (values still in
//   channels, and those the stages held, are then counted and reported as
//   lost: run_result::channels and ::stages).
// - Supervision follows OTP: a stage failing past its supervisor's intensity
//   takes that supervisor down and its parent decides. If the root gives up,
//   or a nested supervisor that its parent does not restart (transient or
//   temporary), the run ends with outcome gave_up and says which supervisor
//   and which child kept failing: that supervisor's stages stopped unfinished.
// - A temporary worker that fails is never restarted: it counts as finished,
//   so the channels it alone writes close.
#pragma once

#include <rill/config/graph.hpp> // to_dot, declared here before
#include <rill/config/registry.hpp>
#include <rill/config/topology.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rill::config {

namespace detail {
class run_state;
} // namespace detail

enum class run_outcome {
    completed,     // every stage finished by itself (the sources ran dry)
    drained,       // drain() was called and everything drained in time
    drain_timeout, // drain() was called and the grace period ran out
    stopped,       // stop() was called
    gave_up,       // the root, or a nested supervisor not restarted, exceeded its intensity
    start_failed,  // a stage failed to start
};
const char* to_string(run_outcome o) noexcept;

struct channel_stats {
    std::string name;
    std::uint64_t sent = 0; // values that entered the channel
    std::size_t left = 0;   // values still buffered when the run ended
};

// One stage, over every worker and restart. Of the values received, those
// not lost were passed on or consumed (a sink's delivered values, a
// filter's dropped ones).
struct stage_stats {
    std::string id;
    std::uint64_t received = 0; // values taken from its inputs
    std::uint64_t lost = 0;     // values it, or its fan-in/fan-out, held when stopped
};

struct run_result {
    run_outcome outcome;
    std::string message; // what happened, for people; never just the outcome's name
                         // (empty on completed/drained)
    // For each declared channel, sent = taken by its reader + left; for each
    // stage, what it received and what of that it lost. Values are never
    // lost silently: every one that entered a channel was taken by a stage
    // and passed on or consumed, is left in a channel, or is counted as lost
    // by the stage that held it.
    std::vector<channel_stats> channels;
    std::vector<stage_stats> stages;
    int exit_code() const noexcept; // see README: 0 completed/drained, 3 gave_up, 4 drain_timeout,
                                    // 5 stopped, 6 start_failed
};

struct run_options {
    const registry* stages = nullptr;                // default: registry::global()
    std::optional<std::chrono::nanoseconds> grace{}; // default: the topology's runtime.grace
};

// A run at one moment, for monitoring (`rill run --http`: /metrics and
// /readyz). Taken under the run's lock, so its parts agree with each other.
struct run_snapshot {
    struct channel {
        std::string name;
        std::size_t capacity = 0;
        std::size_t depth = 0;  // values buffered now
        std::uint64_t sent = 0; // values that entered it
        bool closed = false;
    };
    struct worker {
        std::string id;             // "stage", or "stage#n" for one of several workers
        std::string phase;          // waiting, running, failed or finished
        int failures = 0;           // times its stage function threw
        std::uint64_t received = 0; // values taken from its inputs, over its runs
    };
    struct stage {
        std::string id;
        std::string supervisor;     // the supervisor it runs under
        std::uint64_t received = 0; // values taken from its inputs, all workers (live)
        std::uint64_t lost = 0;     // values held when a run of it ended
        std::vector<worker> workers;
    };
    struct supervisor {
        std::string id;
        int intensity = 0;          // restarts allowed per period
        std::uint64_t restarts = 0; // children it restarted, over the run
        int recent_restarts = 0;    // of those, within the last period
        bool gave_up = false;       // it exceeded its intensity
    };
    std::string state;             // starting, running, draining, stopping or "ended: OUTCOME"
    bool ready = false;            // every stage started; not draining, stopping or ended
    std::vector<channel> channels; // in declaration order
    // In the supervision tree's order (each supervisor, then its children):
    std::vector<stage> stages;
    std::vector<supervisor> supervisors; // the root first
};

// One run. Must be used from inside a goroutine (rill::run); drain() and
// stop() may be called from any goroutine or thread.
class runner {
public:
    runner(const topology& t, run_options opts = {});
    ~runner(); // stops the run if it is still going
    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;

    void start();             // throws supervisor_error(start_failed) via the root supervisor
    void drain();             // begin a drain (idempotent)
    void stop();              // stop hard (idempotent)
    run_result wait();        // until the run ends
    std::string view() const; // the supervision tree with per-channel fill levels
    run_snapshot snapshot() const;

private:
    std::shared_ptr<detail::run_state> impl_;
};

} // namespace rill::config
