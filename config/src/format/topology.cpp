#include <rill/config/topology.hpp>

#include <algorithm>

namespace rill::config {
namespace {

template <class T, class Key>
const T* find_by(const std::vector<T>& v, std::string_view key, Key T::*field) {
    auto it = std::find_if(v.begin(), v.end(), [&](const T& x) { return x.*field == key; });
    return it == v.end() ? nullptr : &*it;
}

// Element-wise equality under `eq`.
template <class T, class Eq>
bool same_list(const std::vector<T>& a, const std::vector<T>& b, Eq eq) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), eq);
}

bool same_binding(const port_binding& a, const port_binding& b) {
    return a.port == b.port && a.channels == b.channels;
}

bool same_channel(const channel_decl& a, const channel_decl& b) {
    return a.name == b.name && a.type == b.type && a.capacity == b.capacity;
}

bool same_stage(const stage_decl& a, const stage_decl& b) {
    return a.id == b.id && a.stage == b.stage && same_list(a.inputs, b.inputs, same_binding) &&
           same_list(a.outputs, b.outputs, same_binding) && a.workers == b.workers &&
           a.args == b.args && a.restart == b.restart && a.shutdown == b.shutdown &&
           a.type_param == b.type_param;
}

bool same_backoff(const std::optional<rill::backoff>& a, const std::optional<rill::backoff>& b) {
    if (!a || !b) return !a && !b;
    return a->initial == b->initial && a->max == b->max && a->factor == b->factor &&
           a->jitter == b->jitter && a->reset_after == b->reset_after;
}

bool same_supervisor(const supervisor_decl& a, const supervisor_decl& b) {
    return a.id == b.id && a.strategy == b.strategy && a.intensity == b.intensity &&
           a.period == b.period && same_backoff(a.backoff, b.backoff) && a.restart == b.restart &&
           a.children == b.children;
}

} // namespace

const channel_decl* topology::find_channel(std::string_view name) const noexcept {
    return find_by(channels, name, &channel_decl::name);
}

const stage_decl* topology::find_stage(std::string_view id) const noexcept {
    return find_by(stages, id, &stage_decl::id);
}

const supervisor_decl* topology::find_supervisor(std::string_view id) const noexcept {
    return find_by(supervisors, id, &supervisor_decl::id);
}

bool topology::same_as(const topology& o) const {
    return runtime == o.runtime && same_list(channels, o.channels, same_channel) &&
           same_list(stages, o.stages, same_stage) &&
           same_list(supervisors, o.supervisors, same_supervisor);
}

} // namespace rill::config
