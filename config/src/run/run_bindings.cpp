// Binding a topology's ports for a run: a port on one channel uses it
// directly; fan-in and fan-out ports get a channel of the runner's own with
// forwarders around it; unbound optional ports get a closed input or a
// discarded output.
#include "run/forwarders.hpp"
#include "run/run_state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace rill::config::detail {

namespace {
[[noreturn]] void misfit(const stage_decl& d, const std::string& what) {
    throw std::invalid_argument(
        fmt::format("rill::config::runner: stage {} ({}): {}", d.id, d.stage, what));
}

const port_binding* find_binding(const std::vector<port_binding>& v, const std::string& port) {
    auto it = std::find_if(v.begin(), v.end(), [&](auto& b) { return b.port == port; });
    return it == v.end() || it->channels.empty() ? nullptr : &*it;
}

// A supervisor over every stage in declaration order: what the loader makes
// of a file without `supervisor:`, for topologies built by hand.
supervisor_decl default_root(const topology& t) {
    supervisor_decl root;
    root.id = "root";
    for (auto& s : t.stages)
        root.children.push_back({child_ref::stage, s.id});
    return root;
}
} // namespace

declared_channel& run_state::channel(const std::string& name) {
    if (auto it = channel_at_.find(name); it != channel_at_.end()) return *it->second;
    throw std::invalid_argument("rill::config::runner: no channel '" + name + "' is declared");
}

stage_run& run_state::stage(const std::string& id) {
    if (auto it = stage_at_.find(id); it != stage_at_.end()) return *it->second;
    throw std::invalid_argument("rill::config::runner: no stage '" + id + "' is declared");
}

rill::detail::chan_core* run_state::own_channel(const type_desc& t, std::size_t capacity) {
    own_channels_.emplace_back(rill::detail::chan_make(t.ops, capacity));
    return own_channels_.back().get();
}

std::vector<declared_channel*> run_state::channels_of(const stage_decl& d, const port_spec& ps,
                                                      const port_binding& b, const type_desc& t,
                                                      std::size_t& capacity) {
    std::vector<declared_channel*> out;
    for (auto& name : b.channels) {
        auto& ch = channel(name);
        if (ch.decl->type != t.name)
            misfit(d, fmt::format("port '{}' carries {} but channel '{}' carries {}", ps.name,
                                  t.name, name, ch.decl->type));
        out.push_back(&ch);
        capacity = std::max(capacity, ch.decl->capacity);
    }
    return out;
}

port_core run_state::bind_input(const stage_decl& d, const port_spec& ps, const type_desc& t) {
    port_core p{ps.name, nullptr, &t};
    auto* b = find_binding(d.inputs, ps.name);
    if (!b) {
        if (!ps.optional) misfit(d, "input port '" + ps.name + "' is not bound");
        p.c = own_channel(t, 0);
        rill::detail::chan_close(p.c);
        p.bound = false;
        return p;
    }
    std::size_t capacity = 0;
    std::vector<rill::detail::chan_core*> sources;
    for (auto* ch : channels_of(d, ps, *b, t, capacity))
        sources.push_back(ch->c.get());
    if (sources.size() == 1) {
        p.c = sources.front();
        return p;
    }
    p.c = own_channel(t, capacity);
    auto& s = stage(d.id);
    s.forwarded.push_back(p.c);
    forwarders_.push_back([this, sources, merged = p.c, &t, &s] {
        spawn_merge(forwarders_group_, sources, merged, t, stop_forwarders_.core(),
                    s.lost_forwarding);
    });
    return p;
}

port_core run_state::bind_output(const stage_decl& d, const port_spec& ps, const type_desc& t) {
    port_core p{ps.name, nullptr, &t};
    auto* b = find_binding(d.outputs, ps.name);
    if (!b) {
        if (!ps.optional) misfit(d, "output port '" + ps.name + "' is not bound");
        p.c = own_channel(t, 64);
        p.bound = false;
        forwarders_.push_back([this, from = p.c, &t] {
            spawn_discard(forwarders_group_, from, t, stop_forwarders_.core());
        });
        return p;
    }
    std::size_t capacity = 0;
    std::vector<port_core> targets;
    for (auto* ch : channels_of(d, ps, *b, t, capacity))
        targets.push_back({ps.name, ch->c.get(), &t, &ch->sent});
    if (targets.size() == 1) return targets.front();
    if (!t.copy)
        misfit(d, "output port '" + ps.name + "' fans out values of " + t.name +
                      ", which cannot be copied");
    p.c = own_channel(t, capacity);
    auto& s = stage(d.id);
    s.forwarded.push_back(p.c);
    forwarders_.push_back([this, from = p.c, targets = std::move(targets), &t, &s] {
        spawn_copy(forwarders_group_, from, targets, t, stop_forwarders_.core(), s.lost_forwarding);
    });
    return p;
}

run_state::run_state(const topology& t, const run_options& opts)
    : topo_(t), reg_(opts.stages ? opts.stages : &registry::global()),
      grace_(opts.grace.value_or(t.runtime.grace)) {
    if (topo_.supervisors.empty()) topo_.supervisors.push_back(default_root(topo_));
    for (const auto& d : topo_.supervisors)
        supervisor_at_.emplace(d.id, &d);
    for (auto& c : topo_.channels) {
        auto* type = find_type(c.type);
        if (!type)
            throw std::invalid_argument("rill::config::runner: channel '" + c.name +
                                        "' has unknown type '" + c.type + "'");
        auto& ch =
            channels_.emplace_back(&c, chan_ref(rill::detail::chan_make(type->ops, c.capacity)));
        channel_at_.emplace(c.name, &ch);
    }
    for (auto& d : topo_.stages) {
        auto* spec = reg_->find(d.stage);
        if (!spec) misfit(d, "no such stage is registered");
        if (d.workers < 1) misfit(d, "workers must be at least 1");
        auto& s = stages_.emplace_back(d, *spec);
        stage_at_.emplace(d.id, &s);
        // The loader records what T is; by hand, the first channel on a T port says.
        std::string tparam = d.type_param;
        for (auto* bound : {&d.inputs, &d.outputs})
            for (auto& b : *bound) {
                auto* ps =
                    spec->find_input(b.port) ? spec->find_input(b.port) : spec->find_output(b.port);
                if (!ps) misfit(d, "no port '" + b.port + "' is declared");
                if (tparam.empty() && ps->type == type_param && !b.channels.empty())
                    tparam = channel(b.channels.front()).decl->type;
            }
        auto type_of = [&](const port_spec& ps) {
            auto* type = find_type(ps.type == type_param ? tparam : ps.type);
            if (!type) misfit(d, "port '" + ps.name + "' has no known element type");
            if (ps.needs_codec && !type->has_codec())
                misfit(d, "port '" + ps.name + "' needs a type with a codec, but " + type->name +
                              " has none (rill/config/codec.hpp)");
            return type;
        };
        for (auto& ps : spec->inputs)
            s.binding.inputs.push_back(bind_input(d, ps, *type_of(ps)));
        for (auto& ps : spec->outputs)
            s.binding.outputs.push_back(bind_output(d, ps, *type_of(ps)));
    }
    unfinished_stages_ = static_cast<int>(stages_.size());
    if (stages_.empty()) finished_.fire();
}

} // namespace rill::config::detail
