// The named fields of a record element type, as text, so that `rill test`
// can check a record field by field (docs/testing.md, `fields:`). A type
// declares them by specialising record_fields and registering it beside the
// type, in the executable's own sources:
//
//   template <> struct rill::config::record_fields<point> {
//       static std::vector<std::string> names() { return {"x", "y"}; }
//       // in the order of names()
//       static std::vector<std::string> values(const point& p) {
//           return {std::to_string(p.x), std::to_string(p.y)};
//       }
//   };
//   RILL_CONFIG_TYPE(point, "point");
//   RILL_CONFIG_RECORD_FIELDS(point);
#pragma once

#include <rill/config/types.hpp>

#include <concepts>
#include <string>
#include <typeindex>
#include <vector>

namespace rill::config {

template <class T> struct record_fields; // none by default

template <class T>
concept has_record_fields = requires(const T& v) {
    { record_fields<T>::names() } -> std::same_as<std::vector<std::string>>;
    { record_fields<T>::values(v) } -> std::same_as<std::vector<std::string>>;
};

struct record_desc {
    std::vector<std::string> names;
    std::vector<std::string> (*values)(const void* v) = nullptr; // a value's fields, as names
};

// Adds (or replaces) the fields of C++ type cpp. Thread-safe.
void register_record_fields(std::type_index cpp, record_desc d);
// The fields of the element type t, or nullptr when it declares none.
const record_desc* find_record_fields(const type_desc& t);

template <class T>
requires has_record_fields<T> record_desc describe_record() {
    return {record_fields<T>::names(),
            [](const void* v) { return record_fields<T>::values(*static_cast<const T*>(v)); }};
}

namespace detail {
struct record_registration {
    record_registration(std::type_index cpp, record_desc d) {
        register_record_fields(cpp, std::move(d));
    }
};
} // namespace detail

} // namespace rill::config

// Registers record_fields<T> at static initialisation.
#define RILL_CONFIG_RECORD_FIELDS(T)                                                               \
    static const ::rill::config::detail::record_registration RILL_CONFIG_CONCAT(                   \
        rill_config_record_, __LINE__) {                                                           \
        std::type_index(typeid(T)), ::rill::config::describe_record<T>()                           \
    }
