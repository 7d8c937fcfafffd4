#include "format/regex_limits.hpp"

#include <fmt/format.h>

namespace rill::config {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The digit run at pattern[i...], which must not stand for more than
// regex_max_count; compared as text, so no run is too long to judge.
std::optional<std::string> check_number(std::string_view pattern, std::size_t& i,
                                        const char* what) {
    std::size_t start = i;
    while (i < pattern.size() && is_digit(pattern[i]))
        ++i;
    std::string_view digits = pattern.substr(start, i - start);
    std::string_view value = digits;
    while (value.size() > 1 && value.front() == '0')
        value.remove_prefix(1);
    std::string limit = std::to_string(regex_max_count);
    if (value.size() < limit.size() || (value.size() == limit.size() && value <= limit))
        return std::nullopt;
    return fmt::format("{} {} at offset {} is more than {}", what, digits, start, limit);
}

} // namespace

std::optional<std::string> regex_refusal(std::string_view pattern) {
    int depth = 0;
    bool in_bracket = false;
    for (std::size_t i = 0; i < pattern.size();) {
        char c = pattern[i];
        if (c == '\\') {
            // libstdc++ reads every digit after a backslash as one
            // backreference number, inside brackets too.
            if (++i < pattern.size() && is_digit(pattern[i])) {
                if (auto why = check_number(pattern, i, "backreference")) return why;
            } else {
                ++i;
            }
            continue;
        }
        ++i;
        if (in_bracket) {
            // [:alpha:], [.x.] and [=x=] hold a ']' of their own.
            if (c == '[' && i < pattern.size() &&
                (pattern[i] == ':' || pattern[i] == '.' || pattern[i] == '=')) {
                char kind[3] = {pattern[i], ']', '\0'};
                std::size_t end = pattern.find(kind, i + 1);
                i = end == std::string_view::npos ? pattern.size() : end + 2;
            } else {
                in_bracket = c != ']'; // ECMAScript: even a first ']' ends it
            }
        } else if (c == '[') {
            in_bracket = true;
        } else if (c == '(') {
            if (++depth > regex_max_nesting)
                return fmt::format("groups nested more than {} deep at offset {}",
                                   regex_max_nesting, i - 1);
        } else if (c == ')') {
            depth -= depth > 0;
        } else if (c == '{') {
            for (int bound = 0; bound < 2 && i < pattern.size(); ++bound) {
                if (auto why = check_number(pattern, i, "repetition count")) return why;
                if (i == pattern.size() || pattern[i] != ',') break;
                ++i;
            }
        }
    }
    return std::nullopt;
}

} // namespace rill::config
