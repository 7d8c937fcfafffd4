// Installed-package check: links against an installed rill and exercises its
// public headers (run, go, buffered and unbuffered channels, select, a
// supervisor restarting a child, a YAML topology with a stage of its own).
// Exits 0 only when every value sent arrived exactly once, the child was
// restarted and the topology delivered every generated line. Built with
// RILL_INSTALL_WITH_NATS (rill::nats linked): also that the NATS stages
// registered themselves and that a topology using them loads, and that its
// publish, given a server nobody listens on, fails with libnats' error; without:
// that no NATS stage exists.
#include <rill/chan.hpp>
#include <rill/config/loader.hpp>
#include <rill/config/runner.hpp>
#include <rill/config/stage_io.hpp>
#ifdef RILL_INSTALL_WITH_NATS
#include <rill/nats/bridge.hpp>
#endif
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/supervisor.hpp>

#include <atomic>

#include <cstdio>
#include <optional>
#include <stdexcept>
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

// The NATS stages are there exactly when rill::nats is linked; with it, a
// topology using them loads and a publish to a closed port fails to connect.
bool check_nats_stages() {
    bool registered = rill::config::registry::global().find("nats_publish") != nullptr;
#ifdef RILL_INSTALL_WITH_NATS
    auto loaded =
        rill::config::load_string("channels: {c: string}\nstages:\n"
                                  "  gen: {stage: generate, out: c, args: {count: 1}}\n"
                                  "  pub: {stage: nats_publish, in: c, args: {subject: s}}\n",
                                  "nats.yaml");
    for (const auto& d : loaded.errors)
        std::printf("%s\n", rill::config::format(d).c_str());
    bool refused = rill::run([] {
        rill::chan<std::string> values(1);
        values.close();
        rill::config::nats::publish_options o{.connection = {.servers = "nats://127.0.0.1:1"},
                                              .subject = "s"};
        try {
            rill::config::nats::publish(rill::background(), values.rx(), o);
        } catch (const std::runtime_error&) {
            return true;
        }
        return false;
    });
    std::printf("rill install check: NATS stages %s, topology %s, publish %s\n",
                registered ? "registered" : "missing", loaded.topo ? "loaded" : "refused",
                refused ? "refused without a server" : "did not fail");
    return registered && loaded.topo && refused;
#else
    std::printf("rill install check: NATS stages %s\n",
                registered ? "registered (wrong)" : "absent");
    return !registered;
#endif
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
    bool nats_ok = check_nats_stages();
    return wrong == 0 && restarts == 1 && topology_ok && nats_ok ? 0 : 1;
}
