// A run's state as JSON, for the live page (`rill run --http`: /api/state,
// polled by the page at / every second): the runner's snapshot joined with
// the topology's shape, so that the page can draw the graph without knowing
// the file format.
//
// {"file": F, "state": S, "ready": B,
//  "channels": [{"name", "type", "capacity", "depth", "sent", "closed"}],
//  "stages": [{"id", "stage", "supervisor", "inputs": [CHANNEL], "outputs": [CHANNEL],
//              "received", "lost", "workers": [{"id", "phase", "failures", "received"}]}],
//  "supervisors": [{"id", "parent", "strategy", "intensity", "restarts",
//                   "recent_restarts", "gave_up", "children": [{"kind", "id"}]}]}
//
// Stages and supervisors come in the supervision tree's order; "parent" is
// "" for the root.
#pragma once

#include <rill/config/runner.hpp>
#include <rill/config/topology.hpp>

#include <string>

namespace rill::config::detail {

std::string state_json(const topology& t, const run_snapshot& s);

} // namespace rill::config::detail
