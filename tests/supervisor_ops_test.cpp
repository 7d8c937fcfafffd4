// Operations on a running supervisor (start_child, terminate_child,
// restart_child, delete_child, which_children, count_children), start
// failures and failing restarts, auto-shutdown, and the dynamic supervisor
// (simple_one_for_one), after OTP's supervisor_SUITE.
#include "sup_util.hpp"

#include <rill/runtime.hpp>
#include <rill/supervisor.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>

using namespace std::chrono_literals;
using rill::restart;
using rill::strategy;
using sup_test::cmd;
using sup_test::controlled;
using sup_test::error_of;
using sup_test::journal;
using sup_test::v;

namespace {

rill::child_spec failing(std::string id) {
    return {.id = std::move(id),
            .start = [](const rill::context&) { throw std::runtime_error("no luck"); },
            .await_started = true};
}

} // namespace

TEST_CASE("start_child: a new child is added at the end and started; duplicates are "
          "already_started or already_present") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a"), b(log, "b");
        rill::supervisor sup(sup_test::opts(ev), {spec(a)});
        sup.start();
        CHECK(sup.start_child(spec(b, restart::transient)));
        CHECK(sup.which_children().back().id == "b");
        CHECK(error_of([&] { sup.start_child(spec(b)); }) == rill::sup_errc::already_started);
        b.ctl.send(cmd::exit_normal);
        REQUIRE(rill_test::eventually(
            [&] { return sup_test::state_of(sup, "b") == rill::child_state::stopped; }));
        CHECK(error_of([&] { sup.start_child(spec(b)); }) == rill::sup_errc::already_present);
        rill::child_spec bad{.id = "", .start = a.body()};
        CHECK_THROWS_AS(sup.start_child(bad), std::invalid_argument);
    });
}

TEST_CASE("start_child: a child whose start throws reports start_failed and is not kept") {
    rill::run([] {
        journal ev;
        rill::supervisor sup(sup_test::opts(ev), {});
        sup.start();
        try {
            sup.start_child(failing("f"));
            FAIL("started");
        } catch (const rill::supervisor_error& e) {
            CHECK(e.code() == rill::sup_errc::start_failed);
            CHECK_THROWS_WITH(std::rethrow_exception(e.nested_reason()), "no luck");
        }
        CHECK(sup.which_children().empty());
        CHECK(sup.running()); // a failed start_child does not count as a restart
    });
}

TEST_CASE("terminate_child, restart_child, delete_child: OTP's errors") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a"), t(log, "t");
        rill::supervisor sup(sup_test::opts(ev), {spec(a), spec(t, restart::temporary)});
        sup.start();
        CHECK(error_of([&] { sup.terminate_child("zz"); }) == rill::sup_errc::not_found);
        CHECK(error_of([&] { sup.restart_child("zz"); }) == rill::sup_errc::not_found);
        CHECK(error_of([&] { sup.delete_child("zz"); }) == rill::sup_errc::not_found);
        CHECK(error_of([&] { sup.restart_child("a"); }) == rill::sup_errc::running);
        CHECK(error_of([&] { sup.delete_child("a"); }) == rill::sup_errc::running);

        sup.terminate_child("a");
        CHECK(log.count("stop a") == 1);
        CHECK(ev.count("exited a shutdown") == 1);
        CHECK(sup_test::state_of(sup, "a") == rill::child_state::stopped);
        CHECK(ev.count("restarted a") == 0); // stopped by the supervisor: no restart
        sup.terminate_child("a");            // already stopped: fine, as in OTP

        CHECK(sup.restart_child("a"));
        CHECK(sup_test::state_of(sup, "a") == rill::child_state::running);
        CHECK(sup_test::restarts_of(sup, "a") == 0); // by hand, not by the strategy
        sup.terminate_child("a");
        sup.delete_child("a");
        CHECK_FALSE(sup_test::has_child(sup, "a"));

        // A temporary child's spec goes with it.
        sup.terminate_child("t");
        CHECK(sup.which_children().empty());
    });
}

TEST_CASE("restart_child and delete_child on a child whose restart is pending: restarting") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a");
        auto o = sup_test::opts(ev);
        o.backoff = rill::backoff{.initial = 1h, .max = 1h, .jitter = 0};
        rill::supervisor sup(o, {spec(a)});
        sup.start();
        a.ctl.send(cmd::panic);
        REQUIRE(ev.wait_count("restart_scheduled a"));
        CHECK(sup_test::state_of(sup, "a") == rill::child_state::restarting);
        CHECK(error_of([&] { sup.restart_child("a"); }) == rill::sup_errc::restarting);
        CHECK(error_of([&] { sup.delete_child("a"); }) == rill::sup_errc::restarting);
        sup.terminate_child("a"); // cancels the pending restart
        CHECK(sup_test::state_of(sup, "a") == rill::child_state::stopped);
        sup.delete_child("a");
    });
}

TEST_CASE("count_children and which_children report specs, active children and kinds") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a"), b(log, "b"), w(log, "w");
        rill::supervisor sup(sup_test::opts(ev),
                             {spec(a), rill::supervisor_child("s", sup_test::opts(ev), {spec(w)}),
                              spec(b, restart::transient)});
        sup.start();
        b.ctl.send(cmd::exit_normal);
        REQUIRE(rill_test::eventually([&] { return sup.count_children().active == 2; }));
        auto n = sup.count_children();
        CHECK(n.specs == 3);
        CHECK(n.supervisors == 1);
        CHECK(n.workers == 2);
        auto all = sup.which_children();
        REQUIRE(all.size() == 3);
        CHECK(all[0].id == "a");
        CHECK(all[1].kind == rill::child_kind::supervisor);
        CHECK(all[2].state == rill::child_state::stopped);
        CHECK(all[2].restart == restart::transient);
    });
}

TEST_CASE("a failing restart is retried without blocking the supervisor and counts towards "
          "intensity") {
    rill::run([] {
        csp_test::leak_check leaks;
        journal ev;
        std::atomic<int> starts{0};
        auto flaky = sup_test::restart_loop("flaky", starts);
        SECTION("with a high intensity the supervisor stays stoppable while it retries") {
            rill::supervisor sup(sup_test::opts(ev, strategy::one_for_one, 1000000), {flaky});
            sup.start();
            REQUIRE(ev.wait_count("start_failed flaky", 5));
            CHECK(sup.count_children().specs == 1); // operations are served meanwhile
            CHECK(sup.stop() == rill::sup_exit::stopped);
        }
        SECTION("with intensity 1 the retry is the second restart: one too many") {
            rill::supervisor sup(sup_test::opts(ev, strategy::one_for_one, 1), {flaky});
            sup.start();
            CHECK(sup.wait() == rill::sup_exit::intensity_exceeded);
            CHECK(ev.count("start_failed flaky") == 1);
            CHECK(ev.count("intensity_exceeded flaky") == 1);
        }
        CHECK(leaks.clean());
    });
}

TEST_CASE("one_for_all: a sibling that fails to restart is retried by restarting all again") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a"), c(log, "c");
        std::atomic<int> starts{0};
        rill::child_spec b{.id = "b",
                           .start =
                               [&starts](const rill::context& ctx) {
                                   if (starts++ == 1) throw std::runtime_error("once");
                                   rill::notify_started(ctx);
                                   (void)ctx.done().recv();
                               },
                           .await_started = true};
        rill::supervisor sup(sup_test::opts(ev, strategy::one_for_all), {spec(a), b, spec(c)});
        sup.start();
        a.ctl.send(cmd::panic);
        REQUIRE(ev.wait_count("restarted c"));
        CHECK(ev.count("start_failed b") == 1);
        CHECK(starts == 3);
        CHECK(sup.count_children().active == 3);
    });
}

TEST_CASE("auto_shutdown any_significant: a significant child ending by itself shuts the "
          "supervisor down") {
    rill::run([] {
        journal log, ev;
        controlled s(log, "s"), other(log, "other");
        rill::supervisor sup(sup_test::auto_opts(ev, rill::auto_shutdown::any_significant),
                             {spec(other), sup_test::significant(s, restart::transient)});
        sup.start();
        SECTION("a normal exit") { s.ctl.send(cmd::exit_normal); }
        SECTION("a shutdown exit") { s.ctl.send(cmd::exit_shutdown); }
        CHECK(sup.wait() == rill::sup_exit::auto_shutdown);
        CHECK(ev.count("auto_shutdown s") == 1);
        CHECK(log.count("stop other") == 1);
    });
}

TEST_CASE("auto_shutdown: a transient significant child's abnormal exit restarts it instead") {
    rill::run([] {
        journal log, ev;
        controlled s(log, "s");
        rill::supervisor sup(sup_test::auto_opts(ev, rill::auto_shutdown::any_significant),
                             {sup_test::significant(s, restart::transient)});
        sup.start();
        s.ctl.send(cmd::panic);
        REQUIRE(ev.wait_count("restarted s"));
        CHECK(sup.running());
    });
}

TEST_CASE("auto_shutdown all_significant: only the last significant child ending shuts down") {
    rill::run([] {
        journal log, ev;
        controlled s1(log, "s1"), s2(log, "s2");
        rill::supervisor sup(sup_test::auto_opts(ev, rill::auto_shutdown::all_significant),
                             {sup_test::significant(s1, restart::temporary),
                              sup_test::significant(s2, restart::transient)});
        sup.start();
        s1.ctl.send(cmd::panic); // temporary: any exit counts
        REQUIRE(ev.wait_count("exited s1 abnormal"));
        CHECK(sup.running());
        s2.ctl.send(cmd::exit_normal);
        CHECK(sup.wait() == rill::sup_exit::auto_shutdown);
    });
}

TEST_CASE("auto_shutdown ignores significant children the supervisor stopped itself") {
    rill::run([] {
        journal log, ev;
        controlled s(log, "s");
        rill::supervisor sup(sup_test::auto_opts(ev, rill::auto_shutdown::any_significant),
                             {sup_test::significant(s, restart::transient)});
        sup.start();
        sup.terminate_child("s");
        CHECK(sup.running());
        CHECK(ev.count("auto_shutdown s") == 0);
    });
}

TEST_CASE("simple_one_for_one: dynamic children start from the template, with bound arguments") {
    rill::run([] {
        csp_test::leak_check leaks;
        journal log, ev;
        rill::child_spec tmpl{.id = "worker", .start = [&log](const rill::context& ctx) {
                                  log.add("template");
                                  (void)ctx.done().recv();
                              }};
        {
            rill::dynamic_supervisor sup(sup_test::opts(ev), tmpl);
            sup.start();
            CHECK(sup.which_children().empty()); // no children at start
            auto r1 = sup.start_child();
            auto r2 = sup.start_child([&log, arg = 42](const rill::context& ctx) {
                log.add("bound " + std::to_string(arg));
                (void)ctx.done().recv();
            });
            REQUIRE(r1);
            REQUIRE(r2);
            CHECK(*r1 != *r2);
            REQUIRE(log.wait_count("template"));
            REQUIRE(log.wait_count("bound 42"));
            // OTP's count_children on simple_one_for_one: one spec, the template.
            auto n = sup.count_children();
            CHECK(n.specs == 1);
            CHECK(n.active == 2);
            CHECK(n.workers == 2);
            CHECK(sup.which_children()[1].id == "worker#" + std::to_string(*r2));
            CHECK(sup.which_child(*r2).id == "worker#" + std::to_string(*r2));
            sup.terminate_child(*r1);
            CHECK(sup.count_children().workers == 1); // forgotten, not kept stopped
            CHECK(error_of([&] { sup.which_child(*r1); }) == rill::sup_errc::not_found);
            // OTP: terminate_child of a child that has ended already is ok; a
            // ref never given out is not found.
            sup.terminate_child(*r1);
            CHECK(error_of([&] { sup.terminate_child(*r2 + 1); }) == rill::sup_errc::not_found);
            CHECK(sup.get_childspec().id == "worker");
        }
        CHECK(leaks.clean());
    });
}

TEST_CASE("simple_one_for_one: children are restarted by their restart type; those that are "
          "not are forgotten") {
    rill::run([] {
        journal log, ev;
        controlled p(log, "p"), t(log, "t");
        rill::child_spec tmpl{.id = "w", .start = p.body(), .restart = restart::transient};
        rill::dynamic_supervisor sup(sup_test::opts(ev), tmpl);
        sup.start();
        auto r = sup.start_child();
        REQUIRE(r);
        auto name = "w#" + std::to_string(*r);
        p.ctl.send(cmd::panic);
        REQUIRE(ev.wait_count("restarted " + name));
        p.ctl.send(cmd::exit_normal);
        REQUIRE(rill_test::eventually([&] { return sup.count_children().workers == 0; }));
        CHECK(ev.count("exited " + name + " normal") == 1);
    });
}

TEST_CASE("simple_one_for_one: max_children limits the children") {
    rill::run([] {
        journal ev;
        auto o = sup_test::opts(ev);
        o.max_children = 2;
        rill::child_spec tmpl{.id = "w",
                              .start = [](const rill::context& ctx) { (void)ctx.done().recv(); }};
        rill::dynamic_supervisor sup(o, tmpl);
        sup.start();
        auto r1 = sup.start_child();
        REQUIRE(sup.start_child());
        CHECK(error_of([&] { sup.start_child(); }) == rill::sup_errc::max_children);
        sup.terminate_child(*r1);
        CHECK(sup.start_child()); // room again
    });
}

TEST_CASE("simple_one_for_one: children stop in parallel, each within its shutdown time") {
    rill::run([] {
        journal ev;
        constexpr int n = 20;
        rill::chan<int> stopping(n);
        rill::chan<int> release(0);
        // Each child waits for all to have been cancelled before it ends:
        // only a parallel shutdown lets any of them end.
        rill::child_spec tmpl{.id = "w",
                              .start =
                                  [stopping, release](const rill::context& ctx) mutable {
                                      (void)ctx.done().recv();
                                      stopping.send(1);
                                      (void)release.recv();
                                  },
                              .shutdown = rill::shutdown_infinity};
        rill::dynamic_supervisor sup(sup_test::opts(ev), tmpl);
        sup.start();
        for (int i = 0; i < n; ++i)
            REQUIRE(sup.start_child());
        rill::chan<rill::sup_exit> done(1);
        rill::go([&] { done.send(sup.stop()); });
        for (int i = 0; i < n; ++i)
            (void)stopping.recv();
        release.close();
        CHECK(done.recv() == rill::sup_exit::stopped);
        CHECK(ev.with_prefix("exited").size() == n);
    });
}

TEST_CASE("simple_one_for_one: a start that throws or ignores") {
    rill::run([] {
        journal ev;
        rill::dynamic_supervisor sup(sup_test::opts(ev), failing("w"));
        sup.start();
        CHECK(error_of([&] { sup.start_child(); }) == rill::sup_errc::start_failed);
        CHECK_FALSE(sup.start_child([](const rill::context&) {})); // returns before started
        CHECK(sup.count_children().workers == 0);
    });
}

// OTP 27's supervisor refuses auto_shutdown other than never on
// simple_one_for_one (bad_combination); so does rill.
TEST_CASE("OTP sup_flags: a dynamic supervisor takes auto_shutdown never only") {
    journal ev;
    rill::child_spec tmpl{.id = "w",
                          .start = [](const rill::context&) {},
                          .restart = restart::temporary,
                          .significant = true};
    for (auto as : {rill::auto_shutdown::any_significant, rill::auto_shutdown::all_significant})
        CHECK_THROWS_WITH(rill::dynamic_supervisor(sup_test::auto_opts(ev, as), tmpl),
                          Catch::Contains("auto_shutdown must be never for a dynamic supervisor"));
}

TEST_CASE("a clean stop of the whole tree, by stop() or by cancelling the parent context") {
    rill::run([] {
        csp_test::leak_check leaks;
        journal log, ev;
        controlled a(log, "a"), x(log, "x");
        auto [parent, cancel] = rill::with_cancel(rill::background());
        rill::supervisor sup(
            sup_test::opts(ev),
            {spec(a), rill::supervisor_child("sub", sup_test::opts(ev), {spec(x)})});
        sup.start(parent);
        cancel();
        CHECK(sup.wait() == rill::sup_exit::stopped);
        CHECK(log.with_prefix("stop") == v({"stop x", "stop a"}));
        CHECK(sup.stop() == rill::sup_exit::stopped); // stopping again is harmless
        CHECK(leaks.clean());
    });
}
