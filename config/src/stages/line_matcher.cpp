#include "stages/line_matcher.hpp"

#include <cstring>

namespace rill::config::stages {

namespace {

constexpr const char* metacharacters = "^$\\.*+?()[]{}|";

// The text a pattern matches when it is plain text: every metacharacter
// escaped, no other escape (\d, \b, \n ... mean something else). None otherwise.
std::optional<std::string> literal_of(const std::string& pattern) {
    std::string text;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c == '\\') {
            if (++i == pattern.size() || !std::strchr(metacharacters, pattern[i]) ||
                pattern[i] == '\0')
                return std::nullopt;
            text += pattern[i];
        } else if (c == '\0' || std::strchr(metacharacters, c)) {
            return std::nullopt;
        } else {
            text += c;
        }
    }
    return text;
}

} // namespace

line_matcher::line_matcher(const std::string& pattern) {
    if (auto text = literal_of(pattern))
        literal_ = std::move(*text);
    else
        regex_.emplace(pattern, std::regex::ECMAScript | std::regex::optimize);
}

bool line_matcher::matches(std::string_view line) const {
    if (!regex_) return line.find(literal_) != std::string_view::npos;
    return std::regex_search(line.begin(), line.end(), *regex_);
}

} // namespace rill::config::stages
