// Counting access-log records per key over fixed windows of log time, shared
// by the example's window_counts stage and the benchmark's CSP version.
//
// Windows are cut by the records' own timestamps, not the clock, so the same
// input always gives the same output. A window is finished when a record of a
// later window arrives (logs come roughly in time order; a late record counts
// in the current window) or when the input ends (finish). Each finished window
// gives one line per key, in key order:
//   window=2026-11-23T10:05:00Z status=200 count=123
#pragma once

#include "access_log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace access_log {

// The record fields a window can count by.
inline constexpr const char* window_keys[] = {"status", "method", "path", "client"};

class window_counter {
public:
    // window_seconds >= 1; key one of window_keys (else std::invalid_argument).
    window_counter(std::int64_t window_seconds, std::string key)
        : window_(window_seconds), key_(std::move(key)) {
        if (window_ < 1) throw std::invalid_argument("window_counter: window must be >= 1s");
        if (std::find(std::begin(window_keys), std::end(window_keys), key_) ==
            std::end(window_keys))
            throw std::invalid_argument("window_counter: unknown key '" + key_ + "'");
    }

    // Counts r; if r opens a later window, the finished window's lines are
    // appended to out first.
    void add(const log_record& r, std::vector<std::string>& out) {
        std::int64_t start = r.time - (r.time % window_ + window_) % window_;
        if (!open_) {
            start_ = start;
            open_ = true;
        } else if (start > start_) {
            finish(out);
            start_ = start;
            open_ = true;
        }
        ++counts_[key_of(r)];
    }

    // Appends the open window's lines (if any) to out.
    void finish(std::vector<std::string>& out) {
        if (!open_) return;
        std::string when = iso8601(start_);
        for (const auto& [key, n] : counts_)
            out.push_back(fmt::format("window={} {}={} count={}", when, key_, key, n));
        counts_.clear();
        open_ = false;
    }

private:
    std::string key_of(const log_record& r) const {
        if (key_ == "status") return std::to_string(r.status);
        if (key_ == "method") return r.method;
        if (key_ == "path") return r.path;
        return r.client;
    }

    std::int64_t window_;
    std::string key_;
    bool open_ = false;
    std::int64_t start_ = 0;
    std::map<std::string, std::int64_t> counts_;
};

} // namespace access_log
