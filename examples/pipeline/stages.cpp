// The pipeline example's own stages, registered beside their functions:
// parse_access_log (access-log lines -> log_record; it throws on a malformed
// line, and its supervisor restarts it) and window_counts (records -> one
// line per key and window of log time). Linked into the `pipeline` program
// and into the benchmark that runs the same topology.
#include "access_log.hpp"
#include "window_counter.hpp"

#include <rill/config/record_fields.hpp>
#include <rill/config/registry.hpp>
#include <rill/config/stage_io.hpp>
#include <rill/config/types.hpp>

#include <chrono>
#include <iterator>
#include <string>
#include <vector>

using access_log::log_record;

// Its fields, for `pipeline test` to check records field by field
// (pipeline.test.yaml).
template <> struct rill::config::record_fields<log_record> {
    static std::vector<std::string> names() {
        return {"client", "time", "method", "path", "status", "bytes"};
    }
    static std::vector<std::string> values(const log_record& r) {
        return {r.client, std::to_string(r.time),   r.method,
                r.path,   std::to_string(r.status), std::to_string(r.bytes)};
    }
};

RILL_CONFIG_TYPE(log_record, "log_record");
RILL_CONFIG_RECORD_FIELDS(log_record);

namespace {

// No try/catch: a malformed line's exception ends the stage, which is what
// its supervisor is for. The line is lost (and logged); the ones behind it
// are still in the channel for the restarted stage.
void parse_access_log(rill::config::stage_io& io) {
    auto out = io.out<log_record>("out");
    for (auto& line : io.in<std::string>("in"))
        if (!out.send(access_log::parse_access_line(line))) return;
}

void window_counts(rill::config::stage_io& io) {
    auto window = std::chrono::duration_cast<std::chrono::seconds>(
        io.arg<std::chrono::nanoseconds>("window"));
    access_log::window_counter counter(window.count(), io.arg<std::string>("key"));
    auto out = io.out<std::string>("out");
    std::vector<std::string> lines;
    auto send_lines = [&] {
        for (auto& l : lines)
            if (!out.send(std::move(l))) return false;
        lines.clear();
        return true;
    };
    for (auto& r : io.in<log_record>("in")) {
        counter.add(r, lines);
        if (!send_lines()) return;
    }
    counter.finish(lines);
    send_lines();
}

} // namespace

RILL_STAGE(rill::config::stage_def("parse_access_log", parse_access_log)
               .help("parses Common/Combined Log Format lines into log_records; throws on a "
                     "malformed line (put it under a supervisor)")
               .input<std::string>("in", "access-log lines")
               .output<log_record>("out", "one record per line"));

RILL_STAGE(rill::config::stage_def("window_counts", window_counts)
               .help("counts records per key over consecutive windows of log time; one line "
                     "'window=<start> <key>=<value> count=<n>' per key as each window ends")
               .input<log_record>("in")
               .output<std::string>("out")
               .arg<std::chrono::nanoseconds>("window", std::chrono::minutes(5),
                                              "window length (whole seconds)")
               .min(1)
               .arg<std::string>("key", "status", "the field counted by")
               .choices({std::begin(access_log::window_keys), std::end(access_log::window_keys)}));
