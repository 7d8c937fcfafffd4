// The live view of a run: the supervision tree as the topology declares it,
// each stage worker's phase and failures, and every channel's fill level.
#include "run/run_state.hpp"
#include "run/supervision_text.hpp"

#include <fmt/format.h>

namespace rill::config::detail {

const char* to_string(worker_phase p) noexcept {
    switch (p) {
    case worker_phase::waiting:
        return "waiting";
    case worker_phase::running:
        return "running";
    case worker_phase::failed:
        return "failed";
    case worker_phase::finished:
        return "finished";
    }
    return "?";
}

void run_state::render_supervisor(std::string& out, const supervisor_decl& d, int depth) const {
    std::string pad(static_cast<std::size_t>(depth) * 2, ' ');
    out += fmt::format("{}supervisor {} ({})\n", pad, d.id, describe_limits(d));
    for (auto& c : d.children) {
        if (c.kind == child_ref::supervisor) {
            render_supervisor(out, *supervisor_at_.at(c.id), depth + 1);
            continue;
        }
        if (auto it = stage_at_.find(c.id); it != stage_at_.end()) {
            const stage_run& s = *it->second;
            for (int w = 0; w < s.decl->workers; ++w) {
                auto& ws = s.workers[static_cast<std::size_t>(w)];
                out += fmt::format("{}  stage {} ({}) {} failures={}", pad, worker_id(*s.decl, w),
                                   s.decl->stage, to_string(ws.phase), ws.failures);
                if (!ws.last_error.empty()) out += " last error: " + ws.last_error;
                out += "\n";
            }
        }
    }
}

std::string run_state::state_locked() const {
    return result_        ? std::string("ended: ") + config::to_string(result_->outcome)
           : stopping_    ? "stopping"
           : draining_    ? "draining"
           : all_started_ ? "running"
                          : "starting";
}

std::string run_state::render(bool try_only) const {
    std::unique_lock lk(mu_, std::defer_lock);
    if (!try_only)
        lk.lock();
    else if (!lk.try_lock())
        return "topology " + topo_.file + ": busy (its table is being changed)\n";
    std::string out = fmt::format("topology {}: {}\n", topo_.file, state_locked());
    render_supervisor(out, root_decl(), 0);
    out += "channels:\n";
    for (auto& ch : channels_)
        out += fmt::format("  {} ({}) {}/{} sent={}{}\n", ch.decl->name, ch.decl->type,
                           rill::detail::chan_len(ch.c.get()), ch.decl->capacity,
                           ch.sent.load(std::memory_order_relaxed),
                           rill::detail::chan_closed(ch.c.get()) ? " closed" : "");
    return out;
}

void run_state::count_restart(const supervisor_decl& d) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lk(mu_);
    auto& c = supervision_[&d];
    ++c.restarts;
    c.recent.push_back(now);
    while (!c.recent.empty() && now - c.recent.front() > d.period)
        c.recent.pop_front();
}

void run_state::snapshot_supervisor(run_snapshot& out, const supervisor_decl& d) const {
    auto now = std::chrono::steady_clock::now();
    run_snapshot::supervisor sup{d.id, d.intensity, 0, 0, false};
    if (auto it = supervision_.find(&d); it != supervision_.end()) {
        sup.restarts = it->second.restarts;
        for (auto t : it->second.recent)
            sup.recent_restarts += now - t <= d.period;
        sup.gave_up = it->second.gave_up;
    }
    out.supervisors.push_back(std::move(sup));
    for (auto& c : d.children) {
        if (c.kind == child_ref::supervisor) {
            snapshot_supervisor(out, *supervisor_at_.at(c.id));
            continue;
        }
        const stage_run& s = *stage_at_.at(c.id);
        run_snapshot::stage st{
            s.decl->id, d.id, s.received.load(std::memory_order_relaxed), s.lost, {}};
        for (int w = 0; w < s.decl->workers; ++w) {
            auto& ws = s.workers[static_cast<std::size_t>(w)];
            // The run in progress's count too: settled only when it ends.
            std::uint64_t live =
                ws.current ? ws.current->received.load(std::memory_order_relaxed) : 0;
            st.received += live;
            st.workers.push_back(
                {worker_id(*s.decl, w), to_string(ws.phase), ws.failures, ws.received + live});
        }
        out.stages.push_back(std::move(st));
    }
}

run_snapshot run_state::snapshot() const {
    std::lock_guard lk(mu_);
    run_snapshot out;
    out.state = state_locked();
    out.ready = out.state == "running";
    for (auto& ch : channels_)
        out.channels.push_back(
            {ch.decl->name, ch.decl->capacity, rill::detail::chan_len(ch.c.get()),
             ch.sent.load(std::memory_order_relaxed), rill::detail::chan_closed(ch.c.get())});
    snapshot_supervisor(out, root_decl());
    return out;
}

} // namespace rill::config::detail
