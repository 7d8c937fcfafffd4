// The runner's own goroutines around the stages' ports: fan-in merges, fan-out
// copies and discards for unbound optional outputs. Each one gives up when
// `stop` (the run's hard-stop signal) is closed, and the group counts them so
// that the runner can wait for every one before it releases the channels.
#pragma once

#include <rill/config/stage_io.hpp>
#include <rill/sync.hpp>

#include <vector>

namespace rill::config::detail {

// Copies every value of each source into merged (one goroutine per source);
// the last one to see its source closed closes merged.
void spawn_merge(rill::wait_group& group, const std::vector<rill::detail::chan_core*>& sources,
                 rill::detail::chan_core* merged, const type_desc& t,
                 rill::detail::chan_core* stop);

// Sends a copy of every value of from to each target (the last one gets the
// value itself), then closes the targets once from is closed.
void spawn_copy(rill::wait_group& group, rill::detail::chan_core* from,
                std::vector<port_core> targets, const type_desc& t, rill::detail::chan_core* stop);

// Receives and drops every value of from until it is closed.
void spawn_discard(rill::wait_group& group, rill::detail::chan_core* from, const type_desc& t,
                   rill::detail::chan_core* stop);

} // namespace rill::config::detail
