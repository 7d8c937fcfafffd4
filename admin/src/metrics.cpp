#include <rill/admin/metrics.hpp>

#include <fmt/format.h>

#include <cmath>

namespace rill::admin {

namespace {

// Label values escape backslash, double quote and newline; HELP text escapes
// backslash and newline (the format's two escaping rules).
void append_escaped(std::string& out, std::string_view s, bool quote) {
    for (char c : s) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && quote)
            out += "\\\"";
        else
            out += c;
    }
}

// Go's strconv formatting as Prometheus clients use it: integers without a
// fraction, and the format's spellings of the special values.
void append_value(std::string& out, double v) {
    if (std::isnan(v))
        out += "NaN";
    else if (std::isinf(v))
        out += v > 0 ? "+Inf" : "-Inf";
    else if (v == std::floor(v) && std::fabs(v) < 1e15)
        fmt::format_to(std::back_inserter(out), "{:.0f}", v);
    else
        fmt::format_to(std::back_inserter(out), "{}", v);
}

} // namespace

void exposition::add(std::string_view name, metric_type type, std::string_view help,
                     const labels& ls, double value) {
    auto it = families_.find(name);
    if (it == families_.end())
        it = families_.emplace(std::string(name), family{type, std::string(help), {}}).first;
    std::string& out = it->second.samples;
    out += name;
    if (!ls.empty()) {
        out += '{';
        for (std::size_t i = 0; i < ls.size(); ++i) {
            if (i) out += ',';
            out += ls[i].first;
            out += "=\"";
            append_escaped(out, ls[i].second, true);
            out += '"';
        }
        out += '}';
    }
    out += ' ';
    append_value(out, value);
    out += '\n';
}

std::string exposition::text() const {
    std::string out;
    for (const auto& [name, f] : families_) {
        out += "# HELP ";
        out += name;
        out += ' ';
        append_escaped(out, f.help, false);
        out += "\n# TYPE ";
        out += name;
        out += f.type == metric_type::counter ? " counter\n" : " gauge\n";
        out += f.samples;
    }
    return out;
}

std::uint64_t registry::add(collector c) {
    std::lock_guard lk(mu_);
    collectors_.emplace(next_, std::move(c));
    return next_++;
}

void registry::remove(std::uint64_t handle) {
    std::lock_guard lk(mu_);
    collectors_.erase(handle);
}

exposition registry::collect() const {
    exposition out;
    std::lock_guard lk(mu_);
    for (const auto& [handle, c] : collectors_)
        c(out);
    return out;
}

} // namespace rill::admin
