// The live page of `rill run --http` (/): one self-contained HTML document,
// no scripts or styles from elsewhere (an operator's browser may not reach
// the internet), that polls /api/state (run_state_json.hpp) every second and
// draws the topology: stages in columns by their distance from the sources,
// channels as arrows with their fill level, the supervision tree as nested
// boxes, and each stage worker's state in colour (failed and restarting ones
// marked).
#pragma once

#include <string_view>

namespace rill::config::detail {

std::string_view live_page();

} // namespace rill::config::detail
