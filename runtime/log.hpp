// The runtime's logger: spdlog logger "rill", writing to stderr like Go's
// runtime messages. A program that registers its own logger named "rill"
// before the runtime first logs gets the runtime's messages there instead.
#pragma once

#include <spdlog/logger.h>

namespace rill::detail {

spdlog::logger& runtime_log();

} // namespace rill::detail
