// The checks on a decoded topology as a graph: every channel has exactly one
// writer and one reader, port and channel types agree (binding generic
// stages' T), fanned-out types can be copied, and stage -> channel -> stage
// has no cycle (a drain could not finish). Every binding and stage named in
// t is known to exist; problems are appended to errors.
#pragma once

#include <rill/config/diagnostic.hpp>
#include <rill/config/registry.hpp>
#include <rill/config/topology.hpp>

#include <vector>

namespace rill::config {

// Also sets each generic stage's type_param.
void check_graph(topology& t, const registry& r, std::vector<diagnostic>& errors);

} // namespace rill::config
