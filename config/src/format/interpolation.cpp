#include "format/interpolation.hpp"

#include <fmt/format.h>

namespace rill::config {
namespace {
bool name_char(char c, bool first) {
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (!first && c >= '0' && c <= '9');
}
} // namespace

interpolated interpolate(std::string_view text, const getenv_fn& getenv) {
    interpolated out;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t dollar = text.find('$', i);
        out.text.append(text.substr(i, dollar - i));
        if (dollar == std::string_view::npos) break;
        i = dollar + 1;
        if (i < text.size() && text[i] == '$') {
            out.text += '$';
            ++i;
            continue;
        }
        if (i >= text.size() || text[i] != '{') {
            out.text += '$';
            continue;
        }
        std::size_t close = text.find('}', i);
        if (close == std::string_view::npos) {
            out.error = fmt::format("unterminated '${{' in '{}' (write $$ for a literal $)", text);
            return out;
        }
        std::string_view inner = text.substr(i + 1, close - i - 1);
        std::size_t n = 0;
        while (n < inner.size() && name_char(inner[n], n == 0))
            ++n;
        std::string_view name = inner.substr(0, n);
        std::string_view rest = inner.substr(n);
        if (name.empty() || (!rest.empty() && rest.substr(0, 2) != ":-")) {
            out.error =
                fmt::format("malformed '${{{}}}': expected ${{NAME}} or ${{NAME:-default}}", inner);
            return out;
        }
        if (auto v = getenv(name))
            out.text += *v;
        else if (!rest.empty())
            out.text.append(rest.substr(2));
        else {
            out.error = fmt::format("environment variable '{}' is not set (give a default: "
                                    "${{{}:-value}})",
                                    name, name);
            return out;
        }
        i = close + 1;
    }
    return out;
}

} // namespace rill::config
