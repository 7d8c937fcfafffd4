#include <rill/config/diagnostic.hpp>

#include "format/json_text.hpp"

#include <algorithm>
#include <cctype>
#include <ostream>

namespace rill::config {

std::string format(const diagnostic& d) {
    std::string out = d.at.file.empty() ? "<input>" : d.at.file;
    if (d.at.line > 0) {
        out += ':' + std::to_string(d.at.line);
        if (d.at.column > 0) out += ':' + std::to_string(d.at.column);
    }
    out += ": error: " + d.message;
    if (!d.suggestion.empty()) out += " (did you mean '" + d.suggestion + "'?)";
    return out;
}

std::ostream& operator<<(std::ostream& os, const diagnostic& d) { return os << format(d); }

std::string to_json(const std::string& file, const std::vector<diagnostic>& ds) {
    using json_text::append_string;
    std::string out = "{\"file\": ";
    append_string(out, file);
    out += ds.empty() ? ", \"valid\": true, \"diagnostics\": ["
                      : ", \"valid\": false, \"diagnostics\": [";
    for (std::size_t i = 0; i < ds.size(); ++i) {
        const diagnostic& d = ds[i];
        out += i ? ",\n  {\"file\": " : "\n  {\"file\": ";
        append_string(out, d.at.file.empty() ? file : d.at.file);
        out += ", \"line\": " + std::to_string(d.at.line) +
               ", \"column\": " + std::to_string(d.at.column) +
               ", \"severity\": \"error\", \"message\": ";
        append_string(out, d.message);
        out += ", \"suggestion\": ";
        if (d.suggestion.empty())
            out += "null";
        else
            append_string(out, d.suggestion);
        out += '}';
    }
    return out + (ds.empty() ? "]}\n" : "\n]}\n");
}

namespace {

// Edit distance counting a swap of neighbours as one edit (optimal string
// alignment), case-insensitive: "liens" and "String" are typos of "lines" and
// "string". Three rows of the matrix suffice (a swap looks two rows back), so
// memory is linear in the candidate's length.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    auto same = [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    };
    std::vector<std::size_t> before(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            cur[j] = std::min(
                {prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same(a[i - 1], b[j - 1]) ? 0 : 1)});
            if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]))
                cur[j] = std::min(cur[j], before[j - 2] + 1);
        }
        std::swap(before, prev);
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

} // namespace

std::string closest(std::string_view word, const std::vector<std::string>& candidates) {
    // The time is the product of the lengths: a name longer than any a person
    // would mistype is not a typo worth the search.
    if (word.size() > max_suggestion_length) return {};
    std::size_t limit = std::max<std::size_t>(1, word.size() / 3);
    const std::string* best = nullptr;
    std::size_t best_d = 0;
    for (const auto& c : candidates) {
        // Lengths differing by more than the limit cannot be within it.
        std::size_t gap = c.size() > word.size() ? c.size() - word.size() : word.size() - c.size();
        if (gap > limit) continue;
        std::size_t d = edit_distance(word, c);
        if (d <= limit && d < word.size() && (!best || d < best_d)) {
            best = &c;
            best_d = d;
        }
    }
    return best ? *best : std::string();
}

namespace {
std::string join_formatted(const std::vector<diagnostic>& ds) {
    std::string out;
    for (const auto& d : ds) {
        if (!out.empty()) out += '\n';
        out += format(d);
    }
    return out;
}
} // namespace

topology_error::topology_error(std::vector<diagnostic> ds)
    : std::runtime_error(join_formatted(ds)), ds_(std::move(ds)) {}

} // namespace rill::config
