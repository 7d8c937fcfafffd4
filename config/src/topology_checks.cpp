#include "topology_checks.hpp"

#include <fmt/format.h>

#include <map>
#include <set>

namespace rill::config {
namespace {

struct end_point {
    const stage_decl* stage;
    const port_binding* binding;
};

using edges = std::map<std::string, std::vector<end_point>, std::less<>>;

void check_ends(const topology& t, const edges& writers, const edges& readers,
                std::vector<diagnostic>& errors) {
    auto describe = [](const end_point& e) {
        return fmt::format("stage {} (port {})", e.stage->id, e.binding->port);
    };
    for (const auto& c : t.channels) {
        auto w = writers.find(c.name);
        auto r = readers.find(c.name);
        if (w == writers.end())
            errors.push_back({c.at, fmt::format("channel '{}' is never written", c.name)});
        if (r == readers.end())
            errors.push_back({c.at, fmt::format("channel '{}' is never read", c.name)});
        if (w != writers.end())
            for (std::size_t i = 1; i < w->second.size(); ++i)
                errors.push_back({w->second[i].binding->at,
                                  fmt::format("channel '{}' is written by both {} and {}", c.name,
                                              describe(w->second[0]), describe(w->second[i]))});
        if (r != readers.end())
            for (std::size_t i = 1; i < r->second.size(); ++i)
                errors.push_back(
                    {r->second[i].binding->at,
                     fmt::format("channel '{}' is read by both {} and {}: use workers: n for a "
                                 "pool, or fan out to several channels",
                                 c.name, describe(r->second[0]), describe(r->second[i]))});
    }
}

// Port types against channel types; binds T.
void check_types(topology& t, const registry& r, std::vector<diagnostic>& errors) {
    for (auto& s : t.stages) {
        const stage_spec* spec = r.find(s.stage);
        const port_binding* t_first = nullptr; // the first binding that fixed T
        auto check = [&](const port_binding& b, const port_spec& p, const char* direction) {
            for (const auto& ch : b.channels) {
                const std::string& carried = t.find_channel(ch)->type;
                const type_desc* d = find_type(carried);
                if (p.needs_codec && d && !d->has_codec())
                    errors.push_back(
                        {b.at, fmt::format("stage {} ({}) {} port '{}' needs a type with a codec, "
                                           "but channel '{}' carries {}, which has none: "
                                           "specialise rill::config::codec for it before "
                                           "registering it (rill/config/codec.hpp)",
                                           s.id, s.stage, direction, p.name, ch, carried)});
                if (p.type != type_param) {
                    if (p.type != carried)
                        errors.push_back(
                            {b.at, fmt::format("stage {} {} port '{}' takes {} but "
                                               "channel '{}' carries {}",
                                               s.id, direction, p.name, p.type, ch, carried)});
                } else if (!t_first) {
                    s.type_param = carried;
                    t_first = &b;
                } else if (s.type_param != carried) {
                    errors.push_back(
                        {b.at,
                         fmt::format("stage {} ({}) is generic: its ports of type T are bound "
                                     "to {} (port '{}') and {} (channel '{}'); they must "
                                     "carry one type",
                                     s.id, s.stage, s.type_param, t_first->port, carried, ch)});
                }
            }
        };
        for (const auto& b : s.inputs)
            check(b, *spec->find_input(b.port), "input");
        for (const auto& b : s.outputs)
            check(b, *spec->find_output(b.port), "output");
        for (const auto& b : s.outputs) {
            if (b.channels.size() < 2) continue;
            const std::string& ty = t.find_channel(b.channels[0])->type;
            const type_desc* d = find_type(ty);
            if (d && !d->copy)
                errors.push_back({b.at, fmt::format("stage {} port '{}' fans out to {} channels, "
                                                    "but type {} cannot be copied",
                                                    s.id, b.port, b.channels.size(), ty)});
        }
    }
}

// Depth-first search over stage -> stage edges; each cycle found is reported
// once, at its first stage, and its stages are not reported again.
class cycle_finder {
public:
    cycle_finder(const topology& t, const edges& readers) : t_(t) {
        for (const auto& s : t.stages) {
            auto& next = succ_[s.id];
            for (const auto& b : s.outputs)
                for (const auto& ch : b.channels)
                    if (auto r = readers.find(ch); r != readers.end())
                        for (const auto& e : r->second)
                            next.push_back(e.stage);
        }
    }

    void run(std::vector<diagnostic>& errors) {
        for (const auto& s : t_.stages)
            if (!state_.count(s.id)) visit(&s, errors);
    }

private:
    void visit(const stage_decl* s, std::vector<diagnostic>& errors) {
        state_[s->id] = on_path;
        path_.push_back(s);
        for (const stage_decl* n : succ_[s->id]) {
            auto st = state_.find(n->id);
            if (st == state_.end())
                visit(n, errors);
            else if (st->second == on_path && !reported_.count(n->id))
                report(n, errors);
        }
        path_.pop_back();
        state_[s->id] = done;
    }

    void report(const stage_decl* back_to, std::vector<diagnostic>& errors) {
        auto it = std::find(path_.begin(), path_.end(), back_to);
        std::string text;
        for (auto p = it; p != path_.end(); ++p) {
            text += (*p)->id + " -> ";
            reported_.insert((*p)->id);
        }
        text += back_to->id;
        errors.push_back({back_to->at, fmt::format("cycle: {} (a drain could not finish)", text)});
    }

    enum visit_state { on_path, done };
    const topology& t_;
    std::map<std::string, std::vector<const stage_decl*>, std::less<>> succ_;
    std::map<std::string, visit_state, std::less<>> state_;
    std::set<std::string, std::less<>> reported_;
    std::vector<const stage_decl*> path_;
};

} // namespace

void check_graph(topology& t, const registry& r, std::vector<diagnostic>& errors) {
    edges writers, readers;
    for (const auto& s : t.stages) {
        for (const auto& b : s.outputs)
            for (const auto& ch : b.channels)
                writers[ch].push_back({&s, &b});
        for (const auto& b : s.inputs)
            for (const auto& ch : b.channels)
                readers[ch].push_back({&s, &b});
    }
    check_ends(t, writers, readers, errors);
    check_types(t, r, errors);
    cycle_finder(t, readers).run(errors);
}

} // namespace rill::config
