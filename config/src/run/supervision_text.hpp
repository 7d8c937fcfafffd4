// How a supervisor's strategy and limits read in logs and views: "one_for_one,
// at most 10 restarts in 1m, backoff 10ms to 5s (x2)".
#pragma once

#include <rill/config/topology.hpp>

#include <string>

namespace rill::config::detail {
std::string describe_limits(const supervisor_decl& d);
} // namespace rill::config::detail
