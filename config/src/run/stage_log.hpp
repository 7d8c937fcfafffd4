// The "rill.stage" logger: stage failures and what built-in stages report.
// A logger registered under that name before the first use is used as is, so
// programs and tests choose its sinks and level.
#pragma once

#include <spdlog/logger.h>

namespace rill::config::detail {
spdlog::logger& stage_log();
// The logger registered under name, else a new one on stderr; kept for the
// whole process (an abandoned stage, or a library thread, may log after main
// returns).
spdlog::logger& process_logger(const char* name);
} // namespace rill::config::detail
