// The runner's own goroutines around the stages' ports: fan-in merges, fan-out
// copies and discards for unbound optional outputs. Each one gives up when
// `stop` (the run's hard-stop signal) is closed, counting in `lost` the value
// it held then, and the group counts them so that the runner can wait for
// every one before it releases the channels (and reads `lost`).
#pragma once

#include <rill/config/stage_io.hpp>
#include <rill/sync.hpp>

#include <atomic>
#include <cstdint>
#include <vector>

namespace rill::config::detail {

// Copies every value of each source into merged (one goroutine per source);
// the last one to see its source closed closes merged.
void spawn_merge(rill::wait_group& group, const std::vector<rill::detail::chan_core*>& sources,
                 rill::detail::chan_core* merged, const type_desc& t, rill::detail::chan_core* stop,
                 std::atomic<std::uint64_t>& lost);

// Sends a copy of every value of from to each target (the last one gets the
// value itself), then closes the targets once from is closed. A value that
// reached only some targets when stopped counts as lost.
void spawn_copy(rill::wait_group& group, rill::detail::chan_core* from,
                std::vector<port_core> targets, const type_desc& t, rill::detail::chan_core* stop,
                std::atomic<std::uint64_t>& lost);

// Receives and drops every value of from until it is closed.
void spawn_discard(rill::wait_group& group, rill::detail::chan_core* from, const type_desc& t,
                   rill::detail::chan_core* stop);

} // namespace rill::config::detail
