// Access-log records and their parser, shared by the pipeline example's
// stages (stages.cpp) and the hand-written CSP version in the benchmark
// (bench/yamlpipe.cpp), so both do exactly the same work.
//
// A line is in the Common (or Combined) Log Format:
//   203.0.113.7 - - [23/Nov/2026:10:00:01 +0000] "GET /index.html HTTP/1.1" 200 5120 "-" "curl/8.4"
// parse_access_line throws std::invalid_argument, naming what is wrong, for
// anything else: the example's parse stage lets that escape so that its
// supervisor restarts it.
#pragma once

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace access_log {

struct log_record {
    std::string client;
    std::int64_t time = 0; // seconds since the Unix epoch, UTC
    std::string method;
    std::string path;
    int status = 0;
    std::int64_t bytes = 0; // 0 for "-"
};

namespace detail {

[[noreturn]] inline void malformed(std::string_view what, std::string_view line) {
    throw std::invalid_argument(fmt::format("malformed access-log line ({}): '{}'", what, line));
}

template <class I> I number(std::string_view s, std::string_view what, std::string_view line) {
    I v{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) malformed(what, line);
    return v;
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct civil_date {
    std::int64_t year;
    unsigned month, day; // 1-12, 1-31
};

// The inverse (H. Hinnant's civil_from_days).
constexpr civil_date civil_from_days(std::int64_t z) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

inline constexpr std::array<std::string_view, 12> month_names = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// "23/Nov/2026:10:00:01 +0000" -> seconds since the epoch, UTC.
inline std::int64_t parse_time(std::string_view s, std::string_view line) {
    if (s.size() != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' ||
        s[17] != ':' || s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
        malformed("timestamp", line);
    unsigned month = 0;
    while (month < 12 && month_names[month] != s.substr(3, 3))
        ++month;
    if (month == 12) malformed("month", line);
    auto day = number<unsigned>(s.substr(0, 2), "day", line);
    auto year = number<std::int64_t>(s.substr(7, 4), "year", line);
    auto hh = number<int>(s.substr(12, 2), "hour", line);
    auto mm = number<int>(s.substr(15, 2), "minute", line);
    auto ss = number<int>(s.substr(18, 2), "second", line);
    auto oh = number<int>(s.substr(22, 2), "zone", line);
    auto om = number<int>(s.substr(24, 2), "zone", line);
    if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) malformed("timestamp", line);
    int offset = (oh * 60 + om) * 60 * (s[21] == '-' ? -1 : 1);
    return days_from_civil(year, month + 1, day) * 86400 + hh * 3600 + mm * 60 + ss - offset;
}

// The text up to (not including) `sep` from `at`, advancing `at` past it.
inline std::string_view field(std::string_view line, std::size_t& at, char sep,
                              std::string_view what) {
    std::size_t end = line.find(sep, at);
    if (end == std::string_view::npos) malformed(what, line);
    std::string_view f = line.substr(at, end - at);
    at = end + 1;
    return f;
}

} // namespace detail

// Seconds since the epoch (UTC) as "2026-11-23T10:05:00Z".
inline std::string iso8601(std::int64_t t) {
    std::int64_t days = (t >= 0 ? t : t - 86399) / 86400, secs = t - days * 86400;
    auto c = detail::civil_from_days(days);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, secs / 3600,
                       secs / 60 % 60, secs % 60);
}

// ... and as the log's "23/Nov/2026:10:05:00 +0000".
inline std::string clf_time(std::int64_t t) {
    std::int64_t days = (t >= 0 ? t : t - 86399) / 86400, secs = t - days * 86400;
    auto c = detail::civil_from_days(days);
    return fmt::format("{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000", c.day,
                       detail::month_names[c.month - 1], c.year, secs / 3600, secs / 60 % 60,
                       secs % 60);
}

inline log_record parse_access_line(std::string_view line) {
    using namespace detail;
    log_record r;
    std::size_t at = 0;
    r.client = field(line, at, ' ', "client");
    if (r.client.empty()) malformed("client", line);
    field(line, at, '[', "timestamp"); // identity and user: unused
    r.time = parse_time(field(line, at, ']', "timestamp"), line);
    if (line.substr(at, 2) != " \"") malformed("request", line);
    at += 2;
    std::string_view request = field(line, at, '"', "request");
    std::size_t sp1 = request.find(' '), sp2 = request.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) malformed("request", line);
    r.method = request.substr(0, sp1);
    r.path = request.substr(sp1 + 1, sp2 - sp1 - 1);
    if (at >= line.size() || line[at] != ' ') malformed("status", line);
    ++at;
    r.status = number<int>(field(line, at, ' ', "status"), "status", line);
    if (r.status < 100 || r.status > 599) malformed("status", line);
    std::size_t end = line.find(' ', at);
    std::string_view bytes = line.substr(at, end == std::string_view::npos ? end : end - at);
    r.bytes = bytes == "-" ? 0 : number<std::int64_t>(bytes, "size", line);
    return r;
}

} // namespace access_log

// Lets sinks (write_lines) print records: `client time method path status bytes`.
template <> struct fmt::formatter<access_log::log_record> : fmt::formatter<std::string_view> {
    template <class Ctx> auto format(const access_log::log_record& r, Ctx& ctx) const {
        return fmt::format_to(ctx.out(), "{} {} {} {} {} {}", r.client, r.time, r.method, r.path,
                              r.status, r.bytes);
    }
};
