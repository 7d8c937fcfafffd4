// The element-type registry: one process-wide table, seeded with the
// built-in types on first use so that stage registration at static
// initialisation can name them whatever the order of initialisers.
#include <rill/config/types.hpp>
#include <rill/sync.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>

namespace rill::config {
namespace {

struct type_table {
    rill::mutex mu; // goroutines look types up (see rill/sync.hpp)
    std::map<std::string, type_desc, std::less<>> by_name;
    std::map<std::type_index, const type_desc*> by_cpp;

    void add_locked(type_desc d) {
        auto named = by_name.find(d.name);
        auto typed = by_cpp.find(d.cpp);
        if (named != by_name.end() && named->second.cpp == d.cpp) return; // same registration again
        if (named != by_name.end())
            throw std::invalid_argument("rill::config: type name '" + d.name +
                                        "' is already registered for another C++ type");
        if (typed != by_cpp.end())
            throw std::invalid_argument("rill::config: the C++ type of '" + d.name +
                                        "' is already registered as '" + typed->second->name + "'");
        std::string name = d.name;
        auto& slot = by_name.emplace(name, std::move(d)).first->second;
        by_cpp.emplace(slot.cpp, &slot);
    }

    type_table() {
        add_locked(describe_type<std::string>("string"));
        add_locked(describe_type<std::int64_t>("int"));
        add_locked(describe_type<double>("float"));
        add_locked(describe_type<bool>("bool"));
        type_desc lines = describe_type<std::vector<std::string>>("lines");
        // A batch prints as its lines, one per line, so a sink writes it as it came in.
        lines.to_string = [](const void* v) {
            const auto& l = *static_cast<const std::vector<std::string>*>(v);
            return fmt::format("{}", fmt::join(l, "\n"));
        };
        add_locked(std::move(lines));
        type_desc raw = describe_type<bytes>("bytes");
        // Not text, whatever fmt makes of a vector of std::byte: a line sink
        // writing it would break its line framing.
        raw.to_string = nullptr;
        add_locked(std::move(raw));
    }
};

type_table& table() {
    static type_table t;
    return t;
}

} // namespace

void register_type(type_desc d) {
    auto& t = table();
    std::lock_guard lock(t.mu);
    t.add_locked(std::move(d));
}

const type_desc* find_type(std::string_view name) {
    auto& t = table();
    std::lock_guard lock(t.mu);
    auto it = t.by_name.find(name);
    return it == t.by_name.end() ? nullptr : &it->second;
}

const type_desc* find_type(std::type_index cpp) {
    auto& t = table();
    std::lock_guard lock(t.mu);
    auto it = t.by_cpp.find(cpp);
    return it == t.by_cpp.end() ? nullptr : it->second;
}

std::vector<std::string> type_names() {
    auto& t = table();
    std::lock_guard lock(t.mu);
    std::vector<std::string> names;
    for (const auto& [name, d] : t.by_name)
        names.push_back(name);
    return names;
}

} // namespace rill::config
