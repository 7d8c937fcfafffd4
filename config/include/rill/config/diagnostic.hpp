// Positions in topology files and the problems found there. Every problem the
// loader finds is a diagnostic; `file:line:column: error: message` is how
// they are printed, with "(did you mean 'x'?)" when a suggestion was found.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rill::config {

// A position in a file; line and column count from 1 (0: unknown).
struct mark {
    std::string file;
    int line = 0;
    int column = 0;
    friend bool operator==(const mark&, const mark&) = default;
};

struct diagnostic {
    mark at;
    std::string message;
    std::string suggestion{}; // a likely intended name, or empty
    friend bool operator==(const diagnostic&, const diagnostic&) = default;
};

// "file:line:column: error: message (did you mean 'suggestion'?)"
std::string format(const diagnostic& d);
std::ostream& operator<<(std::ostream& os, const diagnostic& d);

// The outcome of checking `file` as one JSON object, for editors and CI
// annotations (`rill check --format json`): valid exactly when there are no
// diagnostics, and each diagnostic on a line of its own:
//   {"file": "f.yaml", "valid": false, "diagnostics": [
//     {"file": "f.yaml", "line": 5, "column": 12, "severity": "error",
//      "message": "unknown stage 'read_line'", "suggestion": "read_lines"}]}
// line and column are 0 where unknown; suggestion is null when there is none;
// every problem the loader reports is an error. Always valid JSON, whatever
// bytes the messages quote.
std::string to_json(const std::string& file, const std::vector<diagnostic>& ds);

// The candidate closest to `word` by edit distance, if close enough to be a
// likely typo (at most a third of the word's length, and at least one edit
// shorter than the word); empty if none, and for a word longer than
// max_suggestion_length characters.
inline constexpr std::size_t max_suggestion_length = 256;
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

// Thrown by the throwing loader entry points: every problem found, in file order.
class topology_error : public std::runtime_error {
public:
    explicit topology_error(std::vector<diagnostic> ds);
    const std::vector<diagnostic>& diagnostics() const noexcept { return ds_; }

private:
    std::vector<diagnostic> ds_;
};

} // namespace rill::config
