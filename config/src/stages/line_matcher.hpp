// Finding a pattern anywhere in a line, as the grep stage does. A pattern
// without regular-expression metacharacters (after unescaping `\.`, `\(` and
// the like) is searched for as plain text: std::regex_search costs about
// 1.7 µs an access-log line, a plain search a few tens of ns. Any other
// pattern is an ECMAScript std::regex.
//
// Contract: matches(line) == std::regex_search(line, std::regex(pattern))
// for every line; the constructor throws std::regex_error when the pattern
// is not a valid ECMAScript regex (the loader has reported that already).
// Also used by bench/yamlpipe.cpp, so that both sides of the YAML/CSP
// comparison match lines the same way.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>

namespace rill::config::stages {

class line_matcher {
public:
    explicit line_matcher(const std::string& pattern);
    bool matches(std::string_view line) const;
    // True when the pattern is searched for as plain text.
    bool is_literal() const noexcept { return !regex_; }

private:
    std::string literal_;
    std::optional<std::regex> regex_;
};

} // namespace rill::config::stages
