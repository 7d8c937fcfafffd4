// A run's metrics for the admin endpoint's /metrics (`rill run --http`),
// and that endpoint's options for a run:
// per channel, stage worker and supervisor, from one runner::snapshot(), as
// rill_* families with Prometheus's conventions (counters end in _total; a
// worker's or supervisor's state is a state set: one sample per state, 1 for
// the current one, so that a query can sum or alert on any of them).
#pragma once

#include <rill/admin/metrics.hpp>
#include <rill/admin/server.hpp>
#include <rill/config/runner.hpp>

#include <string>

namespace rill::config::detail {

void write_run_metrics(const run_snapshot& s, admin::exposition& out);

// The admin endpoint's options for a run (`rill run --http LISTEN`):
// /metrics with write_run_metrics, /readyz ready while run_snapshot::ready,
// the live page at / and its data at /api/state. The runner and the
// topology it runs must outlive the server made with them.
admin::server_options run_admin_options(const runner& r, const topology& t, std::string listen);

} // namespace rill::config::detail
