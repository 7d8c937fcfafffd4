// End to end through NATS: `rill run` processes running the scale-out
// example (examples/scaleout: producer.yaml publishes numbered jobs with
// JetStream, consumer.yaml writes them to a file) against a nats-server
// started for each test. A consumer is killed mid-stream and another takes
// over; three consumers share the jobs. Processes are signalled only once
// their output shows the state under test, and the checks are on what was
// written, so nothing depends on timing.
#include "nats_server.hpp"
#include "scratch_dir.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using rill_test::nats_server;
using rill_test::scratch_dir;

namespace {

const std::string producer_yaml = std::string(RILL_SOURCE_DIR) + "/examples/scaleout/producer.yaml";
const std::string consumer_yaml = std::string(RILL_SOURCE_DIR) + "/examples/scaleout/consumer.yaml";

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream f(path);
    std::vector<std::string> out;
    for (std::string l; std::getline(f, l);)
        out.push_back(l);
    return out;
}

// Polls until pred() holds; the limit only turns a hang into a failure.
template <class Pred> bool soon(Pred pred) {
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!pred() && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return pred();
}

rill_test::process rill_run(const std::string& yaml, std::map<std::string, std::string> env) {
    return rill_test::start_process(RILL_CLI_PATH, {RILL_CLI_PATH, "run", yaml}, env);
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// The jobs not in any of the files.
std::set<std::string> missing(int n, const std::vector<std::string>& files) {
    std::set<std::string> want;
    for (int i = 1; i <= n; ++i)
        want.insert("job " + std::to_string(i));
    for (auto& f : files)
        for (auto& l : lines_of(f))
            want.erase(l);
    return want;
}

} // namespace

TEST_CASE("rill run through NATS: a consumer killed mid-stream loses no job", "[config][nats]") {
    nats_server server;
    scratch_dir dir;
    const int n = rill_test::by_build(2000, 1000, 400);
    auto first_out = dir.file("first.txt"), second_out = dir.file("second.txt");
    auto first = rill_run(consumer_yaml, {{"NATS_URL", server.url()}, {"OUTPUT", first_out}});
    auto producer =
        rill_run(producer_yaml, {{"NATS_URL", server.url()}, {"JOBS", std::to_string(n)}});
    REQUIRE(soon([&] { return lines_of(first_out).size() >= static_cast<std::size_t>(n / 4); }));
    ::kill(first.pid, SIGKILL);
    auto killed = rill_test::wait_process(first);
    INFO("first consumer:\n" << killed.output);
    CHECK(WIFSIGNALED(killed.status));

    auto second = rill_run(consumer_yaml, {{"NATS_URL", server.url()}, {"OUTPUT", second_out}});
    bool complete = soon([&] { return missing(n, {first_out, second_out}).empty(); });
    ::kill(second.pid, SIGTERM);
    auto stopped = rill_test::wait_process(second);
    auto produced = rill_test::wait_process(producer);
    INFO("second consumer:\n" << stopped.output);
    INFO("producer:\n" << produced.output);
    CHECK(produced.exited_with(0));
    CHECK(stopped.exited_with(0));
    auto lost = missing(n, {first_out, second_out});
    CHECK(complete);
    CHECK(lost.empty());
    // Nothing but jobs, each at most twice: once before the kill, once again
    // after it if its acknowledgement did not reach the server.
    std::map<std::string, int> times;
    for (auto& f : {first_out, second_out})
        for (auto& l : lines_of(f))
            ++times[l];
    CHECK(times.size() == static_cast<std::size_t>(n));
    for (auto& [job, count] : times)
        CHECK(count <= 2);
}

TEST_CASE("rill run through NATS: three consumers share the jobs", "[config][nats]") {
    nats_server server;
    scratch_dir dir;
    // More jobs than two requests bring (2 x 256, nats_subscribe.cpp): the
    // server fills each consumer's open request in turn, and a consumer asks
    // again only once it has taken all of its last request.
    const int n = rill_test::by_build(3000, 1500, 1500);
    std::vector<std::string> outs;
    std::vector<rill_test::process> consumers;
    for (int i = 0; i < 3; ++i) {
        outs.push_back(dir.file("out" + std::to_string(i) + ".txt"));
        consumers.push_back(
            rill_run(consumer_yaml, {{"NATS_URL", server.url()}, {"OUTPUT", outs.back()}}));
    }
    // All three fetching before the first job exists.
    for (auto& c : consumers)
        REQUIRE(
            soon([&] { return contains(rill_test::output_so_far(c), "subscribed to rill.jobs"); }));
    auto producer =
        rill_run(producer_yaml, {{"NATS_URL", server.url()}, {"JOBS", std::to_string(n)}});
    bool complete = soon([&] { return missing(n, outs).empty(); });
    for (auto& c : consumers)
        ::kill(c.pid, SIGTERM);
    for (auto& c : consumers) {
        auto r = rill_test::wait_process(c);
        INFO(r.output);
        CHECK(r.exited_with(0));
    }
    CHECK(rill_test::wait_process(producer).exited_with(0));
    CHECK(complete);
    // No failure, so no redelivery: each job exactly once, and each consumer
    // had some.
    std::size_t total = 0;
    for (auto& o : outs) {
        auto got = lines_of(o).size();
        CHECK(got > 0);
        total += got;
    }
    CHECK(total == static_cast<std::size_t>(n));
}

TEST_CASE("rill run through NATS: a bridge that cannot connect is restarted, then the run gives "
          "up naming the server but not its password",
          "[config][nats]") {
    // Port 1: privileged, nobody listens there on a test machine.
    auto r = rill_test::wait_process(rill_run(
        consumer_yaml, {{"NATS_URL", "nats://worker:s3cret@127.0.0.1:1"}, {"OUTPUT", "-"}}));
    INFO(r.output);
    CHECK(r.exited_with(3)); // gave_up
    CHECK(contains(r.output, "child subscribe restarted"));
    CHECK(contains(r.output, "supervisor root gave up"));
    CHECK(contains(r.output, "connecting to nats://***@127.0.0.1:1"));
    CHECK(!contains(r.output, "s3cret"));
}
