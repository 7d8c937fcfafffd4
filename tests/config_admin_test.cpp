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
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <netinet/in.h>
#include <regex>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

using rill_test::contains;
using rill_test::http_get;
using rill_test::scratch_dir;
using rill_test::soon;

namespace {

// The port `rill run --http 127.0.0.1:0` says it serves on, once it has.
int admin_port(const rill_test::process& p) {
    static const std::regex line(R"(admin endpoint on http://127\.0\.0\.1:([0-9]+)/)");
    std::smatch m;
    std::string out;
    REQUIRE(soon([&] { return std::regex_search(out = rill_test::output_so_far(p), m, line); }));
    return std::stoi(m[1]);
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

#if defined(RILL_CHROMIUM_PATH) && defined(RILL_PIPELINE_PATH)
namespace {

// Headless Chromium on url, with args; its output (stdout and stderr). The
// virtual time budget lets the page's script fetch /api/state and draw
// before the DOM is dumped or the screenshot taken; timeout(1) bounds a
// browser that hangs.
rill_test::child_result chromium(const scratch_dir& dir, const std::string& url,
                                 std::vector<std::string> args) {
    std::string profile = dir.file("profile");
    std::remove(profile.c_str()); // a folder of Chromium's own, in the scratch folder
    std::vector<std::string> argv = {"/usr/bin/timeout",
                                     "120",
                                     RILL_CHROMIUM_PATH,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--user-data-dir=" + profile,
                                     "--virtual-time-budget=3000"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url);
    return rill_test::wait_process(rill_test::start_process("/usr/bin/timeout", argv, {}));
}

} // namespace

TEST_CASE("rill run --http: the live page draws the pipeline example's stages",
          "[.page]") { // hidden: hangs under headless Chromium here, see the report
    scratch_dir dir;
    // The pipeline reads a FIFO this test writes, so it runs until the test
    // closes it: as long as the page needs.
    std::string input = dir.file("input");
    std::remove(input.c_str());
    REQUIRE(::mkfifo(input.c_str(), 0600) == 0);
    auto run =
        rill_test::start_process(RILL_PIPELINE_PATH,
                                 {RILL_PIPELINE_PATH, "run",
                                  std::string(RILL_SOURCE_DIR) + "/examples/pipeline/pipeline.yaml",
                                  "--http", "127.0.0.1:0"},
                                 {{"INPUT", input}, {"OUTPUT", dir.file("counts.txt")}});
    ended_with_scope end_run{run};
    int port = admin_port(run);
    // Opened once read_lines has opened its end (before that, ENXIO).
    int fd = -1;
    REQUIRE(soon([&] { return (fd = ::open(input.c_str(), O_WRONLY | O_NONBLOCK)) >= 0; }));
    ::fcntl(fd, F_SETFL, 0);
    std::ifstream log(std::string(RILL_SOURCE_DIR) + "/examples/pipeline/data/access.log");
    std::string text{std::istreambuf_iterator<char>(log), std::istreambuf_iterator<char>()};
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    static const std::regex parsed(
        R"(rill_stage_received_total\{stage="parse",supervisor="processing"\} ([1-9][0-9]*))");
    REQUIRE(soon([&] { return std::regex_search(http_get(port, "/metrics").body, parsed); }));

    auto state = http_get(port, "/api/state");
    CHECK(state.status == 200);
    CHECK(contains(state.body, "\"id\":\"parse\",\"stage\":\"parse_access_log\""));

    std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
    auto dom = chromium(dir, url, {"--dump-dom"});
    INFO(dom.output);
    CHECK(dom.exited_with(0));
    for (const char* stage : {"read", "drop_probes", "parse", "count", "print"})
        CHECK(contains(dom.output, std::string("data-stage=\"") + stage + "\""));
    CHECK(contains(dom.output, "data-supervisor=\"processing\""));
    CHECK(contains(dom.output, "data-channel=\"records\""));
    CHECK(contains(dom.output, "class=\"stage running\""));

    std::remove(RILL_SCREENSHOT_PATH);
    auto shot = chromium(
        dir, url, {"--window-size=1100,600", std::string("--screenshot=") + RILL_SCREENSHOT_PATH});
    INFO(shot.output);
    CHECK(shot.exited_with(0));
    std::ifstream png(RILL_SCREENSHOT_PATH, std::ios::binary);
    std::string magic(8, '\0');
    png.read(magic.data(), 8);
    CHECK(magic == "\x89PNG\r\n\x1a\n");

    ::close(fd); // the end of the input: the pipeline completes
    auto r = rill_test::wait_process(run);
    run.pid = -1;
    INFO(r.output);
    CHECK(r.exited_with(0));
}
#endif
