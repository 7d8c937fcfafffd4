#include "format/topology_checks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rill::config {
namespace {

struct end_point {
    const stage_decl* stage;
    const port_binding* binding;
};

// Hashed, so that a graph of n stages is checked in time linear in n.
using edges = std::unordered_map<std::string_view, std::vector<end_point>>;
using channel_index = std::unordered_map<std::string_view, const channel_decl*>;

void check_ends(const topology& t, const edges& writers, const edges& readers,
                const unsure_ends& unsure, std::vector<diagnostic>& errors) {
    auto describe = [](const end_point& e) {
        return fmt::format("stage {} (port {})", e.stage->id, e.binding->port);
    };
    for (const auto& c : t.channels) {
        auto w = writers.find(c.name);
        auto r = readers.find(c.name);
        bool sure = !unsure.all && !unsure.channels.count(c.name);
        if (w == writers.end() && sure)
            errors.push_back({c.at, fmt::format("channel '{}' is never written", c.name)});
        if (r == readers.end() && sure)
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
void check_types(topology& t, const registry& r, const channel_index& channels,
                 std::vector<diagnostic>& errors) {
    for (auto& s : t.stages) {
        const stage_spec* spec = r.find(s.stage);
        const port_binding* t_first = nullptr; // the first binding that fixed T
        auto check = [&](const port_binding& b, const port_spec& p, const char* direction) {
            for (const auto& ch : b.channels) {
                const std::string& carried = channels.at(ch)->type;
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
            const std::string& ty = channels.at(b.channels[0])->type;
            const type_desc* d = find_type(ty);
            if (d && !d->copy)
                errors.push_back({b.at, fmt::format("stage {} port '{}' fans out to {} channels, "
                                                    "but type {} cannot be copied",
                                                    s.id, b.port, b.channels.size(), ty)});
        }
    }
}

// Depth-first search over stage -> stage edges; each cycle found is reported
// once, at its first stage, and its stages are not reported again. The search
// keeps its own stack, so a chain of any length cannot overflow the thread's.
class cycle_finder {
public:
    cycle_finder(const topology& t, const edges& readers)
        : t_(t), succ_(t.stages.size()), state_(t.stages.size(), unseen),
          reported_(t.stages.size(), false) {
        for (std::size_t i = 0; i < t.stages.size(); ++i)
            for (const auto& b : t.stages[i].outputs)
                for (const auto& ch : b.channels)
                    if (auto r = readers.find(ch); r != readers.end())
                        for (const auto& e : r->second)
                            succ_[i].push_back(index_of(e.stage));
    }

    void run(std::vector<diagnostic>& errors) {
        for (std::size_t i = 0; i < t_.stages.size(); ++i)
            if (state_[i] == unseen) visit(i, errors);
    }

private:
    struct frame {
        std::size_t stage;
        std::size_t next = 0; // the successor to look at next
    };

    std::size_t index_of(const stage_decl* s) const {
        return static_cast<std::size_t>(s - t_.stages.data());
    }

    void visit(std::size_t start, std::vector<diagnostic>& errors) {
        state_[start] = on_path;
        path_.push_back({start});
        while (!path_.empty()) {
            frame& f = path_.back();
            if (f.next == succ_[f.stage].size()) {
                state_[f.stage] = done;
                path_.pop_back();
                continue;
            }
            std::size_t n = succ_[f.stage][f.next++];
            if (state_[n] == unseen) {
                state_[n] = on_path;
                path_.push_back({n});
            } else if (state_[n] == on_path && !reported_[n]) {
                report(n, errors);
            }
        }
    }

    void report(std::size_t back_to, std::vector<diagnostic>& errors) {
        auto it = std::find_if(path_.begin(), path_.end(),
                               [&](const frame& f) { return f.stage == back_to; });
        std::string text;
        for (auto p = it; p != path_.end(); ++p) {
            text += t_.stages[p->stage].id + " -> ";
            reported_[p->stage] = true;
        }
        const stage_decl& s = t_.stages[back_to];
        text += s.id;
        errors.push_back({s.at, fmt::format("cycle: {} (a drain could not finish)", text)});
    }

    enum visit_state { unseen, on_path, done };
    const topology& t_;
    std::vector<std::vector<std::size_t>> succ_;
    std::vector<visit_state> state_;
    std::vector<bool> reported_;
    std::vector<frame> path_;
};

} // namespace

void check_graph(topology& t, const registry& r, const unsure_ends& unsure,
                 std::vector<diagnostic>& errors) {
    edges writers, readers;
    for (const auto& s : t.stages) {
        for (const auto& b : s.outputs)
            for (const auto& ch : b.channels)
                writers[ch].push_back({&s, &b});
        for (const auto& b : s.inputs)
            for (const auto& ch : b.channels)
                readers[ch].push_back({&s, &b});
    }
    channel_index channels;
    for (const auto& c : t.channels)
        channels.emplace(c.name, &c);
    check_ends(t, writers, readers, unsure, errors);
    check_types(t, r, channels, errors);
    cycle_finder(t, readers).run(errors);
}

} // namespace rill::config
