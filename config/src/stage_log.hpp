// The "rill.stage" logger: stage failures and what built-in stages report.
// A logger registered under that name before the first use is used as is, so
// programs and tests choose its sinks and level.
#pragma once

#include <spdlog/logger.h>

namespace rill::config::detail {
spdlog::logger& stage_log();
} // namespace rill::config::detail
