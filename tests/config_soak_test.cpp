// Soak: values flow through a chain of fail_every stages (every stage in it
// fails again and again) under each supervision strategy, and every value
// the source made is accounted for by identity: delivered exactly once, or
// among the ones the run reports as lost, whose number is exact.
//
// Scaled for CI by default; RILL_SOAK_VALUES=N runs N values per strategy
// (a few million make a long soak).
#include "config_util.hpp"
#include "test_util.hpp"

#include <rill/config/runner.hpp>
#include <rill/config/stage_io.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

using namespace config_test;
using std::int64_t;

namespace {

int64_t values_per_strategy() {
    if (const char* v = std::getenv("RILL_SOAK_VALUES")) return std::atoll(v);
    return rill_test::by_build(500000, 150000, 20000);
}

// The source's progress and what the sink got; reset by each run.
struct soak_record {
    std::atomic<int64_t> next{1}; // the next value the source sends
    int64_t last = 0;             // the source sends 1 .. last
    rill::mutex mu;
    std::vector<int64_t> delivered;
};
soak_record soak;

// Sends 1 .. last once each. The source sits under the root (one_for_one)
// and never fails, so no sibling's restart restarts it; should it be started
// again all the same, it resumes after the last value it sent. (It is a test
// stage rather than `generate`, whose restart semantics are another change.)
void soak_source(cfg::stage_io& io) {
    auto out = io.out<int64_t>("out");
    for (int64_t v = soak.next; v <= soak.last; v = ++soak.next)
        if (!out.send(v)) return;
}
RILL_STAGE(cfg::stage_def("soak_source", soak_source).output<int64_t>("out"));

// Records every value it receives, at once: it never holds one.
void soak_sink(cfg::stage_io& io) {
    for (auto v : io.in<int64_t>("in")) {
        std::lock_guard lk(soak.mu);
        soak.delivered.push_back(v);
    }
}
RILL_STAGE(cfg::stage_def("soak_sink", soak_sink).input<int64_t>("in"));

const cfg::stage_stats& stage_stats(const cfg::run_result& r, const std::string& id) {
    for (auto& s : r.stages)
        if (s.id == id) return s;
    throw std::logic_error("no stage " + id);
}

void soak_run(rill::strategy strategy) {
    const int64_t n = values_per_strategy();
    soak.next = 1;
    soak.last = n;
    soak.delivered.clear();

    // src -a-> f1 -b-> f2 -c-> f3 -d-> sink; f1..f3 fail every 7th, 11th
    // and 13th value of each of their runs, the sink is supervised with them.
    const std::vector<std::pair<std::string, int64_t>> faulty = {{"f1", 7}, {"f2", 11}, {"f3", 13}};
    cfg::topology t;
    t.channels = {chan("a", "int", 8), chan("b", "int", 8), chan("c", "int", 0),
                  chan("d", "int", 8)};
    t.stages = {stage("src", "soak_source", {}, {{"out", {"a"}}})};
    std::string from = "a";
    for (std::size_t i = 0; i < faulty.size(); ++i) {
        std::string to(1, static_cast<char>('b' + i));
        t.stages.push_back(stage(faulty[i].first, "fail_every", {{"in", {from}}}, {{"out", {to}}},
                                 {{"n", faulty[i].second}}));
        from = to;
    }
    t.stages.push_back(stage("sink", "soak_sink", {{"in", {from}}}, {}));
    // Each failure is one restart: the intensity allows every one of them.
    auto intensity = static_cast<int>(n);
    t.supervisors = {sup("root", rill::strategy::one_for_one, 1, {st("src"), su("body")}),
                     sup("body", strategy, intensity, {st("f1"), st("f2"), st("f3"), st("sink")})};
    // The watchdog turns a hang into a failure; a long soak needs longer.
    rill_test::watchdog wd("config soak", std::chrono::seconds(60 + n / 5000));
    auto r = rill::run([&] {
        cfg::runner runner(t);
        runner.start();
        return runner.wait();
    });
    INFO("strategy " << static_cast<int>(strategy) << ": " << r.message);
    REQUIRE(r.outcome == cfg::run_outcome::completed);

    // By identity: each value at most once, and only values the source made.
    std::vector<int64_t> got;
    {
        std::lock_guard lk(soak.mu);
        got = soak.delivered;
    }
    std::sort(got.begin(), got.end());
    auto dup = std::adjacent_find(got.begin(), got.end());
    INFO("delivered " << got.size() << " of " << n);
    CHECK(dup == got.end());
    REQUIRE(!got.empty());
    CHECK(got.front() >= 1);
    CHECK(got.back() <= n);

    // Those not delivered are exactly the ones counted as lost: nothing is
    // left in a channel of a completed run, and each stage's count is exact.
    std::uint64_t lost = 0;
    for (auto& s : r.stages)
        lost += s.lost;
    for (auto& c : r.channels)
        CHECK(c.left == 0);
    CHECK(static_cast<std::uint64_t>(n) - got.size() == lost);

    // Stage by stage: what a 1:1 stage passed on is what it received less
    // what it lost. (f1 fails every 7th value it sees; the others may see
    // too few between restarts to fail, under one_for_all.)
    from = "a";
    for (auto& [id, n_th] : faulty) {
        auto& s = stage_stats(r, id);
        std::string to(1, static_cast<char>(from[0] + 1));
        INFO("stage " << id << " (n=" << n_th << ")");
        CHECK(s.received == stats(r, from).sent);
        CHECK(stats(r, to).sent == s.received - s.lost);
        from = to;
    }
    CHECK(stage_stats(r, "f1").lost >= stage_stats(r, "f1").received / 14);
    CHECK(stage_stats(r, "sink").received == got.size());
    CHECK(stage_stats(r, "sink").lost == 0);
}

} // namespace

TEST_CASE("config soak: fail_every everywhere under one_for_one loses nothing silently",
          "[config][soak]") {
    soak_run(rill::strategy::one_for_one);
}

TEST_CASE("config soak: fail_every everywhere under rest_for_one loses nothing silently",
          "[config][soak]") {
    soak_run(rill::strategy::rest_for_one);
}

TEST_CASE("config soak: fail_every everywhere under one_for_all loses nothing silently",
          "[config][soak]") {
    soak_run(rill::strategy::one_for_all);
}
