// JSON string literals, for the JSON the format writes (the JSON Schema,
// `rill check --format json`).
#pragma once

#include <string>
#include <string_view>

namespace rill::config::json_text {

// Appends s as a JSON string literal: quote and backslash escaped, a line
// break as \n, other control characters as \u00XX. Text that is not valid
// UTF-8 (a diagnostic may quote any bytes of a file) has each offending byte
// replaced by \ufffd, so that the output is always valid JSON.
void append_string(std::string& out, std::string_view s);

} // namespace rill::config::json_text
