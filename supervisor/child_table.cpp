#include "child_table.hpp"

namespace rill::detail {

child_rec& child_table::push_back(child_rec rec) {
    auto it = list_.insert(list_.end(), std::move(rec));
    if (it->ref != 0)
        by_ref_.emplace(it->ref, it);
    else
        by_id_.emplace(it->spec.id, it);
    return *it;
}

child_rec* child_table::find(std::string_view id) {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &*it->second;
}

child_rec* child_table::find_ref(std::uint64_t ref) {
    auto it = by_ref_.find(ref);
    return it == by_ref_.end() ? nullptr : &*it->second;
}

child_table::iterator child_table::position(const child_rec& c) {
    return c.ref != 0 ? by_ref_.at(c.ref) : by_id_.at(c.spec.id);
}

void child_table::erase(const child_rec& c) {
    // One lookup: the index entry gives the list position.
    auto drop = [this](auto& index, const auto& key) {
        auto entry = index.find(key);
        auto it = entry->second;
        index.erase(entry);
        list_.erase(it);
    };
    if (c.ref != 0)
        drop(by_ref_, c.ref);
    else
        drop(by_id_, std::string_view(c.spec.id));
}

void child_table::clear() {
    by_id_.clear();
    by_ref_.clear();
    list_.clear();
}

} // namespace rill::detail
