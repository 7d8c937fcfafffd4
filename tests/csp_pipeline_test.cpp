// Pipeline combinators: what each one passes on, closing order, cancellation
// in the middle of a stream, errors with stage names, ordered parallel map
// under random delays, and no goroutine left behind.
#include "csp_util.hpp"

#include <rill/csp.hpp>
#include <rill/runtime.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace rill::pipe;

namespace {

std::vector<int> range(int first, int last) {
    std::vector<int> v(static_cast<std::size_t>(last - first));
    std::iota(v.begin(), v.end(), first);
    return v;
}

// 0, 1, 2, ... for ever (until the stage is stopped).
rill::stream<int> naturals(const rill::pipeline& p) {
    return generate(p, [i = 0]() mutable -> std::optional<int> { return i++; });
}

// Whether calling f throws std::invalid_argument whose message names fn.
template <class F> bool rejects(F f, const std::string& fn) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return std::string(e.what()).find(fn) != std::string::npos;
    }
    return false;
}

} // namespace

TEST_CASE("sources, map and filter compose into a chain") {
    rill::run([] {
        csp_test::leak_check leaks;
        {
            rill::pipeline p;
            auto out = iota(p, 0, 100) | map([](int x) { return x * x; }) |
                       filter([](int x) { return x % 2 == 0; }) |
                       map([](int x) { return std::to_string(x); });
            auto got = collect(out);
            REQUIRE(got.size() == 50);
            REQUIRE(got[1] == "4");
            REQUIRE(got.back() == "9604");

            REQUIRE(collect(from_range(p, std::vector<int>{3, 1, 2})) == std::vector<int>{3, 1, 2});
            int n = 0;
            auto gen = generate(p, [&n]() -> std::optional<int> {
                if (n == 5) return std::nullopt;
                return n++;
            });
            REQUIRE(collect(gen) == range(0, 5));

            rill::chan<int> ext(10);
            for (int i = 0; i < 10; ++i)
                ext.send(i);
            ext.close();
            int sum = 0;
            for_each(from_chan(p, ext.rx()) | map([](int x) { return x + 1; }),
                     [&](int x) { sum += x; });
            REQUIRE(sum == 55);
            REQUIRE(p.wait() == nullptr);
        }
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("a stage closes its output only after its input closes, and passes everything first") {
    rill::run([] {
        rill::pipeline p;
        rill::chan<int> in(0);
        auto out = from_chan(p, in.rx()) | map([](int x) { return x * 10; }) |
                   filter([](int) { return true; });
        for (int i = 1; i <= 3; ++i) {
            in.send(i);
            REQUIRE(*out.recv() == i * 10);
            REQUIRE_FALSE(out.rx().closed());
        }
        in.send(4);
        in.close();
        REQUIRE(*out.recv() == 40); // what was sent before the close comes first
        REQUIRE_FALSE(out.recv());  // then the end, passed down stage by stage
        REQUIRE(p.wait() == nullptr);
    });
}

TEST_CASE("take stops the stages before it, even an endless generator") {
    rill::run([] {
        csp_test::leak_check leaks;
        {
            rill::pipeline p;
            std::atomic<int> generated{0};
            auto out = generate(p, [&]() -> std::optional<int> { return generated++; }) |
                       map([](int x) { return x + 1; }) | take(5);
            REQUIRE(collect(out) == range(1, 6));
            REQUIRE(p.wait() == nullptr); // returns: every stage stopped
            REQUIRE(generated >= 5);
            REQUIRE(collect(iota(p, 0, 10) | take(0)).empty());
            REQUIRE(collect(iota(p, 0, 3) | take(10)) == range(0, 3));
            REQUIRE(p.wait() == nullptr);
        }
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("cancelling in the middle of a stream stops every stage; what was received is intact") {
    rill::run([] {
        rill_test::maxprocs_scope procs(2);
        csp_test::leak_check leaks;
        for (int round = 0; round < 20; ++round) {
            rill::pipeline p({}, {.buffer = static_cast<std::size_t>(round % 3) * 4});
            auto out = iota(p, 0, 1 << 30) | map([](int x) { return x * 2; }) |
                       parallel_map(3, [](int x) { return x + 1; }) | batch(4, 1h);
            std::vector<int> got;
            for (int i = 0; i < 10; ++i) {
                auto b = out.recv();
                REQUIRE(b);
                got.insert(got.end(), b->begin(), b->end());
            }
            p.cancel();
            while (auto b = out.recv()) // buffered batches may still come, then the end
                got.insert(got.end(), b->begin(), b->end());
            REQUIRE(p.wait() == nullptr);
            REQUIRE(p.ctx().err() == rill::context_err::canceled);
            for (std::size_t i = 0; i < got.size(); ++i)
                REQUIRE(got[i] == static_cast<int>(2 * i + 1)); // a prefix, in order
        }
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("a parent context's deadline stops the pipeline") {
    rill::run([] {
        auto [ctx, cancel] = rill::with_timeout(rill::background(), 2ms);
        rill::pipeline p(ctx);
        auto out = naturals(p) | rate_limit(100us);
        std::size_t n = drain(out); // ends when the deadline cancels the stages
        REQUIRE(p.wait() == nullptr);
        REQUIRE(p.ctx().err() == rill::context_err::deadline_exceeded);
        (void)n;
    });
}

TEST_CASE("a panic in a stage is reported with the stage's name and stops the pipeline") {
    rill::run([] {
        csp_test::leak_check leaks;
        {
            rill::pipeline p;
            std::string seen_name;
            auto out = naturals(p) |
                       map(
                           [&](int x) {
                               if (x == 0) seen_name = rill::goroutine_name();
                               if (x == 7) throw std::runtime_error("bad item 7");
                               return x;
                           },
                           {.name = "validate"}) |
                       map([](int x) { return x; });
            auto got = collect(out); // ends: the failure cancels every stage
            REQUIRE(got.size() <= 7);
            auto e = p.wait();
            REQUIRE(e);
            try {
                std::rethrow_exception(e);
            } catch (const rill::stage_error& se) {
                REQUIRE(se.stage() == "validate");
                std::string what = se.what();
                REQUIRE(what.find("validate") != std::string::npos);
                REQUIRE(what.find("bad item 7") != std::string::npos);
                REQUIRE_THROWS_WITH(std::rethrow_exception(se.cause()), "bad item 7");
            }
            REQUIRE(p.ctx().cause() == e);
            REQUIRE(seen_name == "validate");
        }
        {
            rill::pipeline p;
            auto out = parallel_map(iota(p, 0, 1000), 4, [](int x) {
                if (x == 500) throw std::logic_error("worker failed");
                return x;
            });
            drain(out);
            auto e = p.wait();
            REQUIRE(e);
            REQUIRE_THROWS_AS(std::rethrow_exception(e), rill::stage_error);
            REQUIRE_THROWS_WITH(std::rethrow_exception(e), Catch::Contains("parallel_map"));
        }
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("batch: full batches, a partial one at the end, and one after max_wait") {
    rill::run([] {
        rill::pipeline p;
        auto sizes = [](std::vector<std::vector<int>> bs) {
            std::vector<std::size_t> s;
            for (auto& b : bs)
                s.push_back(b.size());
            return s;
        };
        REQUIRE(sizes(collect(iota(p, 0, 10) | batch(3, 1h))) ==
                std::vector<std::size_t>{3, 3, 3, 1});
        REQUIRE(collect(iota(p, 0, 4) | batch(2, 1h)) ==
                std::vector<std::vector<int>>{{0, 1}, {2, 3}});

        // One item and then silence: only max_wait can let it out.
        rill::chan<int> in(0);
        auto out = from_chan(p, in.rx()) | batch(100, 1ms);
        in.send(42);
        auto b = out.recv();
        REQUIRE(b);
        REQUIRE(*b == std::vector<int>{42});
        in.close();
        REQUIRE_FALSE(out.recv());
        REQUIRE(p.wait() == nullptr);
    });
}

TEST_CASE("parallel_map keeps input order under random delays; unordered keeps every item") {
    rill::run([] {
        rill_test::maxprocs_scope procs(4);
        csp_test::leak_check leaks;
        const int n = rill_test::by_build(2000, 1000, 300);
        {
            rill::pipeline p;
            // Each item's delay is drawn from a hash of the item and a seed
            // picked per run (a thread_local engine would be shared by
            // whichever goroutines run on a thread).
            const std::uint64_t seed = std::random_device{}();
            auto slow = [seed](int x) {
                std::uint64_t r = (static_cast<std::uint64_t>(x) + seed) * 0x9e3779b97f4a7c15ULL;
                r ^= r >> 29;
                if (r % 4 == 0) rill::sleep(std::chrono::microseconds((r >> 8) % 200));
                for (auto k = (r >> 16) % 8; k > 0; --k)
                    rill::gosched();
                return x * 3;
            };
            auto ordered = collect(iota(p, 0, n) | parallel_map(8, slow));
            std::vector<int> want;
            for (int i = 0; i < n; ++i)
                want.push_back(i * 3);
            REQUIRE(ordered == want);

            auto unordered = collect(iota(p, 0, n) | parallel_map(8, slow, false));
            std::sort(unordered.begin(), unordered.end());
            REQUIRE(unordered == want);
            REQUIRE(collect(iota(p, 0, 5) | parallel_map(1, slow)) ==
                    std::vector<int>{0, 3, 6, 9, 12});
            REQUIRE(p.wait() == nullptr);
        }
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("fan_out spreads one input over n workers; fan_in and merge join them") {
    rill::run([] {
        csp_test::leak_check leaks;
        {
            rill::pipeline p;
            auto parts = fan_out(iota(p, 0, 1000), 4, [](int x) { return x * 2; });
            REQUIRE(parts.size() == 4);
            auto all = collect(fan_in(parts));
            std::sort(all.begin(), all.end());
            std::vector<int> want;
            for (int i = 0; i < 1000; ++i)
                want.push_back(2 * i);
            REQUIRE(all == want);

            auto merged = collect(merge(iota(p, 0, 10), iota(p, 10, 20), iota(p, 20, 30)));
            std::sort(merged.begin(), merged.end());
            REQUIRE(merged == range(0, 30));

            // Items from one input stay in that input's order.
            auto evens = iota(p, 0, 200) | filter([](int x) { return x % 2 == 0; });
            auto odds = iota(p, 0, 200) | filter([](int x) { return x % 2 == 1; });
            int last_even = -2, last_odd = -1;
            for (int v : merge(std::move(evens), std::move(odds))) {
                int& last = v % 2 ? last_odd : last_even;
                REQUIRE(v == last + 2);
                last = v;
            }
            REQUIRE(p.wait() == nullptr);
        }
        {
            // take after fan_in stops every input, and the workers behind them.
            rill::pipeline p;
            auto parts = fan_out(naturals(p), 3, [](int x) { return x; });
            REQUIRE(collect(fan_in(parts) | take(50)).size() == 50);
            REQUIRE(p.wait() == nullptr);
        }
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("broadcast and tee give every output every item; a cancelled output is dropped") {
    rill::run([] {
        csp_test::leak_check leaks;
        {
            rill::pipeline p;
            auto outs = broadcast(iota(p, 0, 100), 3);
            std::vector<std::vector<int>> got(3);
            rill::scoped([&](rill::scope& s) {
                for (int i = 0; i < 3; ++i)
                    s.spawn([&, i] { got[i] = collect(outs[i]); });
            });
            for (auto& g : got)
                REQUIRE(g == range(0, 100));

            auto [a, b] = tee(iota(p, 0, 1000));
            std::vector<int> ga;
            rill::scoped([&](rill::scope& s) {
                s.spawn([&] { ga = collect(a); });
                auto first = collect(std::move(b) | take(10)); // b stops early
                REQUIRE(first == range(0, 10));
            });
            REQUIRE(ga == range(0, 1000)); // a still got everything
            REQUIRE(p.wait() == nullptr);
        }
        {
            rill::pipeline p;
            auto outs = broadcast(naturals(p), 2);
            outs[0].cancel();
            outs[1].cancel(); // both gone: the broadcast and its source stop
            drain(outs[0]);
            drain(outs[1]);
            REQUIRE(p.wait() == nullptr);
        }
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("rate_limit passes every item in order") {
    rill::run([] {
        rill::pipeline p;
        REQUIRE(collect(iota(p, 0, 20) | rate_limit(50us, 5)) == range(0, 20));
        REQUIRE(collect(iota(p, 0, 5) | rate_limit(10us)) == range(0, 5));
        REQUIRE(p.wait() == nullptr);
    });
}

TEST_CASE("drain counts, and a pipeline's destructor stops and joins its stages") {
    rill::run([] {
        csp_test::leak_check leaks;
        {
            rill::pipeline p;
            REQUIRE(drain(iota(p, 0, 123)) == 123);
        }
        {
            rill::pipeline p; // left running: an endless source nobody reads
            auto s = naturals(p) | map([](int x) { return x; });
        }
        REQUIRE(leaks.clean());
    });
}

TEST_CASE("bad arguments throw std::invalid_argument naming the function") {
    rill::run([] {
        rill::pipeline p;
        REQUIRE(rejects([&] { batch(iota(p, 0, 1), 0, 1ms); }, "rill::pipe::batch"));
        REQUIRE(rejects([&] { batch(iota(p, 0, 1), 1, 0ms); }, "max_wait"));
        REQUIRE(rejects([&] { batch(iota(p, 0, 1), 1, -1ms); }, "rill::pipe::batch"));
        REQUIRE(rejects([&] { parallel_map(iota(p, 0, 1), 0, [](int x) { return x; }); },
                        "rill::pipe::parallel_map"));
        REQUIRE(rejects([&] { (void)parallel_map(-1, [](int x) { return x; }); },
                        "rill::pipe::parallel_map"));
        REQUIRE(rejects([&] { fan_out(iota(p, 0, 1), 0, [](int x) { return x; }); },
                        "rill::pipe::fan_out"));
        REQUIRE(rejects([&] { broadcast(iota(p, 0, 1), 0); }, "rill::pipe::broadcast"));
        REQUIRE(rejects([&] { fan_in(std::vector<rill::stream<int>>{}); }, "rill::pipe::fan_in"));
        REQUIRE(rejects([&] { rate_limit(iota(p, 0, 1), 0ms); }, "interval"));
        REQUIRE(rejects([&] { rate_limit(iota(p, 0, 1), 1ms, 0); }, "burst"));
        p.cancel();
    });
}
