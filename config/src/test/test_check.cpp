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
    if (want.size() > seen.size())
        out.push_back({want[n].at,
                       fmt::format("'{}': expected {}, got {}; the first missing is {}", x.channel,
                                   values(want.size()), seen.size(), quoted(want[n].text))});
    else if (seen.size() > want.size())
        out.push_back(
            {x.equals_at, fmt::format("'{}': expected {}, got {}; the first extra is {}", x.channel,
                                      values(want.size()), seen.size(), quoted(seen[n]))});
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

std::vector<diagnostic> check(const expectation& x, const std::vector<std::string>& seen) {
    std::vector<diagnostic> out;
    if (x.count && static_cast<std::size_t>(*x.count) != seen.size())
        out.push_back(
            {x.count_at, fmt::format("'{}': expected {}, got {}", x.channel,
                                     values(static_cast<std::size_t>(*x.count)), seen.size())});
    if (x.equals) check_equals(x, seen, out);
    if (x.regex) check_regex(x, seen, out);
    return out;
}

} // namespace rill::config::testing
