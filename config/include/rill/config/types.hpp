// The element types channels carry, registered by name so that a topology
// file can say `type: string` and the loader can check every edge before
// anything runs. Built in: string, int (std::int64_t), float (double), bool,
// lines (std::vector<std::string>), bytes (std::vector<std::byte>, codec.hpp).
// Register your own once, before loading:
//
//   RILL_CONFIG_TYPE(log_record, "log_record");
//
// A type formattable by fmt gets a to_string (sinks can write it); a copyable
// type can be fanned out to several channels; a type with a codec (codec.hpp)
// can cross processes through the NATS bridge stages.
#pragma once

#include <rill/chan.hpp>
#include <rill/config/codec.hpp>

#include <fmt/format.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <vector>

namespace rill::config {

struct type_desc {
    std::string name;
    std::type_index cpp;
    const rill::detail::elem_ops* ops;
    // Copies *src into uninitialised dst; null when T is not copyable.
    void (*copy)(void* dst, const void* src) = nullptr;
    // Formats a value; null when T is not formattable by fmt.
    std::string (*to_string)(const void* v) = nullptr;
    // codec<T>::encode, appending to out; null when T has no codec.
    void (*encode)(const void* v, std::string& out) = nullptr;
    // codec<T>::decode into uninitialised dst; throws codec_error. Null when
    // T has no codec.
    void (*decode)(std::string_view bytes, void* dst) = nullptr;
    bool has_codec() const noexcept { return encode && decode; }
};

// Adds a type; throws std::invalid_argument if the name or the C++ type is
// already registered under another name. Thread-safe.
void register_type(type_desc d);
// nullptr if unknown.
const type_desc* find_type(std::string_view name);
const type_desc* find_type(std::type_index cpp);
std::vector<std::string> type_names();

template <class T> type_desc describe_type(std::string name) {
    type_desc d{std::move(name), std::type_index(typeid(T)), &rill::detail::elem_ops_for<T>};
    if constexpr (std::is_copy_constructible_v<T>)
        d.copy = [](void* dst, const void* src) { new (dst) T(*static_cast<const T*>(src)); };
    if constexpr (fmt::is_formattable<T>::value)
        d.to_string = [](const void* v) { return fmt::to_string(*static_cast<const T*>(v)); };
    if constexpr (has_codec<T>) {
        d.encode = [](const void* v, std::string& out) {
            codec<T>::encode(*static_cast<const T*>(v), out);
        };
        d.decode = [](std::string_view bytes, void* dst) { new (dst) T(codec<T>::decode(bytes)); };
    }
    return d;
}

// The registered name of T; throws std::logic_error if T is not registered.
template <class T> const std::string& type_name() {
    const type_desc* d = find_type(std::type_index(typeid(T)));
    if (!d)
        throw std::logic_error(std::string("rill::config: type not registered: ") +
                               typeid(T).name());
    return d->name;
}

namespace detail {
struct type_registration {
    explicit type_registration(type_desc d) { register_type(std::move(d)); }
};
} // namespace detail

} // namespace rill::config

#define RILL_CONFIG_CONCAT2(a, b) a##b
#define RILL_CONFIG_CONCAT(a, b) RILL_CONFIG_CONCAT2(a, b)
// Registers T under name at static initialisation (in the executable's own
// sources; see registry.hpp about static libraries).
#define RILL_CONFIG_TYPE(T, name)                                                                  \
    static const ::rill::config::detail::type_registration RILL_CONFIG_CONCAT(rill_config_type_,   \
                                                                              __LINE__) {          \
        ::rill::config::describe_type<T>(name)                                                     \
    }
