#include "format/yaml_syntax.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace rill::config::yaml {

namespace {

// The length of the well-formed UTF-8 sequence at the start of s (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_length(std::string_view s) {
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    unsigned char b = byte(0);
    if (b < 0x80) return 1;
    std::size_t n = b >= 0xC2 && b <= 0xDF   ? 2
                    : b >= 0xE0 && b <= 0xEF ? 3
                    : b >= 0xF0 && b <= 0xF4 ? 4
                                             : 0;
    if (n == 0 || s.size() < n) return 0;
    unsigned char lo = 0x80, hi = 0xBF; // the second byte's range
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
    if (byte(1) < lo || byte(1) > hi) return 0;
    for (std::size_t i = 2; i < n; ++i)
        if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
    return n;
}

// The code point of a well-formed sequence of n bytes.
char32_t code_point(std::string_view s, std::size_t n) {
    auto byte = [&](std::size_t i) { return char32_t(static_cast<unsigned char>(s[i])); };
    if (n == 1) return byte(0);
    char32_t cp = byte(0) & (0x7F >> n);
    for (std::size_t i = 1; i < n; ++i)
        cp = cp << 6 | (byte(i) & 0x3F);
    return cp;
}

// YAML 1.2's c-printable: tab, line feed, carriage return, NEL and the
// printable rest of Unicode.
bool printable(char32_t c) {
    return c == 0x09 || c == 0x0A || c == 0x0D || (c >= 0x20 && c <= 0x7E) || c == 0x85 ||
           (c >= 0xA0 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) || c >= 0x10000;
}

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> lines;
    for (std::size_t start = 0; start <= text.size();) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

// The column (from 1) of the first tab in the indentation of a line with
// content, or 0.
int tab_in_indentation(std::string_view line) {
    std::size_t i = line.find_first_not_of(" \t");
    if (i == std::string_view::npos || line[i] == '#' || line[i] == '\r') return 0;
    std::size_t tab = line.substr(0, i).find('\t');
    return tab == std::string_view::npos ? 0 : int(tab) + 1;
}

std::string opened_at(const std::optional<mark>& open) {
    return open ? fmt::format(" at {}:{}", open->line, open->column) : std::string();
}

} // namespace

std::optional<diagnostic> character_error(std::string_view text, const std::string& file) {
    auto starts = [&](std::string_view bom) { return text.substr(0, bom.size()) == bom; };
    using namespace std::string_view_literals;
    if (starts("\x00\x00\xFE\xFF"sv) || starts("\xFF\xFE\x00\x00"sv))
        return diagnostic{{file, 1, 1}, "the file is UTF-32: save it as UTF-8"};
    if (starts("\xFE\xFF"sv) || starts("\xFF\xFE"sv))
        return diagnostic{{file, 1, 1}, "the file is UTF-16: save it as UTF-8"};
    int line = 1, column = 1;
    for (std::size_t i = 0; i < text.size();) {
        std::size_t n = utf8_length(text.substr(i));
        if (n == 0)
            return diagnostic{{file, line, column},
                              fmt::format("invalid UTF-8: byte 0x{:02X} (YAML files are UTF-8)",
                                          static_cast<unsigned char>(text[i]))};
        if (char32_t c = code_point(text.substr(i), n); !printable(c))
            return diagnostic{{file, line, column},
                              fmt::format("control character U+{:04X} is not allowed in YAML "
                                          "(is this a binary file?)",
                                          std::uint32_t(c))};
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
        i += n;
    }
    return std::nullopt;
}

bool quote_closed(std::string_view text, std::size_t at) {
    if (at >= text.size() || (text[at] != '"' && text[at] != '\'')) return false;
    char q = text[at];
    for (std::size_t i = at + 1; i < text.size(); ++i) {
        if (q == '"' && text[i] == '\\') {
            ++i; // an escape: the next character is never the end
        } else if (text[i] == q) {
            if (q == '\'' && i + 1 < text.size() && text[i + 1] == '\'')
                ++i; // '' is a quote inside single quotes
            else
                return true;
        }
    }
    return false;
}

diagnostic explain(std::string_view text, const std::string& file, const std::string& message,
                   int line, int column, const std::optional<mark>& open_flow) {
    const auto lines = lines_of(text);
    auto line_text = [&](int l) {
        return l >= 1 && l <= int(lines.size()) ? lines[l - 1] : std::string_view();
    };
    // A tab in the indentation of the failing line, or of the line with
    // content above it, is the likely cause whatever yaml-cpp says.
    int above = line - 1;
    while (above >= 1 && line_text(above).find_first_not_of(" \t\r") == std::string_view::npos)
        --above;
    for (int l : {line, above})
        if (int tab = tab_in_indentation(line_text(l)))
            return {{file, l, tab}, "a tab in the indentation: YAML indents with spaces only"};

    mark at{file, line, column};
    auto is = [&](std::string_view m) { return message.rfind(m, 0) == 0; };
    if (is("end of map flow not found"))
        return {at, fmt::format("the '{{' mapping{} is not closed: expected ',' or '}}' here",
                                opened_at(open_flow))};
    if (is("end of sequence flow not found"))
        return {at, fmt::format("the '[' list{} is not closed: expected ',' or ']' here",
                                opened_at(open_flow))};
    if (is("illegal map value")) {
        std::string_view before = line_text(line).substr(0, std::size_t(std::max(column - 1, 0)));
        if (before.find(": ") != std::string_view::npos)
            return {at, "a second ':' after a key on one line: a value cannot hold another "
                        "'key: value' (quote it if the ': ' is text)"};
        return {at, "a key indented deeper than the keys above it continues the value above: "
                    "check its indentation"};
    }
    if (is("end of map not found"))
        return {at, "this line does not continue the mapping above it: check its indentation"};
    if (is("end of sequence not found"))
        return {at, "this line does not continue the list above it: check its indentation"};
    if (is("illegal block entry"))
        return {at, "a '- ' list item where no list can start: check its indentation"};
    if (is("unknown escape character: ")) {
        // yaml-cpp's mark is past the escape: point at its backslash.
        std::string_view l = line_text(line);
        std::size_t slash = l.rfind('\\', column > 1 ? std::size_t(column - 2) : 0);
        if (slash != std::string_view::npos) at.column = int(slash) + 1;
        return {at, fmt::format("unknown escape '\\{}' in a double-quoted string: write '\\\\' "
                                "for a backslash, or use single quotes",
                                message.substr(message.find(": ") + 2))};
    }
    return {at, "invalid YAML: " + message};
}

} // namespace rill::config::yaml
