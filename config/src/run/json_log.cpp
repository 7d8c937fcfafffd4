#include "run/json_log.hpp"

#include "format/json_text.hpp"

#include <spdlog/details/log_msg.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <string>
#include <string_view>

namespace rill::config::detail {

namespace {

// The text after `prefix` up to the first of `ends`, if msg starts with
// prefix and one of them follows; the rest of msg after it in `rest`.
std::string_view field_after(std::string_view msg, std::string_view prefix,
                             std::initializer_list<std::string_view> ends,
                             std::string_view* rest = nullptr) {
    if (!msg.starts_with(prefix)) return {};
    msg.remove_prefix(prefix.size());
    std::size_t at = std::string_view::npos, end_size = 0;
    for (auto e : ends)
        if (auto i = msg.find(e); i < at) {
            at = i;
            end_size = e.size();
        }
    if (at == std::string_view::npos || at == 0) return {};
    if (rest) *rest = msg.substr(at + end_size);
    return msg.substr(0, at);
}

void add_field(std::string& out, std::string_view key, std::string_view value) {
    out += ", ";
    json_text::append_string(out, key);
    out += ": ";
    json_text::append_string(out, value);
}

std::string utc_time(std::chrono::system_clock::time_point t) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    long frac = static_cast<long>(us % 1'000'000);
    if (frac < 0) {
        frac += 1'000'000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64]; // 27 characters, unless the year has more than four digits
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

} // namespace

void json_log_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
    std::string_view text(msg.payload.data(), msg.payload.size());
    std::string out = "{\"time\": \"" + utc_time(msg.time) + "\"";
    auto level = spdlog::level::to_string_view(msg.level);
    add_field(out, "level", std::string_view(level.data(), level.size()));
    add_field(out, "logger", std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    add_field(out, "message", text);
    if (auto stage = field_after(text, "stage ", {": ", " ("}); !stage.empty())
        add_field(out, "stage", stage);
    std::string_view rest;
    if (auto sup = field_after(text, "supervisor ", {": ", " ("}, &rest); !sup.empty()) {
        add_field(out, "supervisor", sup);
        if (auto child = field_after(rest, "child ", {" ", ":"}); !child.empty())
            add_field(out, "child", child);
    }
    out += "}\n";
    dest.append(out.data(), out.data() + out.size());
}

std::unique_ptr<spdlog::formatter> json_log_formatter::clone() const {
    return std::make_unique<json_log_formatter>();
}

} // namespace rill::config::detail
