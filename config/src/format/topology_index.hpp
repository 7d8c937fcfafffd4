// Stage and supervisor declarations by id, indexed once. topology::find_*
// search linearly: right for one lookup, quadratic for code that visits
// every supervisor's children (the graph, the writer, rill run's tree log),
// which on a file of 60,000 stages took minutes. (The runner keeps its own
// maps, to its run-time records: run_state.hpp.)
//
// Holds pointers into the topology: valid while its stages and supervisors
// vectors are not changed. Duplicate ids (which check refuses) resolve to the
// first, as find_* do.
#pragma once

#include <rill/config/topology.hpp>

#include <string_view>
#include <unordered_map>

namespace rill::config::detail {

class topology_index {
public:
    explicit topology_index(const topology& t) {
        stages_.reserve(t.stages.size());
        for (const auto& s : t.stages)
            stages_.emplace(s.id, &s);
        for (const auto& s : t.supervisors)
            supervisors_.emplace(s.id, &s);
    }

    const stage_decl* stage(std::string_view id) const noexcept { return find(stages_, id); }
    const supervisor_decl* supervisor(std::string_view id) const noexcept {
        return find(supervisors_, id);
    }

private:
    template <class T> static const T* find(const std::unordered_map<std::string_view, const T*>& m,
                                            std::string_view id) noexcept {
        auto it = m.find(id);
        return it == m.end() ? nullptr : it->second;
    }

    std::unordered_map<std::string_view, const stage_decl*> stages_;
    std::unordered_map<std::string_view, const supervisor_decl*> supervisors_;
};

} // namespace rill::config::detail
