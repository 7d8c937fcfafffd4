// `rill run FILE`: a topology run as a service. Loads FILE (problems ->
// printed, 1), applies its runtime settings, runs it under rill::run and
// returns run_result::exit_code(). SIGINT and SIGTERM are blocked in every
// thread and taken by a thread of its own with sigwait: the first drains the
// run, the second stops it. While it runs, SIGQUIT dumps show the runner's
// view (the supervision tree, channel fill levels) after the goroutines.
#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <optional>
#include <string>

namespace rill::config {

struct run_command_options {
    std::optional<std::chrono::nanoseconds> grace{}; // default: the topology's runtime.grace
    std::optional<spdlog::level::level_enum> log_level{};
    // Log records as text, or as one JSON object per line (json_log.hpp); with
    // json, FILE's problems are logged as errors too, so that every line on
    // stderr is JSON.
    bool json_logs = false;
    // "ip:port" to serve the admin endpoint on (<rill/admin/server.hpp>:
    // /metrics with the run's channels, stages and supervisors, /readyz
    // ready once every stage has started and until a drain); none if unset.
    std::optional<std::string> http{};
};

int run_command(const std::string& file, const run_command_options& opts);

} // namespace rill::config
