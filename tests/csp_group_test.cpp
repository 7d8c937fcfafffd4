// rill::group (errgroup): first error, context cancellation, limits.
#include "csp_util.hpp"

#include <rill/csp/group.hpp>
#include <rill/runtime.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>

TEST_CASE("wait returns nullptr when every goroutine succeeds, and cancels the context") {
    rill::run([] {
        csp_test::leak_check leaks;
        std::atomic<int> n{0};
        {
            rill::group g;
            for (int i = 0; i < 100; ++i)
                g.go([&] { ++n; });
            REQUIRE(g.wait() == nullptr);
            REQUIRE(g.ctx().err() == rill::context_err::canceled);
        }
        REQUIRE(n == 100);
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("the first error cancels the group's context and is what wait returns") {
    rill::run([] {
        rill::group g(rill::background());
        std::atomic<int> stopped{0};
        for (int i = 0; i < 10; ++i)
            g.go([&](const rill::context& ctx) {
                (void)ctx.done().recv(); // until the failure cancels everyone
                ++stopped;
            });
        g.go([] { throw std::runtime_error("first"); });
        auto e = g.wait();
        REQUIRE(e);
        REQUIRE_THROWS_WITH(std::rethrow_exception(e), "first");
        REQUIRE(stopped == 10);
        REQUIRE(g.ctx().cause() == e);
    });
}

TEST_CASE("only the first of several errors is kept") {
    rill::run([] {
        rill::group g;
        for (int i = 0; i < 20; ++i)
            g.go([i] { throw std::runtime_error("e" + std::to_string(i)); });
        auto e = g.wait();
        REQUIRE(e);
        REQUIRE(g.ctx().cause() == e);
    });
}

TEST_CASE("a parent's cancellation reaches the group's context") {
    rill::run([] {
        auto [parent, cancel] = rill::with_cancel(rill::background());
        rill::group g(parent);
        g.go([](const rill::context& ctx) { (void)ctx.done().recv(); });
        cancel();
        REQUIRE(g.wait() == nullptr); // cancellation is not an error of the group's
        REQUIRE(parent.err() == rill::context_err::canceled);
    });
}

TEST_CASE("a limit bounds concurrent goroutines; try_go declines at the limit") {
    rill::run([] {
        rill_test::maxprocs_scope procs(4);
        constexpr int limit = 3;
        rill::group g(rill::background(), limit);
        std::atomic<int> active{0}, peak{0};
        for (int i = 0; i < 50; ++i)
            g.go([&] {
                int now = ++active;
                int p = peak.load();
                while (now > p && !peak.compare_exchange_weak(p, now)) {
                }
                rill::gosched();
                --active;
            });
        REQUIRE(g.wait() == nullptr);
        REQUIRE(peak <= limit);
        REQUIRE(peak >= 1);

        rill::group h(rill::background(), 1);
        rill::chan<int> release(0);
        REQUIRE(h.try_go([rx = release.rx()]() mutable { (void)rx.recv(); }));
        REQUIRE_FALSE(h.try_go([] {}));
        REQUIRE_THROWS_AS(h.set_limit(5), std::logic_error); // still active
        release.close();
        REQUIRE(h.wait() == nullptr);
        h.set_limit(-1);
        REQUIRE(h.try_go([] {}));
        h.wait();
    });
}

TEST_CASE("set_limit rejects 0 and other meaningless limits, naming itself") {
    rill::group g;
    try {
        g.set_limit(0);
        FAIL("not thrown");
    } catch (const std::invalid_argument& e) {
        REQUIRE(std::string(e.what()).find("rill::group::set_limit") != std::string::npos);
    }
    REQUIRE_THROWS_AS(g.set_limit(-2), std::invalid_argument);
    REQUIRE_THROWS_AS(rill::group(rill::background(), 0), std::invalid_argument);
}
