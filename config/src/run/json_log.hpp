// `rill run --log-format json`: every log record as one JSON object on a line
// of its own, for log collectors (journald, Vector, Loki, ...):
//   {"time": "2026-12-03T17:43:02.123456Z", "level": "warning",
//    "logger": "rill.supervisor", "message": "supervisor root: child boom ...",
//    "supervisor": "root", "child": "boom"}
// time is UTC with microseconds; level is spdlog's name (trace, debug, info,
// warning, error, critical). rill's own messages about a stage begin
// "stage ID: " or "stage ID (", and those of a supervisor "supervisor PATH: "
// or "supervisor PATH (", then often "child NAME ": those give the record's
// stage, supervisor and child fields, which are left out where the message
// names none.
#pragma once

#include <spdlog/formatter.h>

#include <memory>

namespace rill::config::detail {

class json_log_formatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
    std::unique_ptr<spdlog::formatter> clone() const override;
};

} // namespace rill::config::detail
