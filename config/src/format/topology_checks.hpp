// The checks on a decoded topology as a graph: every channel has exactly one
// writer and one reader, port and channel types agree (binding generic
// stages' T), fanned-out types can be copied, and stage -> channel -> stage
// has no cycle (a drain could not finish). Every binding and stage named in
// t is known to exist; problems are appended to errors.
#pragma once

#include <rill/config/diagnostic.hpp>
#include <rill/config/registry.hpp>
#include <rill/config/topology.hpp>

#include <string>
#include <unordered_set>
#include <vector>

namespace rill::config {

// The part of a graph that t may not show when the file had errors, so that
// the checks still run on the rest: the channels named by a stage that is
// not in t (of an unknown stage type, declared twice) or under an unknown
// port, whose writers and readers t may not all hold; `all` when any channel
// may be missing ends (the stages section or an included file could not be
// read). Only "never written" / "never read" depend on it: every other check
// reports what the stages in t do themselves.
struct unsure_ends {
    bool all = false;
    std::unordered_set<std::string> channels;
};

// Also sets each generic stage's type_param.
void check_graph(topology& t, const registry& r, const unsure_ends& unsure,
                 std::vector<diagnostic>& errors);

} // namespace rill::config
