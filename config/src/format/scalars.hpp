// The scalar types of the topology format, read from and written back to
// text: durations (`250ms`, `1.5s`, `1h30m`), sizes (`64KiB`, `1MB`, `512`),
// integers, floats and booleans (YAML 1.2 core: true/false only). A failed
// read says what was expected with an example and what was found, e.g.
// "expected a duration like 250ms, got 'abc'".
#pragma once

#include <rill/config/topology.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rill::config::scalars {

// A value, or why the text is not one.
template <class T> struct parsed {
    std::optional<T> value;
    std::string error{};
    explicit operator bool() const noexcept { return value.has_value(); }
};

parsed<std::chrono::nanoseconds> duration(std::string_view text);
parsed<byte_size> size(std::string_view text);
parsed<std::int64_t> integer(std::string_view text);
parsed<double> number(std::string_view text);
parsed<bool> boolean(std::string_view text);

// The shortest exact spelling in the largest unit: "1500ms", "2h", "64KiB".
std::string format_duration(std::chrono::nanoseconds d);
std::string format_size(byte_size s);
// Enough digits to read back the same double.
std::string format_number(double v);

} // namespace rill::config::scalars
