#include "run/run_metrics.hpp"
#include "run/live_page.hpp"
#include "run/run_state_json.hpp"

#include <array>
#include <string>

namespace rill::config::detail {

namespace {

using enum admin::metric_type;

double d(std::uint64_t v) { return static_cast<double>(v); }

void write_channel(const run_snapshot::channel& c, admin::exposition& out) {
    admin::labels ls{{"channel", c.name}};
    out.add("rill_channel_capacity", gauge, "Values a channel buffers at most.", ls, d(c.capacity));
    out.add("rill_channel_depth", gauge, "Values buffered in a channel now.", ls, d(c.depth));
    out.add("rill_channel_sent_total", counter, "Values that entered a channel.", ls, d(c.sent));
    out.add("rill_channel_closed", gauge, "1 once a channel is closed (its writers finished).", ls,
            c.closed ? 1 : 0);
}

void write_stage(const run_snapshot::stage& s, admin::exposition& out) {
    admin::labels ls{{"stage", s.id}, {"supervisor", s.supervisor}};
    out.add("rill_stage_received_total", counter, "Values a stage took from its inputs.", ls,
            d(s.received));
    out.add("rill_stage_lost_total", counter,
            "Values a stage held when a run of it was stopped or failed.", ls, d(s.lost));
    static constexpr std::array phases = {"waiting", "running", "failed", "finished"};
    for (const auto& w : s.workers) {
        admin::labels wl{{"stage", s.id}, {"worker", w.id}};
        out.add("rill_stage_worker_received_total", counter,
                "Values a stage worker took from its inputs.", wl, d(w.received));
        out.add("rill_stage_worker_failures_total", counter,
                "Times a stage worker's function threw.", wl, w.failures);
        for (const char* p : phases) {
            admin::labels pl = wl;
            pl.emplace_back("state", p);
            out.add("rill_stage_worker_state", gauge,
                    "A stage worker's state: 1 for the current one.", pl, w.phase == p ? 1 : 0);
        }
    }
}

void write_supervisor(const run_snapshot::supervisor& s, admin::exposition& out) {
    admin::labels ls{{"supervisor", s.id}};
    out.add("rill_supervisor_restarts_total", counter, "Children a supervisor restarted.", ls,
            d(s.restarts));
    out.add("rill_supervisor_intensity_used_ratio", gauge,
            "Restarts within a supervisor's period over the restarts it allows there.", ls,
            s.intensity > 0 ? static_cast<double>(s.recent_restarts) / s.intensity : 0);
    for (const char* state : {"running", "gave_up"}) {
        admin::labels sl = ls;
        sl.emplace_back("state", state);
        out.add("rill_supervisor_state", gauge, "A supervisor's state: 1 for the current one.", sl,
                s.gave_up == (std::string_view(state) == "gave_up") ? 1 : 0);
    }
}

} // namespace

void write_run_metrics(const run_snapshot& s, admin::exposition& out) {
    out.add("rill_topology_ready", gauge,
            "1 while every stage has started and the run is not draining or stopping.",
            s.ready ? 1 : 0);
    for (const auto& c : s.channels)
        write_channel(c, out);
    for (const auto& st : s.stages)
        write_stage(st, out);
    for (const auto& sup : s.supervisors)
        write_supervisor(sup, out);
}

admin::server_options run_admin_options(const runner& r, const topology& t, std::string listen) {
    admin::server_options o;
    o.listen = std::move(listen);
    o.metrics = std::make_shared<admin::registry>();
    o.metrics->add([&r](admin::exposition& out) { write_run_metrics(r.snapshot(), out); });
    o.pages["/"] = {"text/html; charset=utf-8", [] { return std::string(live_page()); }};
    o.pages["/api/state"] = {"application/json", [&r, &t] { return state_json(t, r.snapshot()); }};
    o.not_ready = [&r] {
        auto s = r.snapshot();
        return s.ready ? std::string() : s.state;
    };
    return o;
}

} // namespace rill::config::detail
