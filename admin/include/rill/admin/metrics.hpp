// Metrics in the Prometheus text exposition format (version 0.0.4), as the
// admin server's /metrics serves them.
//
// Contract.
// - A collector is a function that writes the current value of its samples
//   to an exposition when /metrics is scraped; nothing is kept between
//   scrapes, so a collector reads its counters where they live (the runtime,
//   a channel, a stage) and costs nothing between scrapes.
// - An exposition groups samples by family (metric name): each family gets
//   one # HELP and one # TYPE line and all its samples together, whichever
//   collectors wrote them and in whatever order, as the format requires.
//   Families come out sorted by name, samples in the order written.
// - Names follow Prometheus's conventions, which the caller keeps: a counter
//   ends in _total, values are in base units (seconds, bytes). Label values
//   are escaped here (backslash, double quote, newline).
// - A registry may be used from several goroutines and threads at once;
//   remove() returns once the collector is not running and will not run
//   again, so the collector's captures may then be destroyed.
#pragma once

#include <rill/sync.hpp>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rill::admin {

enum class metric_type { counter, gauge };

using labels = std::vector<std::pair<std::string, std::string>>;

class exposition {
public:
    // Adds one sample to the family name (declared with its type and help
    // the first time it is named; later declarations of it are ignored).
    void add(std::string_view name, metric_type type, std::string_view help, const labels& ls,
             double value);
    void add(std::string_view name, metric_type type, std::string_view help, double value) {
        add(name, type, help, {}, value);
    }
    // The whole text, families sorted by name.
    std::string text() const;

private:
    struct family {
        metric_type type;
        std::string help;
        std::string samples; // "name{labels} value\n" lines
    };
    std::map<std::string, family, std::less<>> families_;
};

using collector = std::function<void(exposition&)>;

class registry {
public:
    // Returns a handle for remove().
    std::uint64_t add(collector c);
    void remove(std::uint64_t handle);
    // Runs every collector into one exposition.
    exposition collect() const;

private:
    // A rill::mutex: a collector may park on a lock of its own (the runner's
    // does); parked holding a std::mutex, it would let a second scrape block
    // its thread on that mutex, which with one processor never lets the
    // holder run again.
    mutable rill::mutex mu_;
    std::uint64_t next_ = 1;
    std::map<std::uint64_t, collector> collectors_;
};

// The runtime's counters (rill::stats()) and the process's resident memory,
// as rill_* families; the admin server always serves them.
void write_runtime_metrics(exposition& out);

} // namespace rill::admin
