// The conditions on a test's outputs. Each failure names the channel, what
// was expected and what came out, at the position of the condition (or of
// the expected value that differs), so that an editor jumps to it.
#include "test/test_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <regex>

namespace rill::config::testing {
namespace {

// Values as the failure quotes them: control characters escaped (\n, \x01)
// and long values cut, so that a message stays one line.
std::string quoted(const std::string& v) {
    constexpr std::size_t longest = 200;
    std::string out = "'";
    for (std::size_t i = 0; i < v.size() && i < longest; ++i) {
        auto c = static_cast<unsigned char>(v[i]);
        if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c < 0x20 || c == 0x7f)
            out += fmt::format("\\x{:02x}", c);
        else
            out += v[i];
    }
    out += '\'';
    if (v.size() > longest) out += fmt::format("... ({} bytes)", v.size());
    return out;
}

// "1 value", "2 values"
std::string values(std::size_t n) { return fmt::format("{} value{}", n, n == 1 ? "" : "s"); }

// A list of expected values (equals, fields) longer or shorter than what
// came out: reported at the first missing one, or at the list for the first
// extra value. `n` is the shorter length.
void check_length(const expectation& x, std::size_t want, std::size_t got, const mark& missing_at,
                  const std::string& missing, const mark& extra_at, const std::string& extra,
                  std::vector<diagnostic>& out) {
    if (want > got)
        out.push_back({missing_at, fmt::format("'{}': expected {}, got {}; the first missing is {}",
                                               x.channel, values(want), got, missing)});
    else if (got > want)
        out.push_back({extra_at, fmt::format("'{}': expected {}, got {}; the first extra is {}",
                                             x.channel, values(want), got, extra)});
}

void check_equals(const expectation& x, const std::vector<std::string>& seen,
                  std::vector<diagnostic>& out) {
    const auto& want = *x.equals;
    std::size_t n = std::min(want.size(), seen.size());
    for (std::size_t i = 0; i < n; ++i)
        if (want[i].text != seen[i]) {
            out.push_back({want[i].at, fmt::format("'{}' value {}: expected {}, got {}", x.channel,
                                                   i + 1, quoted(want[i].text), quoted(seen[i]))});
            return;
        }
    if (want.size() != seen.size())
        check_length(x, want.size(), seen.size(), n < want.size() ? want[n].at : mark{},
                     n < want.size() ? quoted(want[n].text) : "", x.equals_at,
                     n < seen.size() ? quoted(seen[n]) : "", out);
}

// An expected record as a failure quotes it: {status: '200', path: '/'}.
std::string record(const record_text& r) {
    std::string out;
    for (const auto& f : r.fields)
        out += fmt::format("{}{}: {}", out.empty() ? "" : ", ", f.name, quoted(f.value.text));
    return "{" + out + "}";
}

// Every differing field of every value, each at its expected value.
void check_fields(const expectation& x, const channel_seen& seen, std::vector<diagnostic>& out) {
    const auto& want = *x.fields;
    std::size_t n = std::min(want.size(), seen.fields.size());
    for (std::size_t i = 0; i < n; ++i)
        for (const auto& f : want[i].fields)
            if (const auto& got = seen.fields[i].at(f.index); got != f.value.text)
                out.push_back({f.value.at, fmt::format("'{}' value {} field '{}': expected {}, "
                                                       "got {}",
                                                       x.channel, i + 1, f.name,
                                                       quoted(f.value.text), quoted(got))});
    if (want.size() != seen.fields.size())
        check_length(x, want.size(), seen.fields.size(), n < want.size() ? want[n].at : mark{},
                     n < want.size() ? record(want[n]) : "", x.fields_at,
                     n < seen.texts.size() ? quoted(seen.texts[n]) : "", out);
}

void check_regex(const expectation& x, const std::vector<std::string>& seen,
                 std::vector<diagnostic>& out) {
    std::regex re(*x.regex, std::regex::ECMAScript); // checked when the file was read
    std::size_t bad = 0, first = 0;
    for (std::size_t i = 0; i < seen.size(); ++i)
        if (!std::regex_match(seen[i], re) && bad++ == 0) first = i;
    if (bad)
        out.push_back({x.regex_at, fmt::format("'{}' value {} does not match /{}/: {}{}", x.channel,
                                               first + 1, *x.regex, quoted(seen[first]),
                                               bad > 1 ? fmt::format(" ({} values in all)", bad)
                                                       : std::string())});
}

} // namespace

std::vector<diagnostic> check(const expectation& x, const channel_seen& values_seen) {
    const auto& seen = values_seen.texts;
    std::vector<diagnostic> out;
    if (x.count && static_cast<std::size_t>(*x.count) != seen.size())
        out.push_back(
            {x.count_at, fmt::format("'{}': expected {}, got {}", x.channel,
                                     values(static_cast<std::size_t>(*x.count)), seen.size())});
    if (x.equals) check_equals(x, seen, out);
    if (x.regex) check_regex(x, seen, out);
    if (x.fields) check_fields(x, values_seen, out);
    return out;
}

} // namespace rill::config::testing
