// after, timer and ticker on the runtime's timers.
#include "csp_util.hpp"

#include <rill/csp/time.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/timer.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

TEST_CASE("after fires once, at or after its time") {
    rill::run([] {
        csp_test::leak_check leaks;
        auto t0 = std::chrono::steady_clock::now();
        auto c = rill::after(2ms);
        auto fired = c.recv();
        REQUIRE(fired);
        REQUIRE(*fired >= t0 + 2ms);
        REQUIRE_FALSE(c.try_recv());
        REQUIRE(rill::after(0ns).recv());
        REQUIRE(rill::after(-5s).recv());
        int chosen = rill::select(rill::on_recv(rill::after(1ms), [](auto) {}),
                                  rill::on_recv(rill::chan<int>(0), [](auto) {}));
        REQUIRE(chosen == 0);
        REQUIRE(leaks.clean()); // the timers freed themselves
    });
}

TEST_CASE("timer: stop before it fires, reset, stop after it fired") {
    rill::run([] {
        csp_test::leak_check leaks;
        {
            rill::timer t(1h);
            REQUIRE(t.stop());
            REQUIRE_FALSE(t.stop());
            REQUIRE_FALSE(t.c().try_recv());
            REQUIRE_FALSE(t.reset(1ms));
            REQUIRE(t.c().recv());
            REQUIRE_FALSE(t.stop()); // already fired

            rill::timer u(1h);
            REQUIRE(u.reset(1ms)); // was armed
            REQUIRE(u.c().recv());

            // A value that fired but was not received is gone after a reset.
            rill::timer v(0ns);
            REQUIRE(rill_test::eventually([&] { return v.c().len() == 1; }));
            v.reset(1h);
            REQUIRE_FALSE(v.c().try_recv());
            rill::timer w(1h); // destroyed armed
        }
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("ticker ticks until stopped; reset changes the period") {
    rill::run([] {
        csp_test::leak_check leaks;
        {
            auto t = rill::tick(1ms);
            auto c = t.c();
            auto a = c.recv(), b = c.recv(), d = c.recv();
            REQUIRE((a && b && d));
            REQUIRE(*a < *b);
            REQUIRE(*b < *d);
            t.stop();
            REQUIRE_FALSE(c.try_recv());
            t.reset(2ms);
            REQUIRE(c.recv());
            REQUIRE_THROWS_AS(t.reset(0ns), std::invalid_argument);
        }
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("ticker rejects a period that is not positive, naming itself") {
    try {
        rill::ticker t(-1ms);
        FAIL("not thrown");
    } catch (const std::invalid_argument& e) {
        REQUIRE(std::string(e.what()).find("rill::ticker: period") != std::string::npos);
    }
    REQUIRE_THROWS_AS(rill::ticker(0ns), std::invalid_argument);
}
