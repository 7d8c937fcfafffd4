// The runner on topologies built by hand from test stages: values arrive
// exactly once through pools, fan-in and fan-out; failures are restarted
// without losing what is in channels; supervision escalates as OTP says;
// drain, grace timeout and stop end the run with the right outcome; a port
// that needs a codec refuses a type without one.
#include "config_util.hpp"

#include <rill/config/runner.hpp>
#include <rill/config/stage_io.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

using namespace config_test;
using std::int64_t;

namespace {

// What the test stages did, reset by each test.
struct record {
    rill::mutex mu;
    std::map<std::string, std::vector<int64_t>> received; // by worker id
    std::map<std::string, int> starts;                    // by worker id
    std::set<int64_t> failed_on;                          // values lost to failures
    std::atomic<int64_t> sent{0};                         // by the sources
    void clear() {
        std::lock_guard lk(mu);
        received.clear();
        starts.clear();
        failed_on.clear();
        sent = 0;
    }
    std::size_t total_received() {
        std::lock_guard lk(mu);
        std::size_t n = 0;
        for (auto& [id, v] : received)
            n += v.size();
        return n;
    }
    // Every value received by the workers whose ids start with prefix, sorted.
    std::vector<int64_t> values(const std::string& prefix) {
        std::lock_guard lk(mu);
        std::vector<int64_t> all;
        for (auto& [id, v] : received)
            if (id.rfind(prefix, 0) == 0) all.insert(all.end(), v.begin(), v.end());
        std::sort(all.begin(), all.end());
        return all;
    }
    int started(const std::string& id) {
        std::lock_guard lk(mu);
        return starts[id];
    }
};
record rec;

void note_start(cfg::stage_io& io) {
    std::lock_guard lk(rec.mu);
    ++rec.starts[io.id()];
}

// Sends first .. first+count-1 (count 0: for ever, until cancelled).
void source(cfg::stage_io& io) {
    note_start(io);
    auto out = io.out<int64_t>("out");
    auto first = io.arg<int64_t>("first"), count = io.arg<int64_t>("count");
    for (int64_t i = 0; count == 0 || i < count; ++i) {
        if (!out.send(first + i)) return;
        ++rec.sent;
    }
}
RILL_STAGE(cfg::stage_def("test_source", source)
               .output<int64_t>("out")
               .arg<int64_t>("first", 0)
               .arg<int64_t>("count", 0));

void sink(cfg::stage_io& io) {
    note_start(io);
    for (auto v : io.in<int64_t>("in")) {
        std::lock_guard lk(rec.mu);
        rec.received[io.id()].push_back(v);
    }
}
RILL_STAGE(cfg::stage_def("test_sink", sink).input<int64_t>("in"));

// Passes values on; also to `extra` when that is bound. Throws on the first
// sight of a multiple of fail_every (when not 0): that value is lost.
void pass(cfg::stage_io& io) {
    note_start(io);
    auto out = io.out<int64_t>("out");
    auto extra = io.out<int64_t>("extra");
    auto fail_every = io.arg<int64_t>("fail_every");
    for (auto v : io.in<int64_t>("in")) {
        if (fail_every && v % fail_every == 0) {
            std::lock_guard lk(rec.mu);
            if (rec.failed_on.insert(v).second)
                throw std::runtime_error("failed on " + std::to_string(v));
        }
        if (io.bound("extra") && !extra.send(v)) return;
        if (!out.send(v)) return;
    }
}
RILL_STAGE(cfg::stage_def("test_pass", pass)
               .input<int64_t>("in")
               .output<int64_t>("out")
               .output<int64_t>("extra")
               .optional()
               .arg<int64_t>("fail_every", 0));

// Throws at once, every time.
void crash(cfg::stage_io& io) {
    note_start(io);
    throw std::runtime_error("boom");
}
RILL_STAGE(cfg::stage_def("test_crash", crash).output<int64_t>("out"));

// Never reads its input: only cancellation ends it.
void stuck(cfg::stage_io& io) {
    note_start(io);
    io.ctx().done().recv();
}
RILL_STAGE(cfg::stage_def("test_stuck", stuck).input<int64_t>("in"));

std::vector<int64_t> range(int64_t first, int64_t n) {
    std::vector<int64_t> v;
    for (int64_t i = first; i < first + n; ++i)
        v.push_back(i);
    return v;
}

// Runs t after clearing the record.
template <class... A> cfg::run_result run_test(const cfg::topology& t, A&&... a) {
    rec.clear();
    return config_test::run(t, std::forward<A>(a)...);
}

const int64_t n = rill_test::by_build(2000, 500, 200);

} // namespace

TEST_CASE("config runner: a linear pipeline completes and every value arrives once") {
    cfg::topology t;
    t.channels = {chan("a"), chan("b", "int", 0)};
    t.stages = {stage("src", "test_source", {}, {{"out", {"a"}}}, {{"count", n}}),
                stage("mid", "test_pass", {{"in", {"a"}}}, {{"out", {"b"}}}),
                stage("dst", "test_sink", {{"in", {"b"}}}, {})};
    auto r = run_test(t);
    CHECK(r.outcome == cfg::run_outcome::completed);
    CHECK(r.exit_code() == 0);
    CHECK(rec.values("dst") == range(0, n));
    CHECK(stats(r, "a").sent == std::uint64_t(n));
    CHECK(stats(r, "b").sent == std::uint64_t(n));
    CHECK(stats(r, "a").left == 0);
}

TEST_CASE("config runner: a worker pool shares its input; each value is handled once") {
    cfg::topology t;
    t.channels = {chan("a"), chan("b")};
    t.stages = {stage("src", "test_source", {}, {{"out", {"a"}}}, {{"count", n}}),
                stage("mid", "test_pass", {{"in", {"a"}}}, {{"out", {"b"}}}, {}, 4),
                stage("dst", "test_sink", {{"in", {"b"}}}, {})};
    auto r = run_test(t);
    CHECK(r.outcome == cfg::run_outcome::completed);
    CHECK(rec.values("dst") == range(0, n));
    for (int w = 0; w < 4; ++w)
        CHECK(rec.started("mid[" + std::to_string(w) + "]") == 1);
}

TEST_CASE("config runner: fan-in merges several channels and ends when all have ended") {
    cfg::topology t;
    t.channels = {chan("a"), chan("b"), chan("c", "int", 0)};
    t.stages = {stage("s1", "test_source", {}, {{"out", {"a"}}}, {{"count", n}}),
                stage("s2", "test_source", {}, {{"out", {"b"}}}, {{"first", n}, {"count", n}}),
                stage("dst", "test_sink", {{"in", {"a", "c", "b"}}}, {}),
                stage("s3", "test_source", {}, {{"out", {"c"}}},
                      {{"first", 2 * n}, {"count", int64_t{1}}})};
    auto r = run_test(t);
    CHECK(r.outcome == cfg::run_outcome::completed);
    CHECK(rec.values("dst") == range(0, 2 * n + 1));
}

TEST_CASE("config runner: fan-out gives every channel a copy of every value") {
    cfg::topology t;
    t.channels = {chan("a"), chan("b"), chan("c", "int", 0)};
    t.stages = {stage("src", "test_source", {}, {{"out", {"a", "b", "c"}}}, {{"count", n}}),
                stage("d1", "test_sink", {{"in", {"a"}}}, {}),
                stage("d2", "test_sink", {{"in", {"b"}}}, {}),
                stage("d3", "test_sink", {{"in", {"c"}}}, {})};
    auto r = run_test(t);
    CHECK(r.outcome == cfg::run_outcome::completed);
    for (auto id : {"d1", "d2", "d3"})
        CHECK(rec.values(id) == range(0, n));
    for (auto c : {"a", "b", "c"})
        CHECK(stats(r, c).sent == std::uint64_t(n));
}

TEST_CASE("config runner: an unbound optional output is discarded; a bound one is written") {
    cfg::topology t;
    t.channels = {chan("a"), chan("b"), chan("c"), chan("d"), chan("e")};
    t.stages = {stage("src", "test_source", {}, {{"out", {"a", "c"}}}, {{"count", n}}),
                stage("unbound", "test_pass", {{"in", {"a"}}}, {{"out", {"b"}}}),
                stage("bound", "test_pass", {{"in", {"c"}}}, {{"out", {"d"}}, {"extra", {"e"}}}),
                stage("d1", "test_sink", {{"in", {"b"}}}, {}),
                stage("d2", "test_sink", {{"in", {"d"}}}, {}),
                stage("d3", "test_sink", {{"in", {"e"}}}, {})};
    auto r = run_test(t);
    CHECK(r.outcome == cfg::run_outcome::completed);
    CHECK(rec.values("d1") == range(0, n));
    CHECK(rec.values("d2") == range(0, n));
    CHECK(rec.values("d3") == range(0, n));
}

TEST_CASE("config runner: a failing stage is restarted and nothing in its channels is lost") {
    cfg::topology t;
    t.channels = {chan("a"), chan("b")};
    t.stages = {stage("src", "test_source", {}, {{"out", {"a"}}}, {{"count", n}}),
                stage("mid", "test_pass", {{"in", {"a"}}}, {{"out", {"b"}}},
                      {{"fail_every", int64_t{97}}}, 2),
                stage("dst", "test_sink", {{"in", {"b"}}}, {})};
    t.supervisors = {
        sup("root", rill::strategy::one_for_one, 1000, {st("src"), st("mid"), st("dst")})};
    auto r = run_test(t);
    REQUIRE(r.outcome == cfg::run_outcome::completed);
    std::vector<int64_t> expected;
    for (auto v : range(0, n))
        if (v % 97 != 0) expected.push_back(v);
    CHECK(rec.values("dst") == expected);
    CHECK(rec.failed_on.size() == std::size_t(n / 97 + 1));
    CHECK(rec.started("mid[0]") + rec.started("mid[1]") == int(2 + rec.failed_on.size()));
}

TEST_CASE("config runner: past its intensity the root gives up and names the failing stage") {
    cfg::topology t;
    t.channels = {chan("a")};
    t.stages = {stage("crash", "test_crash", {}, {{"out", {"a"}}}),
                stage("dst", "test_sink", {{"in", {"a"}}}, {})};
    t.supervisors = {sup("root", rill::strategy::one_for_one, 2, {st("crash"), st("dst")})};
    auto r = run_test(t);
    CHECK(r.outcome == cfg::run_outcome::gave_up);
    CHECK(r.exit_code() == 3);
    CHECK(rec.started("crash") == 3);
    CHECK_THAT(r.message, Catch::Contains("supervisor root gave up") &&
                              Catch::Contains("child crash") && Catch::Contains("boom"));
}

namespace {
// crash -> a -> dst, crash under a supervisor `inner` nested in root beside dst.
cfg::topology crash_in_inner(int root_intensity, int inner_intensity, rill::restart inner_restart) {
    cfg::topology t;
    t.channels = {chan("a")};
    t.stages = {stage("crash", "test_crash", {}, {{"out", {"a"}}}),
                stage("dst", "test_sink", {{"in", {"a"}}}, {})};
    t.supervisors = {
        sup("root", rill::strategy::one_for_one, root_intensity, {st("dst"), su("inner")}),
        sup("inner", rill::strategy::one_for_one, inner_intensity, {st("crash")})};
    t.supervisors[1].restart = inner_restart;
    return t;
}
} // namespace

TEST_CASE("config runner: a nested supervisor that gives up is restarted by its parent, which "
          "then gives up itself") {
    auto r = run_test(crash_in_inner(1, 0, rill::restart::permanent));
    CHECK(r.outcome == cfg::run_outcome::gave_up);
    // inner started twice (its restart by root), crash once in each.
    CHECK(rec.started("crash") == 2);
    CHECK(rec.started("dst") == 1);
    CHECK_THAT(r.message, Catch::Contains("child inner") && Catch::Contains("stage crash: boom"));
}

TEST_CASE("config runner: a nested supervisor that gives up and is not restarted ends the run") {
    auto restart = GENERATE(rill::restart::transient, rill::restart::temporary);
    // Channel a stays open (crash never finished): without the supervisor's
    // end ending the run, dst would wait on it for ever.
    auto r = run_test(crash_in_inner(5, 1, restart));
    CHECK(r.outcome == cfg::run_outcome::gave_up);
    CHECK(r.exit_code() == 3);
    CHECK(rec.started("crash") == 2); // inner's own restart, and no more
    CHECK(r.message == fmt::format("supervisor root/inner gave up and is not restarted (restart: "
                                   "{}): child crash failed more than 1 times in 1h; last "
                                   "failure: stage crash: boom",
                                   rill::to_string(restart)));
}

TEST_CASE("config runner: one_for_all restarts the siblings of a failed stage; nothing is lost") {
    cfg::topology t;
    t.channels = {chan("a"), chan("b")};
    t.stages = {
        stage("src", "test_source", {}, {{"out", {"a"}}}, {{"count", n}}),
        stage("mid", "test_pass", {{"in", {"a"}}}, {{"out", {"b"}}}, {{"fail_every", n / 2}}),
        stage("dst", "test_sink", {{"in", {"b"}}}, {})};
    t.supervisors = {sup("root", rill::strategy::one_for_one, 1, {st("src"), su("group")}),
                     sup("group", rill::strategy::one_for_all, 10, {st("mid"), st("dst")})};
    auto r = run_test(t);
    REQUIRE(r.outcome == cfg::run_outcome::completed);
    // Fails on 0, n/2 (and n - 1 when n is odd... n is even): two failures.
    CHECK(rec.failed_on == std::set<int64_t>{0, n / 2});
    CHECK(rec.started("mid") == 3);
    CHECK(rec.started("dst") == 3);
    CHECK(rec.started("src") == 1);
    std::vector<int64_t> expected;
    for (auto v : range(1, n - 1))
        if (v != n / 2) expected.push_back(v);
    CHECK(rec.values("dst") == expected);
}

TEST_CASE("config runner: drain stops an endless source and everything it sent arrives") {
    cfg::topology t;
    t.channels = {chan("a", "int", 16), chan("b", "int", 16)};
    t.stages = {stage("src", "test_source", {}, {{"out", {"a"}}}),
                stage("mid", "test_pass", {{"in", {"a"}}}, {{"out", {"b"}}}, {}, 3),
                stage("dst", "test_sink", {{"in", {"b"}}}, {})};
    auto r = run_test(t, [](cfg::runner& r) {
        REQUIRE(rill_test::eventually([] { return rec.total_received() >= 100; }));
        r.drain();
        r.drain(); // idempotent
    });
    CHECK(r.outcome == cfg::run_outcome::drained);
    CHECK(r.exit_code() == 0);
    CHECK(rec.values("dst") == range(0, rec.sent.load()));
    CHECK(stats(r, "a").sent == std::uint64_t(rec.sent.load()));
    CHECK(stats(r, "b").sent == std::uint64_t(rec.sent.load()));
}

TEST_CASE("config runner: a drain that outlasts the grace period ends as drain_timeout") {
    cfg::topology t;
    t.channels = {chan("a", "int", 8)};
    t.stages = {stage("src", "test_source", {}, {{"out", {"a"}}}),
                stage("dst", "test_stuck", {{"in", {"a"}}}, {})};
    cfg::run_options o;
    o.grace = std::chrono::milliseconds(20);
    auto r = run_test(
        t,
        [](cfg::runner& r) {
            REQUIRE(rill_test::eventually([] { return rec.sent.load() >= 8; }));
            r.drain();
        },
        o);
    CHECK(r.outcome == cfg::run_outcome::drain_timeout);
    CHECK(r.exit_code() == 4);
    CHECK(stats(r, "a").left == 8);
    CHECK_THAT(r.message, Catch::Contains("grace period of 20ms") &&
                              Catch::Contains("8 values left in channels were lost"));
}

TEST_CASE("config runner: stop ends the run at once; view shows the tree and channels") {
    cfg::topology t;
    t.file = "by-hand.yaml";
    t.channels = {chan("a", "int", 8)};
    t.stages = {stage("src", "test_source", {}, {{"out", {"a"}}}),
                stage("dst", "test_stuck", {{"in", {"a"}}}, {})};
    std::string view;
    auto r = run_test(t, [&](cfg::runner& r) {
        REQUIRE(rill_test::eventually([] { return rec.sent.load() >= 8; }));
        view = r.view();
        r.stop();
        r.stop();
    });
    CHECK(r.outcome == cfg::run_outcome::stopped);
    CHECK(r.exit_code() == 5);
    CHECK(r.message == "every stage was cancelled; 8 values left in channels were lost");
    CHECK_THAT(view, Catch::Contains("topology by-hand.yaml: running") &&
                         Catch::Contains("supervisor root (one_for_one") &&
                         Catch::Contains("stage src (test_source) running") &&
                         Catch::Contains("a (int) 8/8 sent=8"));
}

TEST_CASE("config runner: to_dot draws stages, channel edges and supervisor clusters") {
    cfg::topology t;
    t.file = "t.yaml";
    t.channels = {chan("a"), chan("b", "int", 0)};
    t.stages = {stage("src", "test_source", {}, {{"out", {"a", "b"}}}),
                stage("d1", "test_sink", {{"in", {"a"}}}, {}, {}, 2),
                stage("d2", "test_sink", {{"in", {"b"}}}, {})};
    t.supervisors = {sup("root", rill::strategy::one_for_one, 1, {st("src"), su("sinks")}),
                     sup("sinks", rill::strategy::rest_for_one, 3, {st("d1"), st("d2")})};
    auto dot = cfg::to_dot(t);
    CHECK(dot == cfg::to_dot(t));
    CHECK_THAT(dot, Catch::Contains("subgraph \"cluster_root\"") &&
                        Catch::Contains("label=\"sinks (rest_for_one, 3 in 1h)\"") &&
                        Catch::Contains("\"stage:d1\" [label=\"d1\\ntest_sink x2\"]") &&
                        Catch::Contains("\"stage:src\" -> \"stage:d1\" [label=\"a: int [4]\"]") &&
                        Catch::Contains("\"stage:src\" -> \"stage:d2\" [label=\"b: int [0]\"]"));
    // The sinks cluster sits inside the root's.
    CHECK(dot.find("cluster_sinks") > dot.find("cluster_root"));
}
