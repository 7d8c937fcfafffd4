// scoped / scope: borrowing locals, join, exceptions never lost.
#include "csp_util.hpp"

#include <rill/csp/scope.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

TEST_CASE("scoped returns only when every goroutine has finished; they borrow locals") {
    rill::run([] {
        csp_test::leak_check leaks;
        std::vector<int> slots(200, 0);
        rill::scoped([&](rill::scope& s) {
            for (std::size_t i = 0; i < slots.size(); ++i)
                s.spawn([&slots, i] {
                    rill::gosched();
                    slots[i] = static_cast<int>(i) + 1;
                });
        });
        for (std::size_t i = 0; i < slots.size(); ++i)
            REQUIRE(slots[i] == static_cast<int>(i) + 1);
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("join returns the value or rethrows the exception") {
    rill::run([] {
        std::string got = rill::scoped([](rill::scope& s) {
            auto a = s.spawn([] { return std::string("left"); });
            auto b = s.spawn([] { return 7; });
            auto c = s.spawn([]() -> int { throw std::runtime_error("boom"); });
            auto v = s.spawn([] {});
            REQUIRE_THROWS_WITH(c.join(), "boom");
            v.join();
            return a.join() + std::to_string(b.join());
        });
        REQUIRE(got == "left7");
    });
}

TEST_CASE("an exception nobody joined is rethrown by scoped, after everything finished") {
    rill::run([] {
        std::atomic<int> finished{0};
        REQUIRE_THROWS_WITH(rill::scoped([&](rill::scope& s) {
                                s.spawn([] { throw std::runtime_error("unjoined"); });
                                for (int i = 0; i < 20; ++i)
                                    s.spawn([&] {
                                        rill::gosched();
                                        ++finished;
                                    });
                            }),
                            "unjoined");
        REQUIRE(finished == 20);
    });
}

TEST_CASE("the body's own exception wins, and scoped still waits") {
    rill::run([] {
        std::atomic<int> finished{0};
        REQUIRE_THROWS_WITH(rill::scoped([&](rill::scope& s) {
                                s.spawn([] { throw std::runtime_error("child"); });
                                s.spawn([&] {
                                    rill::gosched();
                                    ++finished;
                                });
                                throw std::logic_error("body");
                            }),
                            "body");
        REQUIRE(finished == 1);
    });
}

TEST_CASE("goroutines may spawn on the scope; done() works in select; names stick") {
    rill::run([] {
        std::atomic<int> n{0};
        rill::scoped([&](rill::scope& s) {
            auto h = s.spawn(
                [&] {
                    for (int i = 0; i < 10; ++i)
                        s.spawn([&] { ++n; });
                    return std::string(rill::goroutine_name());
                },
                {.name = "spawner"});
            bool seen = false;
            rill::select(rill::on_recv(h.done(), [&](auto) { seen = true; }));
            REQUIRE(seen);
            REQUIRE(h.join() == "spawner");
        });
        REQUIRE(n == 10);
    });
}
