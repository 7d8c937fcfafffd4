// Installed-package check: links against an installed rill and exercises its
// public headers (run, go, buffered and unbuffered channels, select, a
// supervisor restarting a child, a YAML topology with a stage of its own).
// Exits 0 only when every value sent arrived exactly once, the child was
// restarted and the topology delivered every generated line.
#include <rill/chan.hpp>
#include <rill/config/loader.hpp>
#include <rill/config/runner.hpp>
#include <rill/config/stage_io.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/supervisor.hpp>

#include <atomic>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace {
std::vector<std::string> collected; // written by the one collect worker only

void collect(rill::config::stage_io& io) {
    for (auto& line : io.in<std::string>("in"))
        collected.push_back(line);
}
RILL_STAGE(rill::config::stage_def("collect", collect).input<std::string>("in"));

constexpr const char* topology_yaml = R"(
channels:
  lines: string
stages:
  numbers: {stage: generate, out: lines, args: {count: 100, text: "line {n}"}}
  sink: {stage: collect, in: lines}
)";

// Loads and runs the topology; true when it completed with lines 1..100 in order.
bool run_topology() {
    auto loaded = rill::config::load_string(topology_yaml, "install.yaml");
    for (const auto& d : loaded.errors)
        std::printf("%s\n", rill::config::format(d).c_str());
    if (!loaded.topo) return false;
    auto result = rill::run([&] {
        rill::config::runner r(*loaded.topo);
        r.start();
        return r.wait();
    });
    bool in_order = collected.size() == 100;
    for (std::size_t i = 0; in_order && i < collected.size(); ++i)
        in_order = collected[i] == "line " + std::to_string(i + 1);
    std::printf("rill install check: topology %s, %zu lines collected%s\n",
                rill::config::to_string(result.outcome), collected.size(),
                in_order ? "" : " (wrong)");
    return result.outcome == rill::config::run_outcome::completed && in_order;
}
} // namespace

int main() {
    constexpr int producers = 4, per_producer = 1000;
    std::vector<int> counts = rill::run([] {
        rill::chan<int> values(16);
        rill::chan<int> finished(0);
        for (int p = 0; p < producers; ++p) {
            rill::go([values = values.tx(), finished = finished.tx(), p]() mutable {
                for (int i = 0; i < per_producer; ++i)
                    values.send(p * per_producer + i);
                finished.send(p);
            });
        }
        std::vector<int> counts(producers * per_producer, 0);
        for (int running = producers; running > 0;) {
            rill::select(rill::on_recv(values, [&](std::optional<int> v) { ++counts.at(*v); }),
                         rill::on_recv(finished, [&](std::optional<int>) { --running; }));
        }
        // Every producer has finished sending; what is left sits in the buffer.
        while (auto v = values.try_recv())
            ++counts.at(*v);
        return counts;
    });
    int restarts = rill::run([] {
        std::atomic<int> runs{0};
        rill::supervisor sup({.name = "install"},
                             {{.id = "child", .start = [&runs](const rill::context& ctx) {
                                   if (runs++ == 0) throw std::runtime_error("first run fails");
                                   (void)ctx.done().recv();
                               }}});
        sup.start();
        while (runs < 2)
            rill::gosched();
        sup.stop();
        return sup.which_children().at(0).restarts;
    });
    int wrong = 0;
    for (int c : counts)
        wrong += c != 1;
    std::printf("rill install check: %zu values, %d not received exactly once; %d restart(s)\n",
                counts.size(), wrong, restarts);
    bool topology_ok = run_topology();
    return wrong == 0 && restarts == 1 && topology_ok ? 0 : 1;
}
