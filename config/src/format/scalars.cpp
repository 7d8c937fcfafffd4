#include "format/scalars.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <limits>

namespace rill::config::scalars {
namespace {

struct unit {
    std::string_view name;
    double scale;
};

constexpr std::array<unit, 7> duration_units{
    {{"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}}};

constexpr std::array<unit, 9> size_units{{{"KiB", 1024.0},
                                          {"MiB", 1024.0 * 1024},
                                          {"GiB", 1024.0 * 1024 * 1024},
                                          {"TiB", 1024.0 * 1024 * 1024 * 1024},
                                          {"KB", 1e3},
                                          {"MB", 1e6},
                                          {"GB", 1e9},
                                          {"TB", 1e12},
                                          {"B", 1}}};

std::string got(std::string_view expected, std::string_view text) {
    return fmt::format("expected {}, got '{}'", expected, text);
}

// A non-negative decimal number (digits, optional fraction) at the front of s,
// consumed; none if s does not start with a digit.
std::optional<double> take_number(std::string_view& s) {
    std::size_t n = 0;
    while (n < s.size() && ((s[n] >= '0' && s[n] <= '9') || s[n] == '.'))
        ++n;
    if (n == 0 || s[0] == '.') return std::nullopt;
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + n, v);
    if (ec != std::errc() || end != s.data() + n) return std::nullopt;
    s.remove_prefix(n);
    return v;
}

// The longest unit name at the front of s, consumed ("ms" rather than "m").
template <std::size_t N>
const unit* take_unit(std::string_view& s, const std::array<unit, N>& units) {
    const unit* best = nullptr;
    for (const auto& u : units)
        if (s.substr(0, u.name.size()) == u.name && (!best || u.name.size() > best->name.size()))
            best = &u;
    if (best) s.remove_prefix(best->name.size());
    return best;
}

} // namespace

parsed<std::chrono::nanoseconds> duration(std::string_view text) {
    constexpr std::string_view like = "a duration like 250ms";
    std::string_view s = text;
    if (s.empty()) return {std::nullopt, got(like, text)};
    if (s[0] == '-')
        return {std::nullopt, fmt::format("a duration cannot be negative, got '{}'", text)};
    double total = 0;
    while (!s.empty()) {
        auto v = take_number(s);
        if (!v) return {std::nullopt, got(like, text)};
        const unit* u = take_unit(s, duration_units);
        if (!u) {
            if (s.empty())
                return {std::nullopt,
                        fmt::format("a duration needs a unit (ns, us, ms, s, m, h), got '{}': add "
                                    "a unit, e.g. 5s",
                                    text)};
            return {std::nullopt, got("a duration like 250ms (units ns, us, ms, s, m, h)", text)};
        }
        total += *v * u->scale;
    }
    if (total >= double(std::numeric_limits<std::int64_t>::max()))
        return {std::nullopt, fmt::format("duration '{}' is too long", text)};
    return {std::chrono::nanoseconds(std::llround(total))};
}

parsed<byte_size> size(std::string_view text) {
    constexpr std::string_view like = "a size like 64KiB (units B, KB, MB, GB, KiB, MiB, GiB)";
    std::string_view s = text;
    auto v = take_number(s);
    if (!v) return {std::nullopt, got(like, text)};
    double scale = 1;
    if (!s.empty()) {
        const unit* u = take_unit(s, size_units);
        if (!u || !s.empty()) return {std::nullopt, got(like, text)};
        scale = u->scale;
    }
    double bytes = std::floor(*v * scale);
    if (bytes >= 0x1p64) return {std::nullopt, fmt::format("size '{}' is too large", text)};
    return {byte_size{static_cast<std::uint64_t>(bytes)}};
}

parsed<std::int64_t> integer(std::string_view text) {
    std::string_view s = text;
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc::result_out_of_range)
        return {std::nullopt, fmt::format("integer '{}' is out of range", text)};
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
        return {std::nullopt, got("an integer like 42", text)};
    return {v};
}

parsed<double> number(std::string_view text) {
    std::string_view s = text;
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v))
        return {std::nullopt, got("a number like 0.5", text)};
    return {v};
}

parsed<bool> boolean(std::string_view text) {
    if (text == "true") return {true};
    if (text == "false") return {false};
    return {std::nullopt, got("true or false", text)};
}

std::string format_duration(std::chrono::nanoseconds d) {
    auto n = d.count();
    if (n == 0) return "0s";
    for (auto it = duration_units.rbegin(); it != duration_units.rend(); ++it) {
        auto scale = static_cast<std::int64_t>(it->scale);
        if (it->name != "µs" && n % scale == 0) return fmt::format("{}{}", n / scale, it->name);
    }
    return fmt::format("{}ns", n);
}

std::string format_size(byte_size s) {
    // The binary units, largest first: sizes are mostly powers of two.
    for (int i = 3; i >= 0; --i) {
        auto scale = static_cast<std::uint64_t>(size_units[i].scale);
        if (s.bytes != 0 && s.bytes % scale == 0)
            return fmt::format("{}{}", s.bytes / scale, size_units[i].name);
    }
    return fmt::format("{}", s.bytes);
}

std::string format_number(double v) { return fmt::format("{}", v); }

} // namespace rill::config::scalars
