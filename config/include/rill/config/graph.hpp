// A loaded topology as a picture: Graphviz dot text (`rill graph`). Part of
// the format, not of running; runner.hpp includes this header, where to_dot
// was declared before, so code that includes only runner.hpp still finds it.
#pragma once

#include <rill/config/topology.hpp>

#include <string>

namespace rill::config {

// Graphviz dot: channels as labelled edges (type, capacity), stages as
// nodes (workers shown), supervisors as nested clusters.
std::string to_dot(const topology& t);

} // namespace rill::config
