// Beyond OTP: restart backoff, event hooks and logs, the live view, the
// panic handler left to unsupervised goroutines; and a stress test of a
// thousand children failing at random.
#include "sup_util.hpp"

#include <rill/runtime.hpp>
#include <rill/supervisor.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <chrono>
#include <sstream>

using namespace std::chrono_literals;
using rill::restart;
using rill::strategy;
using sup_test::cmd;
using sup_test::controlled;
using sup_test::journal;

// The one table of restart and strategy words (topology files read them too).
TEST_CASE("restart types and strategies read back from their words") {
    std::vector<std::string> restarts, strats;
    for (auto r : rill::restart_types) {
        restarts.push_back(rill::to_string(r));
        CHECK(rill::restart_from(rill::to_string(r)) == r);
    }
    for (auto s : rill::strategies) {
        strats.push_back(rill::to_string(s));
        CHECK(rill::strategy_from(rill::to_string(s)) == s);
    }
    CHECK(restarts == std::vector<std::string>{"permanent", "transient", "temporary"});
    CHECK(strats == std::vector<std::string>{"one_for_one", "one_for_all", "rest_for_one"});
    CHECK_FALSE(rill::restart_from("Permanent"));
    CHECK_FALSE(rill::strategy_from("simple_one_for_one"));
}

TEST_CASE("backoff: delays grow by the factor up to the cap, spread by the jitter") {
    rill::backoff b{.initial = 10ms, .max = 100ms, .factor = 2, .jitter = 0};
    CHECK(b.delay(1, 0) == 10ms);
    CHECK(b.delay(2, 0) == 20ms);
    CHECK(b.delay(4, 0) == 80ms);
    CHECK(b.delay(5, 0) == 100ms);
    CHECK(b.delay(50, 0) == 100ms);
    b.jitter = 0.5;
    for (std::uint64_t r : {0ULL, 1ULL << 63, ~0ULL}) {
        CHECK(b.delay(1, r) >= 5ms);
        CHECK(b.delay(1, r) <= 15ms);
    }
    CHECK(b.delay(1, 0) < b.delay(1, ~0ULL));
}

TEST_CASE("backoff: consecutive restarts wait longer, and a stable run starts over") {
    rill::run([] {
        journal log;
        rill::mutex mu;
        std::vector<std::chrono::nanoseconds> delays;
        controlled a(log, "a");
        auto o = sup_test::opts(log);
        o.backoff = rill::backoff{
            .initial = 1ms, .max = 4ms, .factor = 2, .jitter = 0, .reset_after = 30ms};
        auto record = o.on_event;
        o.on_event = [&, record](const rill::supervisor_event& e) {
            record(e);
            if (e.kind == rill::event_kind::restart_scheduled) {
                std::lock_guard lk(mu);
                delays.push_back(e.delay);
            }
        };
        rill::supervisor sup(o, {spec(a)});
        sup.start();
        for (int i = 1; i <= 4; ++i) {
            a.ctl.send(cmd::panic);
            REQUIRE(log.wait_count("restarted a", static_cast<std::size_t>(i)));
        }
        // Comfortably past reset_after since the last restart was stamped.
        rill::sleep_until(std::chrono::steady_clock::now() + 90ms);
        a.ctl.send(cmd::panic);
        REQUIRE(log.wait_count("restarted a", 5));
        std::lock_guard lk(mu);
        CHECK(delays == std::vector<std::chrono::nanoseconds>{1ms, 2ms, 4ms, 4ms, 1ms});
    });
}

TEST_CASE("backoff: a supervisor waiting out a delay still serves operations and stops") {
    rill::run([] {
        csp_test::leak_check leaks;
        journal log;
        controlled a(log, "a");
        auto o = sup_test::opts(log);
        o.backoff = rill::backoff{.initial = 1h, .max = 1h};
        {
            rill::supervisor sup(o, {spec(a)});
            sup.start();
            a.ctl.send(cmd::panic);
            REQUIRE(log.wait_count("restart_scheduled a"));
            CHECK(sup.count_children().active == 0);
            CHECK(sup.stop() == rill::sup_exit::stopped);
        }
        CHECK(leaks.clean());
    });
}

TEST_CASE("event hooks: started, exited with the reason and exception, restarted, abandoned, "
          "intensity exceeded; and every event is logged with path and child id") {
    rill::run([] {
        std::ostringstream out;
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
        auto saved_sinks = sup_test::sup_logger->sinks();
        sup_test::sup_logger->sinks() = {sink};
        auto level = sup_test::sup_logger->level();
        sup_test::sup_logger->set_level(spdlog::level::debug);

        rill::mutex mu;
        std::vector<rill::supervisor_event> events;
        journal log;
        controlled a(log, "a");
        rill::chan<int> release(0);
        rill::child_spec stubborn{
            .id = "stubborn",
            .start = [release](const rill::context&) mutable { (void)release.recv(); },
            .shutdown = 1ms};
        auto o = sup_test::opts(log, strategy::one_for_one, 1);
        o.on_event = [&](const rill::supervisor_event& e) {
            std::lock_guard lk(mu);
            events.push_back(e);
        };
        rill::supervisor sup(o, {stubborn, spec(a)});
        sup.start();
        a.ctl.send(cmd::panic);
        a.ctl.send(cmd::panic);
        CHECK(sup.wait() == rill::sup_exit::intensity_exceeded);
        release.send(1);

        sup_test::sup_logger->set_level(level);
        sup_test::sup_logger->sinks() = saved_sinks;

        std::lock_guard lk(mu);
        std::vector<std::string> kinds;
        for (auto& e : events) {
            CHECK(e.supervisor == "root");
            kinds.push_back(std::string(rill::to_string(e.kind)) + " " + e.child);
        }
        CHECK(kinds == std::vector<std::string>{"started stubborn", "started a", "exited a",
                                                "restarted a", "exited a", "intensity_exceeded a",
                                                "abandoned stubborn"});
        CHECK(events[2].reason == rill::exit_reason::abnormal);
        CHECK(events[2].what == "panic in a");
        CHECK_THROWS_WITH(std::rethrow_exception(events[2].error), "panic in a");
        CHECK(events[3].restarts == 0);

        auto text = out.str();
        INFO(text);
        CHECK(text.find("supervisor root: child a started") != std::string::npos);
        CHECK(text.find("supervisor root: child a exited abnormally: panic in a") !=
              std::string::npos);
        CHECK(text.find("supervisor root: child a restarted") != std::string::npos);
        CHECK(text.find("supervisor root: child a: more than 1 restarts") != std::string::npos);
        CHECK(text.find("supervisor root: child stubborn ignored cancellation") !=
              std::string::npos);
    });
}

TEST_CASE("the live view shows the tree with states and restart counts, by call and in the "
          "goroutine dump") {
    rill::run([] {
        journal log;
        controlled a(log, "a"), x(log, "x");
        rill::supervisor sup(
            sup_test::opts(log),
            {spec(a), rill::supervisor_child("sub", sup_test::opts(log), {spec(x)})});
        sup.start();
        a.ctl.send(cmd::panic);
        REQUIRE(log.wait_count("restarted a"));
        auto view = sup.view();
        INFO(view);
        CHECK(view.find("supervisor root (one_for_one") != std::string::npos);
        CHECK(view.find("a  worker permanent running restarts=1") != std::string::npos);
        CHECK(view.find("sub  supervisor permanent running restarts=0") != std::string::npos);

        auto tree = rill::supervision_tree();
        INFO(tree);
        CHECK(tree.find("  supervisor root/sub") != std::string::npos);
        CHECK(tree.find("    x  worker permanent running") != std::string::npos);

        std::ostringstream dump;
        rill::dump_goroutines(dump);
        CHECK(dump.str().find("supervisors:") != std::string::npos);
        CHECK(dump.str().find("supervisor root/sub") != std::string::npos);
        sup.stop();
        CHECK(rill::supervision_tree().find("supervisor root ") == std::string::npos);
    });
}

// A goroutine reading the live view holds the supervisors' locks while it
// renders, and may be preempted there. With std::mutex locks, the readers on
// every processor would block their threads waiting for it, and nothing
// would run the preempted holder: the program would stop for good.
TEST_CASE("goroutines reading the live view at once on two processors never stall") {
    rill_test::watchdog dog("goroutines reading the live view stalled", 60s);
    rill::run([] {
        rill_test::maxprocs_scope two(2);
        std::vector<rill::child_spec> children;
        for (int i = 0; i < 200; ++i) {
            rill::child_spec c;
            c.id = "c" + std::to_string(i);
            c.start = [](const rill::context& ctx) { (void)ctx.done().recv(); };
            children.push_back(std::move(c));
        }
        journal log;
        rill::supervisor sup(sup_test::opts(log), std::move(children));
        sup.start();
        std::atomic<bool> stop{false};
        std::atomic<int> whole{0}; // views that showed every child
        rill::wait_group wg;
        constexpr int readers = 6;
        wg.add(readers);
        for (int r = 0; r < readers; ++r)
            rill::go([&] {
                while (!stop.load())
                    if (rill::supervision_tree().find("c199  worker") != std::string::npos) ++whole;
                wg.done();
            });
        rill::sleep(std::chrono::milliseconds(rill_test::by_build(1000, 1000, 2000)));
        stop.store(true);
        wg.wait();
        CHECK(whole.load() > 0);
        sup.stop();
    });
}

TEST_CASE("a supervised child's exception never reaches the panic handler; an unsupervised "
          "goroutine's still does") {
    rill::chan<std::string> reports(16);
    auto previous = rill::set_panic_handler(
        [reports](const rill::panic_info& p) mutable { reports.send(p.goroutine_name); });
    rill::run([&] {
        journal log;
        controlled a(log, "a");
        rill::supervisor sup(sup_test::opts(log), {spec(a)});
        sup.start();
        a.ctl.send(cmd::panic);
        REQUIRE(log.wait_count("restarted a"));
        rill::go([] { throw std::runtime_error("unsupervised"); }, {.name = "loose"});
        CHECK(reports.recv() == "loose"); // the first and only report
        sup.stop();
        CHECK(reports.len() == 0);
    });
    rill::set_panic_handler(std::move(previous));
}

TEST_CASE("stress: a thousand children panicking at random; the tree ends consistent, nothing "
          "leaks, and the counts match the events") {
    rill::run([] {
        csp_test::leak_check leaks;
        const int n = rill_test::by_build(1000, 300, 200);
        const int target = rill_test::by_build(5000, 1500, 600);
        std::atomic<int> started{0}, restarted{0}, abnormal{0}, shutdown{0}, other{0};
        std::atomic<std::uint64_t> seed{1};
        journal unused; // counters instead: a journal of thousands of lines is slow
        auto o = sup_test::opts(unused);
        o.intensity = 1000000;
        o.on_event = [&](const rill::supervisor_event& e) {
            switch (e.kind) {
            case rill::event_kind::started:
                ++started;
                break;
            case rill::event_kind::restarted:
                ++restarted;
                break;
            case rill::event_kind::exited:
                ++(e.reason == rill::exit_reason::abnormal ? abnormal : shutdown);
                break;
            default:
                ++other;
            }
        };
        std::vector<rill::child_spec> specs;
        for (int i = 0; i < n; ++i)
            specs.push_back(
                {.id = "c" + std::to_string(i), .start = [&seed](const rill::context& ctx) {
                     // Runs a random while, then panics (2 in 3) or goes on.
                     for (bool crash = false; !ctx.is_done();) {
                         std::uint64_t x = seed.fetch_add(0x9E3779B97F4A7C15ULL);
                         x ^= x >> 31;
                         x *= 0xBF58476D1CE4E5B9ULL;
                         x ^= x >> 29;
                         rill::select(rill::on_recv(ctx.done(), [](auto) {}),
                                      rill::on_timeout(std::chrono::microseconds(x % 5000),
                                                       [&] { crash = x % 3 != 0; }));
                         if (crash) throw std::runtime_error("random panic");
                     }
                 }});
        rill::supervisor sup(o, std::move(specs));
        sup.start();
        bool reached = rill_test::eventually([&] { return restarted.load() >= target; });
        INFO("started " << started << " restarted " << restarted << " abnormal " << abnormal);
        REQUIRE(reached);
        CHECK(sup.stop() == rill::sup_exit::stopped);

        auto children = sup.which_children();
        REQUIRE(children.size() == static_cast<std::size_t>(n));
        int restarts = 0;
        for (auto& c : children) {
            CHECK(c.state == rill::child_state::stopped);
            restarts += c.restarts;
        }
        CHECK(started == n);
        CHECK(restarts == restarted);
        // Every instance (n first starts, one per restart) exited exactly once:
        // by a panic, which restarted it unless the stop came first, or by
        // the stop at the end.
        CHECK(abnormal + shutdown == n + restarted);
        CHECK(abnormal >= restarted);
        CHECK(abnormal <= restarted + n);
        CHECK(other == 0);
        CHECK(leaks.clean());
    });
}
