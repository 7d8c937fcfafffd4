// The record-fields table: one process-wide map by C++ type, beside the
// element-type table (types.cpp), filled at static initialisation.
#include <rill/config/record_fields.hpp>
#include <rill/sync.hpp>

#include <map>
#include <mutex>

namespace rill::config {
namespace {

struct record_table {
    rill::mutex mu; // goroutines look records up (see rill/sync.hpp)
    // Node-based: the pointers find_record_fields hands out stay valid.
    std::map<std::type_index, record_desc> by_cpp;
};

record_table& table() {
    static record_table t;
    return t;
}

} // namespace

void register_record_fields(std::type_index cpp, record_desc d) {
    auto& t = table();
    std::lock_guard lock(t.mu);
    t.by_cpp.insert_or_assign(cpp, std::move(d));
}

const record_desc* find_record_fields(const type_desc& type) {
    auto& t = table();
    std::lock_guard lock(t.mu);
    auto it = t.by_cpp.find(type.cpp);
    return it == t.by_cpp.end() ? nullptr : &it->second;
}

} // namespace rill::config
