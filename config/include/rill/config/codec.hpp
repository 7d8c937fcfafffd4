// codec<T>: how a value of element type T travels as bytes between processes
// (the NATS bridge stages, nats.hpp). A type with a codec can be published
// and subscribed; describe_type (types.hpp) picks the codec up by itself.
//
// Built in:
// - string: the bytes as they are, so a string carries any bytes; every
//   message decodes.
// - bytes (std::vector<std::byte>): the bytes as they are, every message
//   decodes. For binary data (serialised messages, images): a bytes channel
//   cannot be wired to a stage that takes text (string), and the line sinks
//   (write_lines, tcp_sink) fail on it rather than write it as text; it
//   passes through generic stages (throttle, count, ...) and NATS unchanged.
// - int, float, bool: their decimal text ("42", "2.5", "true"/"false").
// - lines: each line followed by '\n'; a message that is not empty and does
//   not end with '\n' is undecodable. Lines must not contain '\n' (the lines
//   of read_lines and split never do).
// A user type specialises the template before registering the type:
//
//   template <> struct rill::config::codec<point> {
//       static void encode(const point& p, std::string& out);
//       static point decode(std::string_view bytes); // throws codec_error
//   };
//   RILL_CONFIG_TYPE(point, "point");
//
// encode appends to out. decode throws codec_error for bytes that are not a
// value: the subscriber logs and counts the message and goes on with the next.
#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rill::config {

// Bytes that are not a value of the type a subscriber expects.
class codec_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// No codec by default: such a type cannot cross a process boundary.
template <class T> struct codec;

template <class T>
concept has_codec = requires(const T& v, std::string& out, std::string_view bytes) {
    codec<T>::encode(v, out);
    { codec<T>::decode(bytes) } -> std::same_as<T>;
};

template <> struct codec<std::string> {
    static void encode(const std::string& v, std::string& out) { out += v; }
    static std::string decode(std::string_view bytes) { return std::string(bytes); }
};

// The element type `bytes`: binary data, with no text meaning.
using bytes = std::vector<std::byte>;

template <> struct codec<bytes> {
    static void encode(const bytes& v, std::string& out) {
        out.append(reinterpret_cast<const char*>(v.data()), v.size());
    }
    static bytes decode(std::string_view b) {
        auto raw = std::as_bytes(std::span(b.data(), b.size()));
        return bytes(raw.begin(), raw.end());
    }
};

template <> struct codec<std::int64_t> {
    static void encode(std::int64_t v, std::string& out) { out += std::to_string(v); }
    static std::int64_t decode(std::string_view bytes) {
        std::int64_t v = 0;
        auto [end, ec] = std::from_chars(bytes.data(), bytes.data() + bytes.size(), v);
        if (ec != std::errc() || end != bytes.data() + bytes.size() || bytes.empty())
            throw codec_error("not an int: \"" + std::string(bytes.substr(0, 64)) + "\"");
        return v;
    }
};

template <> struct codec<double> {
    static void encode(double v, std::string& out) {
        char buf[32];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v); // shortest round-tripping form
        out.append(buf, end);
    }
    static double decode(std::string_view bytes) {
        double v = 0;
        auto [end, ec] = std::from_chars(bytes.data(), bytes.data() + bytes.size(), v);
        if (ec != std::errc() || end != bytes.data() + bytes.size() || bytes.empty())
            throw codec_error("not a float: \"" + std::string(bytes.substr(0, 64)) + "\"");
        return v;
    }
};

template <> struct codec<bool> {
    static void encode(bool v, std::string& out) { out += v ? "true" : "false"; }
    static bool decode(std::string_view bytes) {
        if (bytes == "true") return true;
        if (bytes == "false") return false;
        throw codec_error("not a bool: \"" + std::string(bytes.substr(0, 64)) + "\"");
    }
};

template <> struct codec<std::vector<std::string>> {
    static void encode(const std::vector<std::string>& v, std::string& out) {
        for (auto& line : v)
            out.append(line).push_back('\n');
    }
    static std::vector<std::string> decode(std::string_view bytes) {
        if (!bytes.empty() && bytes.back() != '\n')
            throw codec_error("not lines: the message does not end with a newline");
        std::vector<std::string> v;
        for (std::size_t at = 0; at < bytes.size();) {
            auto nl = bytes.find('\n', at);
            v.emplace_back(bytes.substr(at, nl - at));
            at = nl + 1;
        }
        return v;
    }
};

} // namespace rill::config
