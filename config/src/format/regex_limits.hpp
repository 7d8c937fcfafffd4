// The limits a regular expression argument must keep before std::regex
// (libstdc++, ECMAScript grammar) is given it. libstdc++ compiles by
// recursive descent, so deep nesting overflows the stack, and it reads a
// repetition count or backreference number into a long with no overflow
// check, so a long digit run is undefined behaviour. Patterns past these
// limits are refused with a reason instead:
//   - groups nested at most 64 deep;
//   - a repetition count ({n}, {n,}, {n,m}) at most 1000, as in Go's regexp
//     and RE2 (a larger count also makes a huge automaton);
//   - a backreference number (\n) at most 1000.
// Escapes and bracket expressions are followed, so '\(' and '[(]' do not
// count as groups and '[{99999}]' is plain text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rill::config {

inline constexpr int regex_max_nesting = 64;
inline constexpr int regex_max_count = 1000;

// Why `pattern` is refused, or nullopt when it is within the limits (it may
// still be invalid for std::regex, which reports that itself).
std::optional<std::string> regex_refusal(std::string_view pattern);

} // namespace rill::config
