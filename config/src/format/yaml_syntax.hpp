// The checks rill makes around yaml-cpp, so that a syntax error reads as
// well as libyaml's: it names the mistake and points at it. yaml-cpp stays
// the parser (see the README, "Errors", for why); these cover what it gets
// wrong or says in terms of its own parser state:
//   - characters (before parsing): UTF-8 only, with YAML 1.2's printable
//     set, so binary data or a UTF-16 file is refused at its first bad byte
//     instead of surfacing as an odd escape or key;
//   - a quoted string that is never closed (yaml-cpp silently takes the rest
//     of the file as the string, or fails at its end): reported at the quote;
//   - yaml-cpp's terse messages rewritten: a tab in the indentation at the
//     tab itself, an unclosed '[' or '{' with where it opened, a second
//     'key:' on one line, an unknown escape.
#pragma once

#include <rill/config/diagnostic.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rill::config::yaml {

// The first character YAML does not allow in a file, or the wrong
// encoding, or none.
std::optional<diagnostic> character_error(std::string_view text, const std::string& file);

// Whether the quoted scalar whose opening quote (' or ") is text[at] has
// its closing quote: '' inside single quotes and \x inside double quotes
// are escapes, not ends. False when text[at] is no quote.
bool quote_closed(std::string_view text, std::size_t at);

// What yaml-cpp's error `message` at (line, column), both from 1, means,
// and where; `open_flow` is the mark of the innermost '[' or '{' collection
// still open when it failed, if any.
diagnostic explain(std::string_view text, const std::string& file, const std::string& message,
                   int line, int column, const std::optional<mark>& open_flow);

} // namespace rill::config::yaml
