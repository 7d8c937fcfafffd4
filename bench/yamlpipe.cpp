// The cost of the YAML layer: the pipeline example run from its topology
// file (examples/pipeline/pipeline.yaml, through the loader and the runner)
// against the same pipeline hand-written with the CSP layer: the same stages
// (read lines, drop health probes with the same pattern and matcher, parse,
// count per status code in 5-minute windows, write), the same functions
// (examples/pipeline/*.hpp) and the same channel capacities. bench/yamlpipe.sh
// runs both beside the Go version (bench/go/yamlpipe) and compares them.
//
// Usage:
//   bench_yamlpipe gen N FILE [MALFORMED_EVERY]   writes an N-line access log
//   bench_yamlpipe yaml TOPOLOGY INPUT OUTPUT     runs TOPOLOGY with ${INPUT}, ${OUTPUT} set
//   bench_yamlpipe csp INPUT OUTPUT               runs the hand-written pipeline
// yaml and csp print one line "yamlpipe MS ms LINES lines": the time from
// the start (loading the file included) to the last line written, and how
// many lines were read. Only the pipeline is timed, not the runtime's start.
#include "access_log.hpp"
#include "log_generator.hpp"
#include "window_counter.hpp"
// The grep stage's matcher, a private header of rill::config (config/src is on
// this target's include path): drop_probes must match lines as the YAML side's
// grep does for the comparison to stay like for like.
#include "stages/line_matcher.hpp"

#include <rill/config/loader.hpp>
#include <rill/config/runner.hpp>
#include <rill/csp.hpp>
#include <rill/runtime.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

struct result {
    double ms;
    std::uint64_t lines;
};

double ms_since(steady::time_point t0) {
    return std::chrono::duration<double, std::milli>(steady::now() - t0).count();
}

result run_yaml(const std::string& topology, const std::string& input, const std::string& output) {
    setenv("INPUT", input.c_str(), 1);
    setenv("OUTPUT", output.c_str(), 1);
    auto t0 = steady::now();
    rill::config::runner r(rill::config::load_file_or_throw(topology));
    r.start();
    rill::config::run_result res = r.wait();
    double ms = ms_since(t0);
    if (res.exit_code() != 0)
        throw std::runtime_error(std::string("run ended ") + to_string(res.outcome) + ": " +
                                 res.message);
    for (const auto& c : res.channels)
        if (c.name == "lines") return {ms, c.sent};
    throw std::runtime_error("the topology has no channel 'lines'");
}

// pipeline.yaml, by hand: the same stages and channel capacities.
result run_csp(const std::string& input, const std::string& output) {
    using namespace rill::pipe;
    using access_log::log_record;
    auto t0 = steady::now();
    std::ifstream in(input);
    std::ofstream out(output);
    if (!in || !out) throw std::runtime_error("cannot open " + input + " or " + output);
    std::uint64_t lines = 0;
    rill::pipeline p;
    auto read = generate(p,
                         [&]() -> std::optional<std::string> {
                             std::string l;
                             if (!std::getline(in, l)) return std::nullopt;
                             ++lines;
                             return l;
                         },
                         {.name = "read", .buffer = 256});
    const rill::config::stages::line_matcher probe("\"GET /healthz ");
    auto records = std::move(read) |
                   filter([&](const std::string& l) { return !probe.matches(l); },
                          {.name = "drop_probes", .buffer = 256}) |
                   map([](std::string l) { return access_log::parse_access_line(l); },
                       {.name = "parse", .buffer = 256});
    // window_counts: lines come out as windows end, and the last at the end.
    auto counts =
        generate(p,
                 [rx = std::move(records), counter = access_log::window_counter(300, "status"),
                  pending = std::deque<std::string>(),
                  ended = false]() mutable -> std::optional<std::string> {
                     std::vector<std::string> got;
                     while (pending.empty() && !ended) {
                         if (auto r = rx.recv())
                             counter.add(*r, got);
                         else {
                             counter.finish(got);
                             ended = true;
                         }
                         pending.insert(pending.end(), std::make_move_iterator(got.begin()),
                                        std::make_move_iterator(got.end()));
                         got.clear();
                     }
                     if (pending.empty()) return std::nullopt;
                     std::string l = std::move(pending.front());
                     pending.pop_front();
                     return l;
                 },
                 {.name = "count", .buffer = 64});
    for_each(std::move(counts), [&](const std::string& l) { out << l << '\n'; });
    if (auto e = p.wait()) std::rethrow_exception(e);
    out.flush();
    return {ms_since(t0), lines};
}

std::uint64_t count_arg(std::string_view s) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size())
        throw std::invalid_argument("not a count: " + std::string(s));
    return n;
}

int usage() {
    std::fprintf(stderr, "usage: bench_yamlpipe gen N FILE [MALFORMED_EVERY]\n"
                         "       bench_yamlpipe yaml TOPOLOGY INPUT OUTPUT\n"
                         "       bench_yamlpipe csp INPUT OUTPUT\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (!args.empty() && args[0] == "gen" && (args.size() == 3 || args.size() == 4)) {
            std::ofstream out(args[2]);
            access_log::log_generator(42, args.size() == 4 ? count_arg(args[3]) : 0)
                .write(out, count_arg(args[1]));
            return out.flush() ? 0 : 1;
        }
        result r;
        if (!args.empty() && args[0] == "yaml" && args.size() == 4)
            r = rill::run([&] { return run_yaml(args[1], args[2], args[3]); });
        else if (!args.empty() && args[0] == "csp" && args.size() == 3)
            r = rill::run([&] { return run_csp(args[1], args[2]); });
        else
            return usage();
        std::printf("yamlpipe %.3f ms %llu lines\n", r.ms,
                    static_cast<unsigned long long>(r.lines));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_yamlpipe: %s\n", e.what());
        return 1;
    }
}
