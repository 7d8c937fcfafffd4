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

std::string run_state::render(bool try_only) const {
    std::unique_lock lk(mu_, std::defer_lock);
    if (!try_only)
        lk.lock();
    else if (!lk.try_lock())
        return "topology " + topo_.file + ": busy (its table is being changed)\n";
    std::string state = result_     ? std::string("ended: ") + config::to_string(result_->outcome)
                        : stopping_ ? "stopping"
                        : draining_ ? "draining"
                                    : "running";
    std::string out = fmt::format("topology {}: {}\n", topo_.file, state);
    render_supervisor(out, root_decl(), 0);
    out += "channels:\n";
    for (auto& ch : channels_)
        out += fmt::format("  {} ({}) {}/{} sent={}{}\n", ch.decl->name, ch.decl->type,
                           rill::detail::chan_len(ch.c.get()), ch.decl->capacity,
                           ch.sent.load(std::memory_order_relaxed),
                           rill::detail::chan_closed(ch.c.get()) ? " closed" : "");
    return out;
}

} // namespace rill::config::detail
