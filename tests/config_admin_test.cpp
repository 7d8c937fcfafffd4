// `rill run --http`: the admin endpoint of a running topology, end to end.
// The command runs as a child process on port 0 and names the port it got
// in its log; every request is made once the run has shown, through the
// endpoint itself, the state under test (soon() only turns a hang into a
// failure). /metrics is checked against Prometheus's own linter, promtool,
// and scraped by a Prometheus server, when the build found them
// (scripts/test.sh installs Debian's prometheus, which has both).
#include "http_client.hpp"
#include "scratch_dir.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <netinet/in.h>
#include <regex>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using rill_test::http_get;
using rill_test::scratch_dir;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

template <class Pred> bool soon(Pred pred) {
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!pred() && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return pred();
}

// The port `rill run --http 127.0.0.1:0` says it serves on, once it has.
int admin_port(const rill_test::process& p) {
    static const std::regex line(R"(admin endpoint on http://127\.0\.0\.1:([0-9]+)/)");
    std::smatch m;
    std::string out;
    REQUIRE(soon([&] { return std::regex_search(out = rill_test::output_so_far(p), m, line); }));
    return std::stoi(m[1]);
}

// A topology that runs until signalled: a source, a filter and a sink.
std::string endless_topology(const scratch_dir& dir) {
    return dir.file("endless.yaml", "channels:\n"
                                    "  ticks: {type: string, capacity: 16}\n"
                                    "  kept: {type: string, capacity: 8}\n"
                                    "stages:\n"
                                    "  gen: {stage: generate, out: ticks}\n"
                                    "  keep: {stage: grep, in: ticks, out: kept,\n"
                                    "         args: {pattern: 'tick'}}\n"
                                    "  sink: {stage: write_lines, in: kept,\n"
                                    "         args: {path: '" +
                                        dir.file("out.txt") + "'}}\n");
}

} // namespace

TEST_CASE("rill run --http: health, readiness, metrics and the goroutine dump of a run",
          "[config][cli][admin]") {
    scratch_dir dir;
    auto p = rill_test::start_process(
        RILL_CLI_PATH, {RILL_CLI_PATH, "run", endless_topology(dir), "--http", "127.0.0.1:0"}, {});
    int port = admin_port(p);
    CHECK(http_get(port, "/healthz").status == 200);
    REQUIRE(soon([&] { return http_get(port, "/readyz").status == 200; }));
    // Values flow: the sink's input has carried some, and the sink has
    // taken some (counted live, not only when a run of the stage ends).
    static const std::regex kept_sent(R"(rill_channel_sent_total\{channel="kept"\} ([1-9][0-9]*))");
    static const std::regex sink_received(
        R"(rill_stage_worker_received_total\{stage="sink",worker="sink"\} ([1-9][0-9]*))");
    std::string metrics;
    REQUIRE(soon([&] {
        metrics = http_get(port, "/metrics").body;
        return std::regex_search(metrics, kept_sent) && std::regex_search(metrics, sink_received);
    }));
    INFO(metrics);
    CHECK(contains(metrics, "# TYPE rill_channel_sent_total counter\n"));
    CHECK(contains(metrics, "rill_channel_capacity{channel=\"ticks\"} 16\n"));
    CHECK(contains(metrics, "rill_channel_closed{channel=\"kept\"} 0\n"));
    CHECK(contains(
        metrics, "rill_stage_worker_state{stage=\"keep\",worker=\"keep\",state=\"running\"} 1\n"));
    CHECK(contains(metrics,
                   "rill_stage_worker_state{stage=\"keep\",worker=\"keep\",state=\"failed\"} 0\n"));
    CHECK(contains(metrics, "rill_supervisor_state{supervisor=\"root\",state=\"running\"} 1\n"));
    CHECK(contains(metrics, "rill_topology_ready 1\n"));
    CHECK(contains(metrics, "# TYPE rill_goroutines gauge\n"));
    CHECK(contains(metrics, "process_resident_memory_bytes "));
#ifdef RILL_PROMTOOL_PATH
    std::string file = dir.file("metrics.txt", metrics);
    auto lint = rill_test::wait_process(rill_test::start_process(
        "/bin/sh", {"/bin/sh", "-c", std::string(RILL_PROMTOOL_PATH) + " check metrics < " + file},
        {}));
    INFO(lint.output);
    CHECK(lint.exited_with(0));
#endif
    auto dump = http_get(port, "/debug/goroutines");
    CHECK(dump.status == 200);
    CHECK(contains(dump.body, "supervisor root"));
    CHECK(http_get(port, "/nothing").status == 404);

    kill(p.pid, SIGTERM);
    auto r = rill_test::wait_process(p);
    INFO(r.output);
    CHECK(r.exited_with(0));
}

TEST_CASE("rill run --http: a bad or taken address is an error before anything runs",
          "[config][cli][admin]") {
    scratch_dir dir;
    auto file = endless_topology(dir);
    auto bad = rill_test::wait_process(rill_test::start_process(
        RILL_CLI_PATH, {RILL_CLI_PATH, "run", file, "--http", "localhost:9090"}, {}));
    CHECK(bad.exited_with(2));
    CHECK(contains(bad.output, "--http: expected IP:PORT with a numeric IP"));

    auto first = rill_test::start_process(
        RILL_CLI_PATH, {RILL_CLI_PATH, "run", file, "--http", "127.0.0.1:0"}, {});
    std::string taken = "127.0.0.1:" + std::to_string(admin_port(first));
    auto second = rill_test::wait_process(
        rill_test::start_process(RILL_CLI_PATH, {RILL_CLI_PATH, "run", file, "--http", taken}, {}));
    INFO(second.output);
    CHECK(second.exited_with(6));
    CHECK(contains(second.output, "--http " + taken + ": listen " + taken));
    kill(first.pid, SIGTERM);
    CHECK(rill_test::wait_process(first).exited_with(0));
}

#ifdef RILL_PROMETHEUS_PATH
namespace {

// A port free a moment ago (bound to port 0, then closed), for a program
// that must be told its port: Prometheus's web listener.
int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// Ends a child process with the scope, a failed assertion included.
struct ended_with_scope {
    rill_test::process& p;
    ~ended_with_scope() {
        if (p.pid > 0) {
            kill(p.pid, SIGTERM);
            rill_test::wait_process(p);
        }
    }
};

} // namespace

TEST_CASE("rill run --http: a real Prometheus server scrapes the run", "[config][cli][admin]") {
    scratch_dir dir;
    auto run = rill_test::start_process(
        RILL_CLI_PATH, {RILL_CLI_PATH, "run", endless_topology(dir), "--http", "127.0.0.1:0"}, {});
    ended_with_scope end_run{run};
    int target = admin_port(run);
    std::string config = dir.file("prometheus.yml", "global: {scrape_interval: 1s}\n"
                                                    "scrape_configs:\n"
                                                    "  - job_name: rill\n"
                                                    "    static_configs: [{targets: ['127.0.0.1:" +
                                                        std::to_string(target) + "']}]\n");
    std::string data = dir.file("data");
    std::remove(data.c_str()); // a folder Prometheus makes, in the scratch folder
    int web = free_port();
    auto prom = rill_test::spawn_process(RILL_PROMETHEUS_PATH,
                                         {RILL_PROMETHEUS_PATH, "--config.file=" + config,
                                          "--storage.tsdb.path=" + data,
                                          "--web.listen-address=127.0.0.1:" + std::to_string(web)},
                                         {}, true);
    REQUIRE(prom.pid > 0);
    ended_with_scope end_prom{prom};
    // The scraped series, as Prometheus's query API returns them once stored.
    std::string answer;
    bool stored = soon([&] {
        answer = http_get(web, "/api/v1/query?query=rill_channel_sent_total").body;
        return contains(answer, "\"channel\":\"kept\"") && contains(answer, "\"job\":\"rill\"");
    });
    INFO(answer << "\n" << rill_test::output_so_far(prom));
    CHECK(stored);
    auto up = http_get(web, "/api/v1/query?query=up").body;
    CHECK(contains(up, "\"value\":["));
    CHECK(contains(up, "\"1\"]"));
}
#endif
