// Supervisor semantics after OTP's supervisor_SUITE: starting, the three
// static strategies with each restart type, exit reasons, intensity and
// period, nested supervisors and escalation, shutdown times.
#include "sup_util.hpp"

#include <rill/runtime.hpp>
#include <rill/supervisor.hpp>

#include <catch2/catch.hpp>

#include <chrono>

using namespace std::chrono_literals;
using rill::restart;
using rill::strategy;
using sup_test::cmd;
using sup_test::controlled;
using sup_test::journal;
using sup_test::v;

TEST_CASE("sup_start_normal: children start in order and stop in reverse order") {
    rill::run([] {
        csp_test::leak_check leaks;
        journal log, ev;
        controlled a(log, "a"), b(log, "b"), c(log, "c");
        {
            rill::supervisor sup(sup_test::opts(ev), {spec(a), spec(b), spec(c)});
            sup.start();
            // start() is synchronous: every child has started when it returns.
            CHECK(ev.lines() == v({"started a", "started b", "started c"}));
            CHECK(sup.running());
            CHECK(sup.stop() == rill::sup_exit::stopped);
            CHECK_FALSE(sup.running());
        }
        CHECK(log.with_prefix("stop") == v({"stop c", "stop b", "stop a"}));
        CHECK(ev.with_prefix("exited") ==
              v({"exited c shutdown", "exited b shutdown", "exited a shutdown"}));
        CHECK(leaks.clean());
    });
}

TEST_CASE("sup_start_ignore_child: a child that returns before notify_started is ignored") {
    rill::run([] {
        journal ev;
        auto ignoring = [](const rill::context&) {};
        rill::child_spec keep{.id = "keep", .start = ignoring, .await_started = true};
        rill::child_spec temp{
            .id = "temp", .start = ignoring, .restart = restart::temporary, .await_started = true};
        rill::supervisor sup(sup_test::opts(ev), {keep, temp});
        sup.start();
        // OTP: the spec of an ignored child is kept (pid undefined), unless temporary.
        REQUIRE(sup.which_children().size() == 1);
        CHECK(sup_test::state_of(sup, "keep") == rill::child_state::stopped);
        CHECK(sup.count_children().active == 0);
        CHECK(ev.count("started keep") == 0);
    });
}

TEST_CASE("sup_start_error_return: a child whose start throws stops the started ones in reverse "
          "order and the start reports the error") {
    rill::run([] {
        csp_test::leak_check leaks;
        journal log, ev;
        controlled a(log, "a"), b(log, "b");
        rill::child_spec bad{
            .id = "bad",
            .start = [](const rill::context&) { throw std::runtime_error("cannot open"); },
            .await_started = true};
        controlled after(log, "after");
        rill::supervisor sup(sup_test::opts(ev), {spec(a), spec(b), bad, spec(after)});
        try {
            sup.start();
            FAIL("start succeeded");
        } catch (const rill::supervisor_error& e) {
            CHECK(e.code() == rill::sup_errc::start_failed);
            CHECK(std::string(e.what()).find("bad") != std::string::npos);
            CHECK_THROWS_WITH(std::rethrow_exception(e.nested_reason()), "cannot open");
        }
        CHECK(log.lines() == v({"start a", "start b", "stop b", "stop a"}));
        CHECK(ev.count("start_failed bad") == 1);
        CHECK_FALSE(sup.running());
        CHECK(sup.wait() == rill::sup_exit::start_failed);
        CHECK(leaks.clean());
    });
}

TEST_CASE("sup_start_fail: an exception after notify_started is an exit, not a start failure") {
    rill::run([] {
        journal ev;
        rill::chan<int> go_on(0);
        rill::child_spec s{.id = "w",
                           .start =
                               [go_on](const rill::context& ctx) mutable {
                                   rill::notify_started(ctx);
                                   if (go_on.recv() == 1) throw std::runtime_error("later");
                                   (void)ctx.done().recv();
                               },
                           .restart = restart::transient,
                           .await_started = true};
        rill::supervisor sup(sup_test::opts(ev), {s});
        sup.start();
        go_on.send(1);
        go_on.send(0); // taken by the restarted child
        REQUIRE(ev.wait_count("restarted w"));
        CHECK(ev.lines() == v({"started w", "exited w abnormal", "restarted w"}));
    });
}

// A child's token (its path, and for an awaited child its start signal) is
// kept per child where it cannot differ between runs: each run must still see
// its own path, and an awaited child's run must signal its own start.
TEST_CASE("restarts: every run sees its child's path, and an awaited run signals its own start") {
    rill::run([] {
        journal log, ev;
        std::atomic<int> runs_a{0}, runs_b{0};
        rill::child_spec a{.id = "a", .start = [&](const rill::context& ctx) {
                               log.add("a " + rill::supervision_path(ctx));
                               if (++runs_a <= 2) throw std::runtime_error("again");
                               (void)ctx.done().recv();
                           }};
        // Run 1 signals its start, and once the supervisor has taken it,
        // signals again (a second signal goes nowhere) and panics. Run 2
        // panics before signalling: a failed start, unless it took run 1's
        // second signal for its own. Run 3 starts.
        rill::child_spec b{.id = "b",
                           .start =
                               [&](const rill::context& ctx) {
                                   int run = ++runs_b;
                                   log.add("b " + rill::supervision_path(ctx));
                                   if (run == 1) {
                                       rill::notify_started(ctx);
                                       (void)ev.wait_count("started b");
                                   }
                                   if (run != 2) rill::notify_started(ctx);
                                   if (run <= 2) throw std::runtime_error("again");
                                   (void)ctx.done().recv();
                               },
                           .await_started = true};
        auto o = sup_test::opts(ev);
        o.name = "top";
        rill::supervisor sup(o, {a, b});
        sup.start();
        REQUIRE(log.wait_count("a top/a", 3));
        REQUIRE(log.wait_count("b top/b", 3));
        REQUIRE(ev.wait_count("restarted b"));
        CHECK(log.count("a top/a") == 3);
        CHECK(log.count("b top/b") == 3);
        CHECK(ev.count("start_failed b") == 1);
        CHECK(sup_test::state_of(sup, "a") == rill::child_state::running);
        CHECK(sup_test::state_of(sup, "b") == rill::child_state::running);
        sup.stop();
    });
}

TEST_CASE(
    "child_specs: invalid specs and flags throw invalid_argument naming supervisor and child") {
    journal ev;
    auto body = [](const rill::context&) {};
    auto o = sup_test::opts(ev);
    auto throws_naming = [](auto make, const char* part) {
        try {
            make();
            FAIL("no exception");
        } catch (const std::invalid_argument& e) {
            INFO(e.what());
            CHECK(std::string(e.what()).find("root") != std::string::npos);
            CHECK(std::string(e.what()).find(part) != std::string::npos);
        }
    };
    rill::child_spec x{.id = "x", .start = body};
    throws_naming([&] { rill::supervisor s(o, {x, x}); }, "duplicate child id 'x'");
    rill::child_spec sig_perm{.id = "sp", .start = body, .significant = true};
    auto o_any = o;
    o_any.auto_shutdown = rill::auto_shutdown::any_significant;
    throws_naming([&] { rill::supervisor s(o_any, {sig_perm}); }, "'sp'");
    rill::child_spec sig_never{
        .id = "sn", .start = body, .restart = restart::transient, .significant = true};
    throws_naming([&] { rill::supervisor s(o, {sig_never}); }, "'sn'");
    rill::child_spec neg{.id = "neg", .start = body, .shutdown = -5ms};
    throws_naming([&] { rill::supervisor s(o, {neg}); }, "'neg'");
    rill::child_spec nostart{.id = "ns"};
    throws_naming([&] { rill::supervisor s(o, {nostart}); }, "'ns'");
    auto bad_i = o;
    bad_i.intensity = -1;
    throws_naming([&] { rill::supervisor s(bad_i, {}); }, "intensity");
    auto bad_p = o;
    bad_p.period = 0s;
    throws_naming([&] { rill::supervisor s(bad_p, {}); }, "period");
    auto bad_max = o;
    bad_max.max_children = 0;
    throws_naming([&] { rill::dynamic_supervisor s(bad_max, x); }, "max_children");
}

TEST_CASE("one_for_one: a permanent child is restarted after a normal and an abnormal exit") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a"), b(log, "b");
        rill::supervisor sup(sup_test::opts(ev), {spec(a), spec(b)});
        sup.start();
        a.ctl.send(cmd::exit_normal);
        a.ctl.send(cmd::panic);
        a.ctl.send(cmd::exit_shutdown);
        REQUIRE(ev.wait_count("restarted a", 3));
        CHECK(ev.lines() ==
              v({"started a", "started b", "exited a normal", "restarted a", "exited a abnormal",
                 "restarted a", "exited a shutdown", "restarted a"}));
        CHECK(sup_test::restarts_of(sup, "a") == 3);
        CHECK(sup_test::restarts_of(sup, "b") == 0);
        CHECK(log.count("stop b") == 0); // one_for_one leaves siblings alone
    });
}

TEST_CASE("one_for_one: a transient child is restarted only after an abnormal exit") {
    rill::run([] {
        journal log, ev;
        controlled n(log, "n"), s(log, "s");
        rill::supervisor sup(sup_test::opts(ev),
                             {spec(n, restart::transient), spec(s, restart::transient)});
        sup.start();
        n.ctl.send(cmd::panic);
        n.ctl.send(cmd::exit_normal); // the restarted instance ends normally
        s.ctl.send(cmd::exit_shutdown);
        REQUIRE(rill_test::eventually([&] { return sup.count_children().active == 0; }));
        CHECK(ev.lines() == v({"started n", "started s", "exited n abnormal", "restarted n",
                               "exited n normal", "exited s shutdown"}));
        // normal and shutdown are not abnormal: the specs stay, stopped.
        CHECK(sup_test::state_of(sup, "n") == rill::child_state::stopped);
        CHECK(sup_test::state_of(sup, "s") == rill::child_state::stopped);
    });
}

TEST_CASE("one_for_one: a temporary child is never restarted and its spec is deleted") {
    rill::run([] {
        journal log, ev;
        controlled t1(log, "t1"), t2(log, "t2"), p(log, "p");
        rill::supervisor sup(sup_test::opts(ev),
                             {spec(t1, restart::temporary), spec(t2, restart::temporary), spec(p)});
        sup.start();
        t1.ctl.send(cmd::panic);
        t2.ctl.send(cmd::exit_normal);
        REQUIRE(rill_test::eventually([&] { return sup.which_children().size() == 1; }));
        CHECK(sup.which_children()[0].id == "p");
        CHECK(ev.with_prefix("restarted").empty());
    });
}

TEST_CASE("one_for_all: siblings stop in reverse order, then all restart in start order") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a"), b(log, "b"), t(log, "t"), c(log, "c");
        rill::supervisor sup(sup_test::opts(ev, strategy::one_for_all),
                             {spec(a), spec(b), spec(t, restart::temporary), spec(c)});
        sup.start();
        log.clear();
        ev.clear();
        b.ctl.send(cmd::panic);
        REQUIRE(ev.wait_count("restarted c"));
        CHECK(log.lines() == v({"stop c", "stop t", "stop a", "start a", "start b", "start c"}));
        // The temporary sibling is not restarted and its spec is deleted.
        CHECK_FALSE(sup_test::has_child(sup, "t"));
        CHECK(ev.lines() == v({"exited b abnormal", "exited c shutdown", "exited t shutdown",
                               "exited a shutdown", "restarted a", "restarted b", "restarted c"}));
    });
}

TEST_CASE("one_for_all: a transient child's normal exit restarts nobody") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a"), b(log, "b");
        rill::supervisor sup(sup_test::opts(ev, strategy::one_for_all),
                             {spec(a, restart::transient), spec(b)});
        sup.start();
        a.ctl.send(cmd::exit_normal);
        REQUIRE(ev.wait_count("exited a normal"));
        b.ctl.send(cmd::panic); // now b's failure restarts a too (OTP restarts every child)
        REQUIRE(ev.wait_count("restarted b"));
        CHECK(ev.with_prefix("restarted") == v({"restarted a", "restarted b"}));
    });
}

TEST_CASE("rest_for_one: the children after the failed one stop in reverse order and restart") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a"), b(log, "b"), c(log, "c"), d(log, "d");
        rill::supervisor sup(sup_test::opts(ev, strategy::rest_for_one),
                             {spec(a), spec(b), spec(c), spec(d)});
        sup.start();
        log.clear();
        b.ctl.send(cmd::panic);
        REQUIRE(ev.wait_count("restarted d"));
        CHECK(log.lines() == v({"stop d", "stop c", "start b", "start c", "start d"}));
        CHECK(sup_test::restarts_of(sup, "a") == 0);
        CHECK(sup_test::restarts_of(sup, "b") == 1);
        CHECK(sup_test::restarts_of(sup, "d") == 1);
        // The last child's failure restarts only itself.
        log.clear();
        d.ctl.send(cmd::panic);
        REQUIRE(ev.wait_count("restarted d", 2));
        CHECK(log.lines() == v({"start d"}));
    });
}

TEST_CASE("rest_for_one: a temporary child after the failed one is not restarted") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a"), t(log, "t");
        rill::supervisor sup(sup_test::opts(ev, strategy::rest_for_one),
                             {spec(a), spec(t, restart::temporary)});
        sup.start();
        a.ctl.send(cmd::panic);
        REQUIRE(ev.wait_count("restarted a"));
        CHECK_FALSE(sup_test::has_child(sup, "t"));
        CHECK(ev.count("exited t shutdown") == 1);
    });
}

TEST_CASE("restart intensity: exactly `intensity` restarts in the period are allowed") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a");
        rill::supervisor sup(sup_test::opts(ev, strategy::one_for_one, 3), {spec(a)});
        sup.start();
        for (int i = 0; i < 3; ++i)
            a.ctl.send(cmd::panic);
        REQUIRE(ev.wait_count("restarted a", 3));
        CHECK(sup.running());
        a.ctl.send(cmd::exit_normal); // a permanent child's normal exit counts too
        CHECK(sup.wait() == rill::sup_exit::intensity_exceeded);
        CHECK(ev.count("intensity_exceeded a") == 1);
        CHECK(ev.count("restarted a") == 3);
    });
}

TEST_CASE("restart intensity: one over the limit stops every child in reverse order and the "
          "supervisor exits") {
    rill::run([] {
        csp_test::leak_check leaks;
        journal log, ev;
        controlled a(log, "a"), b(log, "b"), c(log, "c");
        rill::supervisor sup(sup_test::opts(ev, strategy::one_for_one, 1),
                             {spec(a), spec(b), spec(c)});
        sup.start();
        b.ctl.send(cmd::panic);
        b.ctl.send(cmd::panic);
        CHECK(sup.wait() == rill::sup_exit::intensity_exceeded);
        CHECK(log.with_prefix("stop") == v({"stop c", "stop a"}));
        CHECK_THROWS_AS(sup.which_children().at(5), std::out_of_range);
        try {
            sup.terminate_child("a");
            FAIL("an operation on an exited supervisor succeeded");
        } catch (const rill::supervisor_error& e) {
            CHECK(e.code() == rill::sup_errc::not_running);
        }
        CHECK(leaks.clean());
    });
}

TEST_CASE("restart intensity 0: the first restart is one too many") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a");
        rill::supervisor sup(sup_test::opts(ev, strategy::one_for_one, 0), {spec(a)});
        sup.start();
        a.ctl.send(cmd::panic);
        CHECK(sup.wait() == rill::sup_exit::intensity_exceeded);
        CHECK(ev.count("restarted a") == 0);
    });
}

TEST_CASE("restart period: restarts older than the period no longer count (sliding window)") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a");
        auto o = sup_test::opts(ev, strategy::one_for_one, 1);
        o.period = 30ms;
        rill::supervisor sup(o, {spec(a)});
        sup.start();
        for (int i = 1; i <= 3; ++i) {
            a.ctl.send(cmd::panic);
            REQUIRE(ev.wait_count("restarted a", static_cast<std::size_t>(i)));
            // Comfortably past the period, however slow this machine is: the
            // restart was stamped before its event was recorded.
            rill::sleep_until(std::chrono::steady_clock::now() + 3 * o.period);
        }
        CHECK(sup.running());
        CHECK(sup_test::restarts_of(sup, "a") == 3);
        CHECK(ev.count("intensity_exceeded a") == 0);
    });
}

TEST_CASE("sup_stop_infinity / shutdown infinity: the supervisor waits for a slow child") {
    rill::run([] {
        journal ev;
        rill::chan<int> release(0);
        rill::child_spec slow{.id = "slow",
                              .start =
                                  [release](const rill::context& ctx) mutable {
                                      (void)ctx.done().recv();
                                      (void)release.recv(); // cleanup that takes a while
                                  },
                              .shutdown = rill::shutdown_infinity};
        rill::supervisor sup(sup_test::opts(ev), {slow});
        sup.start();
        rill::chan<rill::sup_exit> stopped(1);
        rill::go([&] { stopped.send(sup.stop()); });
        release.send(1); // stop() can only return after this
        CHECK(stopped.recv() == rill::sup_exit::stopped);
        CHECK(ev.count("exited slow shutdown") == 1);
        CHECK(ev.count("abandoned slow") == 0);
    });
}

TEST_CASE("sup_stop_timeout: a child that ignores cancellation past its shutdown time is "
          "abandoned and reported, and the supervisor proceeds") {
    rill::run([] {
        journal log, ev;
        rill::chan<int> release(0);
        rill::chan<int> gone(1);
        controlled a(log, "a");
        rill::child_spec stubborn{.id = "stubborn",
                                  .start =
                                      [release, gone](const rill::context&) mutable {
                                          (void)release.recv(); // ignores its context
                                          gone.send(1);
                                      },
                                  .shutdown = 20ms};
        controlled c(log, "c");
        {
            rill::supervisor sup(sup_test::opts(ev), {spec(a), stubborn, spec(c)});
            sup.start();
            CHECK(sup.stop() == rill::sup_exit::stopped);
        }
        CHECK(ev.with_prefix("exited") == v({"exited c shutdown", "exited a shutdown"}));
        CHECK(ev.count("abandoned stubborn") == 1);
        // It goes on running after its supervisor ended, and ends quietly.
        release.send(1);
        CHECK(gone.recv() == 1);
    });
}

TEST_CASE("brutal_kill (shutdown 0): a child still running when stopped is abandoned at once") {
    rill::run([] {
        journal ev;
        rill::chan<int> release(0);
        rill::child_spec w{
            .id = "w",
            .start = [release](const rill::context&) mutable { (void)release.recv(); },
            .shutdown = 0ms};
        rill::supervisor sup(sup_test::opts(ev), {w});
        sup.start();
        sup.stop();
        CHECK(ev.count("abandoned w") == 1);
        release.send(1);
    });
}

TEST_CASE("sup_flags / child_spec defaults: one_for_one, intensity 1, period 5 s, permanent "
          "worker with shutdown 5 s; supervisors shutdown infinity") {
    rill::supervisor_options o;
    CHECK(o.strategy == strategy::one_for_one);
    CHECK(o.intensity == 1);
    CHECK(o.period == 5s);
    CHECK(o.auto_shutdown == rill::auto_shutdown::never);
    rill::child_spec s;
    CHECK(s.restart == restart::permanent);
    CHECK(s.kind == rill::child_kind::worker);
    CHECK(s.shutdown == rill::shutdown_default);
    auto sub = rill::supervisor_child("sub", {}, {});
    CHECK(sub.kind == rill::child_kind::supervisor);
    CHECK(sub.shutdown == rill::shutdown_infinity);
}

TEST_CASE("nested supervisors: a child supervisor that gives up exits with shutdown; a permanent "
          "one is restarted by its parent, which escalates when it gives up in turn") {
    rill::run([] {
        csp_test::leak_check leaks;
        journal log, ev;
        controlled w(log, "w");
        auto sub_opts = sup_test::opts(ev, strategy::one_for_one, 0);
        rill::supervisor sup(sup_test::opts(ev, strategy::one_for_one, 1),
                             {rill::supervisor_child("sub", sub_opts, {spec(w)})});
        sup.start();
        CHECK(sup_test::which_kind(sup, "sub") == rill::child_kind::supervisor);
        w.ctl.send(cmd::panic); // sub gives up; root restarts it (1 restart: allowed)
        REQUIRE(ev.wait_count("restarted sub"));
        CHECK(ev.count("intensity_exceeded w") == 1);
        CHECK(ev.count("exited sub shutdown") == 1);
        w.ctl.send(cmd::panic); // again: root's second restart is one too many
        CHECK(sup.wait() == rill::sup_exit::intensity_exceeded);
        CHECK(ev.count("intensity_exceeded sub") == 1);
        CHECK(leaks.clean());
    });
}

TEST_CASE("nested supervisors: a transient child supervisor that gave up is not restarted") {
    rill::run([] {
        journal log, ev;
        controlled w(log, "w"), other(log, "other");
        auto sub_opts = sup_test::opts(ev, strategy::one_for_one, 0);
        rill::supervisor sup(
            sup_test::opts(ev, strategy::one_for_one, 1),
            {rill::supervisor_child("sub", sub_opts, {spec(w)}, restart::transient), spec(other)});
        sup.start();
        w.ctl.send(cmd::panic);
        REQUIRE(ev.wait_count("exited sub shutdown"));
        CHECK(sup.running());
        CHECK(sup_test::state_of(sup, "sub") == rill::child_state::stopped);
        CHECK(ev.count("restarted sub") == 0);
        CHECK(sup.restart_child("sub")); // and it can be started again by hand
        CHECK(sup_test::state_of(sup, "sub") == rill::child_state::running);
    });
}

TEST_CASE("nested supervisors: stopping the tree stops each subtree in reverse order, depth "
          "first, and paths name the nesting") {
    rill::run([] {
        journal log, ev;
        controlled a(log, "a"), x(log, "x"), y(log, "y"), b(log, "b");
        rill::child_spec path_probe{.id = "probe", .start = [&log](const rill::context& ctx) {
                                        log.add("path " + rill::supervision_path(ctx));
                                        (void)ctx.done().recv();
                                    }};
        {
            rill::supervisor sup(
                sup_test::opts(ev),
                {spec(a),
                 rill::supervisor_child("mid", sup_test::opts(ev), {spec(x), spec(y), path_probe}),
                 spec(b)});
            sup.start();
            REQUIRE(log.wait_count("path root/mid/probe"));
            CHECK(sup.count_children().supervisors == 1);
            CHECK(sup.count_children().workers == 2);
        }
        CHECK(log.with_prefix("stop") == v({"stop b", "stop y", "stop x", "stop a"}));
    });
}
