// select and rill::selector against the Go spec, Go's test/chan programs
// (select*, doubleselect, nonblock) and runtime/chan_test.go, written anew.
#include "chan_queues.hpp"
#include "hchan.hpp" // runtime internals: wait queues, to see who is blocked
#include "test_util.hpp"

#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using rill::chan;
using rill::closed_channel_error;
using rill::on_default;
using rill::on_recv;
using rill::on_send;
using rill::on_timeout;

namespace {

// Divides workload sizes: TSan fibers and ASan goroutines are dear.
constexpr int scale = rill_test::by_build(1, 4, 20);
// Multiplies the repetitions of race-hunting loops where time allows.
constexpr int stress = rill_test::by_build(10, 1, 1);

using rill_test::blocked_receivers;
using rill_test::blocked_senders;

// Each of k equally likely outcomes of n trials must land within 8 standard
// deviations of n/k: a fair choice fails this about once in 10^15 runs.
void require_uniform(const std::vector<int>& counts, int n) {
    const double k = static_cast<double>(counts.size());
    const double mean = n / k;
    const double sd = std::sqrt(n * (1 / k) * (1 - 1 / k));
    for (int c : counts) {
        INFO("count " << c << " of " << n << ", expected about " << mean);
        REQUIRE(std::abs(c - mean) < 8 * sd);
    }
}

auto ignore_value = [](auto) {};
auto nothing = [] {};

// Whether a case of each direction may be made from a handle of type H.
struct sent_fn {
    void operator()() const {}
};
struct got_fn {
    void operator()(std::optional<int>) const {}
};
template <class H>
concept can_on_send_lvalue = requires(const H& h, int& v) {
    rill::on_send(h, v, sent_fn{});
};
template <class H>
concept can_on_send_rvalue = requires(const H& h) {
    rill::on_send(h, 1, sent_fn{});
};
template <class H>
concept can_on_recv = requires(const H& h) {
    rill::on_recv(h, got_fn{});
};
template <class H>
concept can_selector_send = requires(rill::selector& s, const H& h, int& v) {
    s.send(h, v, sent_fn{});
};
template <class H>
concept can_selector_recv = requires(rill::selector& s, const H& h) {
    s.recv(h, got_fn{});
};

} // namespace

TEST_CASE("a case's channel must allow its direction, checked at compile time") {
    // Go rejects a send on a receive-only channel and a receive on a
    // send-only one at compile time. The compile-fail tests (select_direction_*
    // in tests/CMakeLists.txt) show the errors; this checks in every build that
    // the overloads stay detectable as missing, as generic code would see them.
    using rill::receiver;
    using rill::sender;
    STATIC_REQUIRE(can_on_send_lvalue<chan<int>>);
    STATIC_REQUIRE(can_on_send_rvalue<chan<int>>);
    STATIC_REQUIRE(can_on_send_lvalue<sender<int>>);
    STATIC_REQUIRE(can_on_send_rvalue<sender<int>>);
    STATIC_REQUIRE_FALSE(can_on_send_lvalue<receiver<int>>);
    STATIC_REQUIRE_FALSE(can_on_send_rvalue<receiver<int>>);
    STATIC_REQUIRE(can_on_recv<chan<int>>);
    STATIC_REQUIRE(can_on_recv<receiver<int>>);
    STATIC_REQUIRE_FALSE(can_on_recv<sender<int>>);
    STATIC_REQUIRE(can_selector_send<chan<int>>);
    STATIC_REQUIRE(can_selector_send<sender<int>>);
    STATIC_REQUIRE_FALSE(can_selector_send<receiver<int>>);
    STATIC_REQUIRE(can_selector_recv<chan<int>>);
    STATIC_REQUIRE(can_selector_recv<receiver<int>>);
    STATIC_REQUIRE_FALSE(can_selector_recv<sender<int>>);
}

TEST_CASE("select returns the argument index of the case that ran") {
    rill::run([] {
        chan<int> a(1), b(1);
        b.send(5);
        int got = 0;
        int r = rill::select(on_timeout(1h, nothing), on_recv(a, ignore_value),
                             on_recv(b, [&](std::optional<int> v) { got = *v; }));
        REQUIRE(r == 2);
        REQUIRE(got == 5);
        r = rill::select(on_recv(a, ignore_value), on_default(nothing), on_send(b, 6, nothing));
        REQUIRE(r == 2);
        REQUIRE(*b.recv() == 6);
    });
}

TEST_CASE("default runs only when no case is ready") {
    rill::run([] {
        chan<int> a(0), b(1);
        bool ran_default = false;
        int r = rill::select(on_recv(a, ignore_value), on_send(a, 1, nothing),
                             on_recv(b, ignore_value), on_default([&] { ran_default = true; }));
        REQUIRE(r == 3);
        REQUIRE(ran_default);
        b.send(1);
        r = rill::select(on_recv(a, ignore_value), on_recv(b, ignore_value), on_default(nothing));
        REQUIRE(r == 1);
    });
}

TEST_CASE("timeout fires when nothing is ready, never when a case is") {
    rill::run([] {
        chan<int> a(0);
        int r = rill::select(on_recv(a, ignore_value), on_timeout(1ms, nothing));
        REQUIRE(r == 1);
        REQUIRE(blocked_receivers(a) == 0); // the timed-out waiter was withdrawn
        chan<int> b(1);
        b.send(1);
        r = rill::select(on_timeout(0ms, nothing), on_recv(b, ignore_value));
        REQUIRE(r == 1);
        // The earliest of several timeouts wins.
        r = rill::select(on_timeout(1h, nothing), on_recv(a, ignore_value),
                         on_timeout(1ms, nothing));
        REQUIRE(r == 2);
    });
}

TEST_CASE("select without channel cases") {
    rill::run([] {
        REQUIRE(rill::select(on_timeout(1ms, nothing)) == 0);
        REQUIRE(rill::select(on_default(nothing)) == 0);
        REQUIRE(rill::select(on_timeout(-5ms, nothing)) == 0);
        bool ran = false;
        REQUIRE(rill::selector().otherwise([&] { ran = true; }).wait() == 0);
        REQUIRE(ran);
    });
}

namespace {
// Overwrites the caller's old stack frames, so that a read of a returned
// select's frame sees other data (and, under TSan, races with this write).
__attribute__((noinline)) void scribble_stack() {
    volatile char junk[512];
    for (auto& c : junk)
        c = 0x5a;
}
} // namespace

TEST_CASE("a select whose only case is a deadline leaves its frame alone once it times out") {
    // The deadline can end the wait on another thread before the thread the
    // select parked on has finished parking it; that thread then must not
    // read the returned select's frame (TSan saw the race in about 1 run in
    // 4 under load). Nil channels leave only the deadline too.
    rill::run([] {
        rill::wait_group wg;
        const int goroutines = 8, rounds = 2000 / scale;
        wg.add(goroutines);
        std::atomic<int> timed_out{0};
        for (int i = 0; i < goroutines; ++i)
            rill::go([&, i] {
                chan<int> nil;
                for (int r = 0; r < rounds; ++r) {
                    int k =
                        i % 2 ? rill::select(on_timeout(1us, nothing))
                              : rill::select(on_recv(nil, ignore_value), on_timeout(1us, nothing));
                    if (k == (i % 2 ? 0 : 1)) timed_out.fetch_add(1);
                    scribble_stack();
                }
                wg.done();
            });
        wg.wait();
        CHECK(timed_out.load() == goroutines * rounds);
    });
}

TEST_CASE("nil channels disable their cases") {
    // Go's test/chan/select3.go: a nil channel never becomes ready.
    rill::run([] {
        chan<int> nil, ready(1);
        for (int i = 0; i < 50; ++i) {
            ready.send(i);
            int r = rill::select(on_recv(nil, ignore_value), on_send(nil, 1, nothing),
                                 on_recv(ready, ignore_value), on_recv(nil, ignore_value));
            REQUIRE(r == 2);
        }
        REQUIRE(rill::select(on_recv(nil, ignore_value), on_send(nil, 1, nothing),
                             on_timeout(1ms, nothing)) == 2);
        REQUIRE(rill::select(on_send(nil, 1, nothing), on_default(nothing)) == 1);
    });
}

TEST_CASE("ready receive cases are chosen uniformly at random") {
    // runtime/chan_test.go TestSelectFairness.
    rill::run([] {
        const int trials = 20000 / scale;
        std::array<chan<int>, 4> cs{chan<int>(trials), chan<int>(trials), chan<int>(trials),
                                    chan<int>(trials)};
        for (auto& c : cs)
            for (int i = 0; i < trials; ++i)
                c.send(i);
        std::vector<int> counts(4);
        for (int i = 0; i < trials; ++i)
            ++counts[rill::select(on_recv(cs[0], ignore_value), on_recv(cs[1], ignore_value),
                                  on_recv(cs[2], ignore_value), on_recv(cs[3], ignore_value))];
        require_uniform(counts, trials);
    });
}

TEST_CASE("ready send cases, also to one channel, are chosen uniformly at random") {
    // runtime/chan_test.go TestPseudoRandomSend, with an unbuffered channel
    // drained by a goroutine and a buffered one drained afterwards.
    rill::run([] {
        const int n = 4000 / scale;
        for (std::size_t cap : {std::size_t{0}, static_cast<std::size_t>(n)}) {
            chan<int> c(cap);
            chan<std::vector<int>> result(1);
            rill::go([c, result]() mutable {
                std::vector<int> counts(3);
                for (int i = 0; i < n; ++i) {
                    rill::gosched();
                    ++counts[*c.recv()];
                }
                result.send(counts);
            });
            for (int i = 0; i < n; ++i)
                rill::select(on_send(c, 0, nothing), on_send(c, 1, nothing),
                             on_send(c, 2, nothing));
            require_uniform(result.recv().value(), n);
        }
    });
}

TEST_CASE("a channel named in several cases is polled as often as the cases") {
    rill::run([] {
        const int n = 6000 / scale;
        chan<int> c(n), other(n);
        for (int i = 0; i < n; ++i)
            c.send(i), other.send(i);
        std::vector<int> counts(3);
        for (int i = 0; i < n; ++i)
            ++counts[rill::select(on_recv(c, ignore_value), on_recv(other, ignore_value),
                                  on_recv(c, ignore_value))];
        require_uniform(counts, n);
    });
}

TEST_CASE("a send case that loses keeps its value") {
    rill::run([] {
        chan<std::unique_ptr<int>> full(1), ready(1), unbuffered(0);
        full.send(std::make_unique<int>(0));
        ready.send(std::make_unique<int>(1));
        auto p = std::make_unique<int>(42);
        auto q = std::make_unique<int>(43);
        // Not ready: the receive wins without a wait.
        int r = rill::select(on_send(full, p, nothing), on_send(unbuffered, q, nothing),
                             on_recv(ready, ignore_value));
        REQUIRE(r == 2);
        REQUIRE(*p == 42);
        REQUIRE(*q == 43);
        // Lost to the timeout after waiting.
        r = rill::select(on_send(unbuffered, p, nothing), on_timeout(1ms, nothing));
        REQUIRE(r == 1);
        REQUIRE(*p == 42);
        // Lost to another case that became ready during the wait.
        rill::go([ready]() mutable { ready.send(std::make_unique<int>(2)); });
        r = rill::select(on_send(unbuffered, p, nothing), on_recv(ready, ignore_value));
        REQUIRE(r == 1);
        REQUIRE(*p == 42);
        REQUIRE(blocked_senders(unbuffered) == 0);
        // Won: the value moves out.
        rill::go([unbuffered, ready]() mutable { ready.send(unbuffered.recv().value()); });
        r = rill::select(on_send(unbuffered, p, nothing), on_send(full, q, nothing));
        REQUIRE(r == 0);
        REQUIRE(p == nullptr);
        REQUIRE(*q == 43);
        REQUIRE(**ready.recv() == 42);
    });
}

TEST_CASE("a blocked select takes the first channel to become ready and withdraws elsewhere") {
    rill::run([] {
        constexpr int n = 8;
        std::vector<chan<int>> cs;
        for (int i = 0; i < n; ++i)
            cs.emplace_back(i % 2);
        for (int k = 0; k < n; ++k) {
            chan<int> result(1);
            rill::go([cs, result]() mutable {
                rill::selector s;
                int got = -1;
                for (auto& c : cs)
                    s.recv(c, [&](std::optional<int> v) { got = *v; });
                int idx = s.wait();
                result.send(idx * 1000 + got);
            });
            REQUIRE(rill_test::eventually([&] { return blocked_receivers(cs[n - 1]) == 1; }));
            cs[k].send(k + 100);
            REQUIRE(*result.recv() == k * 1000 + k + 100);
            for (auto& c : cs)
                REQUIRE(blocked_receivers(c) == 0);
        }
    });
}

TEST_CASE("a channel in several cases of a waiting select keeps a consistent queue") {
    // runtime/chan_test.go TestSelectDuplicateChannel and test/chan/select6.go:
    // withdrawing the losing waiters must not corrupt the queue for the
    // goroutines queued behind them.
    rill::run([] {
        chan<int> c(0), d(0), e(0);
        rill::go([c, d, e]() mutable {
            rill::select(on_recv(c, ignore_value), on_recv(c, ignore_value),
                         on_recv(d, ignore_value));
            e.send(9);
        });
        REQUIRE(rill_test::eventually(
            [&] { return blocked_receivers(c) == 2 && blocked_receivers(d) == 1; }));
        chan<int> b_got(1);
        rill::go([c, b_got]() mutable { b_got.send(*c.recv()); });
        REQUIRE(rill_test::eventually([&] { return blocked_receivers(c) == 3; }));
        d.send(7);
        REQUIRE(*e.recv() == 9);
        REQUIRE(blocked_receivers(c) == 1);
        c.send(8);
        REQUIRE(*b_got.recv() == 8);

        // select6: the select is last in c1's queue behind a plain receiver.
        chan<bool> c1(0), c2(0), c3(0);
        rill::go([c1]() mutable { c1.recv(); });
        REQUIRE(rill_test::eventually([&] { return blocked_receivers(c1) == 1; }));
        std::atomic<bool> wrong{false};
        rill::go([c1, c2, c3, &wrong]() mutable {
            rill::select(on_recv(c1, [&](auto) { wrong = true; }),
                         on_recv(c2, [&](auto) { c3.send(true); }));
            c1.recv();
        });
        REQUIRE(rill_test::eventually([&] { return blocked_receivers(c1) == 2; }));
        rill::go([c2]() mutable { c2.send(true); });
        c3.recv();
        c1.send(true);
        c1.send(true);
        REQUIRE_FALSE(wrong);
    });
}

TEST_CASE("send and receive on one channel in one select never meet themselves") {
    // runtime/chan_test.go TestSelfSelect.
    rill::run([] {
        for (std::size_t cap : {0u, 10u}) {
            chan<int> c(cap);
            std::atomic<int> self_receives{0};
            chan<int> done(2);
            for (int p = 0; p < 2; ++p)
                rill::go([c, done, p, cap, &self_receives]() mutable {
                    auto check = [&](std::optional<int> v) {
                        if (cap == 0 && *v == p) ++self_receives;
                    };
                    for (int i = 0; i < 1000; ++i) {
                        if (p == 0 || i % 2 == 0)
                            rill::select(on_send(c, p, nothing), on_recv(c, check));
                        else
                            rill::select(on_recv(c, check), on_send(c, p, nothing));
                    }
                    done.send(0);
                });
            done.recv();
            done.recv();
            REQUIRE(self_receives == 0);
        }
    });
}

TEST_CASE("closed channels in select") {
    rill::run([] {
        chan<int> closed(2), never(0);
        closed.send(1);
        closed.close();
        std::optional<int> got;
        // The buffered value first, then "closed" for ever.
        REQUIRE(rill::select(on_recv(never, ignore_value),
                             on_recv(closed, [&](std::optional<int> v) { got = v; })) == 1);
        REQUIRE(got == 1);
        for (int i = 0; i < 3; ++i) {
            got = 5;
            REQUIRE(rill::select(on_recv(closed, [&](std::optional<int> v) { got = v; }),
                                 on_default(nothing)) == 0);
            REQUIRE_FALSE(got.has_value());
        }
        REQUIRE_THROWS_WITH(rill::select(on_send(closed, 1, nothing), on_recv(never, ignore_value)),
                            "send on closed channel");
        REQUIRE_THROWS_AS(rill::select(on_send(closed, 1, nothing), on_default(nothing)),
                          closed_channel_error);

        // A waiting select woken by close.
        for (bool send_case : {false, true}) {
            chan<int> c(0);
            chan<int> outcome(1);
            rill::go([c, never, outcome, send_case]() mutable {
                try {
                    if (send_case)
                        rill::select(on_recv(never, ignore_value), on_send(c, 1, nothing));
                    else
                        rill::select(
                            on_recv(never, ignore_value),
                            on_recv(c, [&](std::optional<int> v) { outcome.send(v ? 1 : 0); }));
                } catch (const closed_channel_error&) {
                    outcome.send(2);
                }
            });
            REQUIRE(rill_test::eventually([&] { return blocked_receivers(never) == 1; }));
            c.close();
            REQUIRE(*outcome.recv() == (send_case ? 2 : 0));
            REQUIRE(blocked_receivers(never) == 0);
        }

        // Several waiting selects woken by one close leave both queues empty.
        chan<int> c(0);
        constexpr int n = 5;
        chan<int> done(n);
        for (int i = 0; i < n; ++i)
            rill::go([c, never, done]() mutable {
                rill::select(on_recv(c, ignore_value), on_recv(never, ignore_value));
                done.send(0);
            });
        REQUIRE(rill_test::eventually([&] { return blocked_receivers(c) == n; }));
        c.close();
        for (int i = 0; i < n; ++i)
            done.recv();
        REQUIRE(blocked_receivers(c) == 0);
        REQUIRE(blocked_receivers(never) == 0);
    });
}

TEST_CASE("non-blocking select sees one of two ready channels at any moment") {
    // runtime/chan_test.go TestNonblockSelectRace and TestNonblockSelectRace2.
    rill::run([] {
        const int n = 4000 * stress / scale;
        for (bool close_second : {false, true}) {
            int none_ready = 0;
            for (int i = 0; i < n; ++i) {
                chan<int> c1(1), c2(1), done(1);
                c1.send(1);
                rill::go([c1, c2, done]() mutable {
                    done.send(rill::select(on_recv(c1, ignore_value), on_recv(c2, ignore_value),
                                           on_default(nothing)));
                });
                if (close_second)
                    c2.close();
                else
                    c2.send(1);
                rill::select(on_recv(c1, ignore_value), on_default(nothing));
                if (*done.recv() == 2) ++none_ready;
            }
            REQUIRE(none_ready == 0);
        }
    });
}

TEST_CASE("every pairing of send and receive forms meets") {
    // Go's test/chan/select7.go: plain operations, one-case selects and
    // selects with a never-ready second case, on both sides.
    rill::run([] {
        chan<int> never(0);
        auto recv_modes =
            std::array{+[](chan<int>& c, chan<int>&) { return *c.recv(); },
                       +[](chan<int>& c, chan<int>&) {
                           int v = 0;
                           rill::select(on_recv(c, [&](std::optional<int> x) { v = *x; }));
                           return v;
                       },
                       +[](chan<int>& c, chan<int>& nv) {
                           int v = 0;
                           rill::select(on_recv(nv, ignore_value),
                                        on_recv(c, [&](std::optional<int> x) { v = *x; }));
                           return v;
                       }};
        auto send_modes = std::array{
            +[](chan<int>& c, chan<int>&, int v) { c.send(v); },
            +[](chan<int>& c, chan<int>&, int v) { rill::select(on_send(c, v, nothing)); },
            +[](chan<int>& c, chan<int>& nv, int v) {
                rill::select(on_send(c, v, nothing), on_recv(nv, ignore_value));
            }};
        const int rounds = 200 * stress / scale;
        for (auto recv : recv_modes)
            for (auto send : send_modes)
                for (int i = 0; i < rounds; ++i) {
                    chan<int> c(0);
                    rill::go([c, never, send, i]() mutable { send(c, never, i); });
                    REQUIRE(recv(c, never) == i);
                }
        // The last sender's select is woken by the receive it lost to, and
        // withdraws its case on `never` only when it runs again.
        REQUIRE(rill_test::eventually([&] { return blocked_receivers(never) == 0; }));
    });
}

TEST_CASE("selector over a run-time number of cases") {
    rill::run([] {
        constexpr int n = 24; // beyond the inline scratch of select_go
        std::vector<chan<int>> cs;
        for (int i = 0; i < n; ++i)
            cs.emplace_back(i % 3 == 0 ? 0 : 4);
        cs[5] = chan<int>(); // a nil case stays disabled
        rill::selector s;
        std::int64_t sum = 0;
        for (int i = 0; i < n; ++i)
            s.recv(cs[i], [&sum](std::optional<int> v) { sum += v.value(); });
        int timeouts = 0;
        s.timeout(1h, [&] { ++timeouts; });
        for (int i = 0; i < n; ++i) {
            if (i == 5) continue;
            rill::go([c = cs[i], i]() mutable {
                for (int k = 0; k < 10; ++k)
                    c.send(i * 10 + k);
            });
        }
        cs.clear(); // the selector's cases keep the channels alive
        for (int k = 0; k < (n - 1) * 10; ++k) {
            int r = s.wait();
            REQUIRE(r >= 0);
            REQUIRE(r < n);
            REQUIRE(r != 5);
        }
        std::int64_t want = 0;
        for (int i = 0; i < n * 10; ++i)
            if (i / 10 != 5) want += i;
        REQUIRE(sum == want);
        REQUIRE(timeouts == 0);

        int value = 7;
        chan<int> out(0);
        bool timed_out = false;
        rill::selector t;
        t.send(out, value, nothing).timeout(1ms, [&] { timed_out = true; });
        REQUIRE(t.wait() == 1);
        REQUIRE(timed_out);
        bool defaulted = false;
        t.otherwise([&] { defaulted = true; });
        REQUIRE(t.wait() == 2);
        REQUIRE(defaulted);

        chan<int> closed(0);
        closed.close();
        std::optional<int> got = 1;
        rill::selector z;
        z.recv(closed, [&](std::optional<int> v) { got = v; });
        REQUIRE(z.wait() == 0);
        REQUIRE_FALSE(got.has_value());
    });
}

TEST_CASE("doubleselect: selecting senders and receivers hand over every value once") {
    // Go's test/chan/doubleselect.go, with many senders and muxes that
    // select over two channels each.
    rill::run([] {
        constexpr int senders = 8;
        const int per = 4000 * stress / scale;
        const int total = senders * per;
        std::array<chan<int>, 4> cs{chan<int>(0), chan<int>(0), chan<int>(1), chan<int>(0)};
        chan<int> cmux(0), senders_done(senders), muxes_done(4);
        for (int s = 0; s < senders; ++s)
            rill::go([cs, s, senders_done]() mutable {
                for (int v = s * per; v < (s + 1) * per; ++v)
                    rill::select(on_send(cs[0], v, nothing), on_send(cs[1], v, nothing),
                                 on_send(cs[2], v, nothing), on_send(cs[3], v, nothing));
                senders_done.send(0);
            });
        for (int m = 0; m < 4; ++m)
            rill::go([a = cs[m], b = cs[(m + 1) % 4], cmux, muxes_done]() mutable {
                auto forward = [&](chan<int>& from) {
                    return [&](std::optional<int> v) {
                        if (v)
                            cmux.send(*v);
                        else
                            from = chan<int>();
                    };
                };
                while (!a.is_nil() || !b.is_nil())
                    rill::select(on_recv(a, forward(a)), on_recv(b, forward(b)));
                muxes_done.send(0);
            });
        rill::go([cs, cmux, senders_done, muxes_done]() mutable {
            for (int s = 0; s < senders; ++s)
                senders_done.recv();
            for (auto& c : cs)
                c.close();
            for (int m = 0; m < 4; ++m)
                muxes_done.recv();
            cmux.close();
        });
        std::vector<int> seen(total);
        int count = 0, duplicates = 0;
        for (int v : cmux) {
            ++count;
            if (seen[v]++) ++duplicates;
        }
        REQUIRE(duplicates == 0);
        REQUIRE(count == total);
    });
}

TEST_CASE("timeouts racing with senders and receivers lose no value") {
    rill::run([] {
        constexpr int senders = 4, receivers = 4;
        const int per = 2000 * stress / scale;
        chan<std::unique_ptr<int>> c(0);
        std::atomic<std::int64_t> sum{0};
        std::atomic<int> count{0}, lost{0}, timeouts{0};
        chan<int> senders_done(senders), receivers_done(receivers);
        for (int s = 0; s < senders; ++s)
            rill::go([=, &lost, &timeouts]() mutable {
                for (int v = s * per; v < (s + 1) * per; ++v) {
                    auto p = std::make_unique<int>(v);
                    for (bool sent = false; !sent;) {
                        rill::select(on_send(c, p, [&] { sent = true; }),
                                     on_timeout(std::chrono::microseconds(20 + v % 50), [&] {
                                         ++timeouts;
                                         if (!p) ++lost;
                                     }));
                        if (!sent && !p) break;
                    }
                }
                senders_done.send(0);
            });
        for (int r = 0; r < receivers; ++r)
            rill::go([=, &sum, &count]() mutable {
                for (bool open = true; open;) {
                    rill::select(on_recv(c,
                                         [&](std::optional<std::unique_ptr<int>> v) {
                                             if (!v)
                                                 open = false;
                                             else
                                                 sum += **v, ++count;
                                         }),
                                 on_timeout(std::chrono::microseconds(20 + r * 10), nothing));
                }
                receivers_done.send(0);
            });
        for (int s = 0; s < senders; ++s)
            senders_done.recv();
        c.close();
        for (int r = 0; r < receivers; ++r)
            receivers_done.recv();
        const std::int64_t total = std::int64_t{senders} * per;
        REQUIRE(lost == 0);
        REQUIRE(count == total);
        REQUIRE(sum == total * (total - 1) / 2);
        INFO("timeouts " << timeouts.load());
        REQUIRE(blocked_receivers(c) + blocked_senders(c) == 0);
    });
}

TEST_CASE("select stress: goroutines select over send and receive cases with exact totals") {
    // runtime/chan_test.go TestSelectStress: channels are set to nil once a
    // goroutine is done with them.
    rill::run([] {
        const int per = 3000 * stress / scale;
        std::array<chan<int>, 4> cs{chan<int>(0), chan<int>(0), chan<int>(2), chan<int>(3)};
        std::atomic<std::int64_t> received{0};
        chan<int> done(4);
        // Two senders each send `per` values to every channel, in any order;
        // two receivers each take `per` values from every channel.
        for (int s = 0; s < 2; ++s)
            rill::go([cs, done]() mutable {
                std::array<int, 4> left{per, per, per, per};
                std::array<chan<int>, 4> mine = cs;
                int open = 4;
                while (open > 0) {
                    auto sent = [&](int i) {
                        return [&, i] {
                            if (--left[i] == 0) mine[i] = chan<int>(), --open;
                        };
                    };
                    rill::select(on_send(mine[0], 1, sent(0)), on_send(mine[1], 1, sent(1)),
                                 on_send(mine[2], 1, sent(2)), on_send(mine[3], 1, sent(3)));
                }
                done.send(0);
            });
        for (int r = 0; r < 2; ++r)
            rill::go([cs, done, &received]() mutable {
                std::array<int, 4> left{per, per, per, per};
                std::array<chan<int>, 4> mine = cs;
                int open = 4;
                while (open > 0) {
                    auto got = [&](int i) {
                        return [&, i](std::optional<int> v) {
                            received += *v;
                            if (--left[i] == 0) mine[i] = chan<int>(), --open;
                        };
                    };
                    rill::select(on_recv(mine[0], got(0)), on_recv(mine[1], got(1)),
                                 on_recv(mine[2], got(2)), on_recv(mine[3], got(3)));
                }
                done.send(0);
            });
        for (int i = 0; i < 4; ++i)
            done.recv();
        REQUIRE(received == 2 * 4 * per);
        for (auto& c : cs)
            REQUIRE(c.len() == 0);
    });
}

TEST_CASE("plain threads select with goroutines and with each other") {
    rill::run([] {
        chan<int> a(0), b(0), results(4);
        std::thread t([&] {
            int sum = 0;
            for (int i = 0; i < 200; ++i)
                rill::select(on_recv(a, [&](std::optional<int> v) { sum += *v; }),
                             on_recv(b, [&](std::optional<int> v) { sum += 2 * *v; }));
            results.send(sum);
            int r = rill::select(on_recv(a, ignore_value), on_timeout(1ms, nothing));
            results.send(r);
        });
        rill::go([a]() mutable {
            for (int i = 0; i < 100; ++i)
                a.send(1);
        });
        for (int i = 0; i < 100; ++i)
            rill::select(on_send(b, 1, nothing), on_timeout(1h, nothing));
        REQUIRE(*results.recv() == 300);
        REQUIRE(*results.recv() == 1);
        t.join();
    });
    // No runtime involvement beyond the channels: two threads.
    chan<int> c(0);
    std::thread producer([&] {
        for (int i = 0; i < 500; ++i)
            rill::select(on_send(c, i, nothing));
        c.close();
    });
    std::int64_t sum = 0;
    for (bool open = true; open;)
        rill::select(on_recv(c, [&](std::optional<int> v) {
            if (v)
                sum += *v;
            else
                open = false;
        }));
    producer.join();
    REQUIRE(sum == 500 * 499 / 2);
}

// ---- Memory ordering (select.hpp's "Memory ordering"; docs/runtime.md "Memory model") ---
//
// The chosen case must give its operation's guarantee whichever way select
// got there: at once (default, or the first pass) or after waiting. As in
// chan_test, a plain payload is written on one thread before an operation
// and read on another after the one that must come after it, so that TSan
// reports a missing happens-before edge as a data race.

namespace {

enum class select_mode { waits, polls, selector, last };

// Receives one value (or nullopt, when c is closed) from c with a select or
// a selector, beside a case that is never ready.
std::optional<int> select_recv(select_mode m, chan<int>& c, chan<int>& never) {
    std::optional<int> got;
    auto take = [&](std::optional<int> v) { got = v; };
    switch (m) {
    case select_mode::waits:
        rill::select(on_recv(never, ignore_value), on_recv(c, take));
        break;
    case select_mode::polls:
        while (rill::select(on_recv(never, ignore_value), on_recv(c, take), on_default(nothing)) ==
               2)
            std::this_thread::yield();
        break;
    default: {
        rill::selector s;
        s.recv(never, ignore_value).recv(c, take);
        s.wait();
    }
    }
    return got;
}

// Sends v on c in the same ways.
void select_send(select_mode m, chan<int>& c, chan<int>& never, int v) {
    switch (m) {
    case select_mode::waits:
        rill::select(on_recv(never, ignore_value), on_send(c, v, nothing));
        break;
    case select_mode::polls:
        while (rill::select(on_recv(never, ignore_value), on_send(c, v, nothing),
                            on_default(nothing)) == 2)
            std::this_thread::yield();
        break;
    default: {
        rill::selector s;
        s.recv(never, ignore_value).send(c, v, nothing);
        s.wait();
    }
    }
}

} // namespace

TEST_CASE("memory ordering: a chosen receive case comes after the send of its value") {
    constexpr int n = 100;
    for (std::size_t cap : {0u, 4u}) {
        for (int m = 0; m != static_cast<int>(select_mode::last); ++m) {
            chan<int> c(cap), never(0);
            int wrong = rill_test::payloads_wrong_after_send(
                n, [&](int i) { c.send(i); },
                [&] { return *select_recv(static_cast<select_mode>(m), c, never); });
            INFO("capacity " << cap << ", mode " << m);
            REQUIRE(wrong == 0);
        }
    }
}

TEST_CASE("memory ordering: a chosen send case is a send, and the (k+C)-th comes after receive k") {
    // Both directions at once: the sender writes before each send, which the
    // receiver reads; the receiver writes before each receive, which the
    // sender reads once the send C later has completed.
    constexpr int n = 100;
    for (std::size_t cap : {0u, 2u}) {
        const int ci = static_cast<int>(cap);
        for (int m = 0; m != static_cast<int>(select_mode::last); ++m) {
            chan<int> c(cap), never(0);
            std::vector<int> before_send(n + ci), before_recv(n + ci);
            int wrong_at_recv = 0, wrong_at_send = 0;
            rill_test::on_two_threads(
                [&] {
                    for (int s = 0; s < n + ci; ++s) {
                        before_send[s] = s + 1;
                        select_send(static_cast<select_mode>(m), c, never, s);
                        if (int k = s - ci; k >= 0 && before_recv[k] != k + 1) ++wrong_at_send;
                    }
                },
                [&] {
                    for (int k = 0; k < n + ci; ++k) {
                        before_recv[k] = k + 1;
                        int s = *c.recv();
                        if (before_send[s] != s + 1) ++wrong_at_recv;
                    }
                });
            INFO("capacity " << cap << ", mode " << m);
            REQUIRE(wrong_at_recv == 0);
            REQUIRE(wrong_at_send == 0);
        }
    }
}

TEST_CASE("memory ordering: a receive case given nullopt comes after the close") {
    for (int m = 0; m != static_cast<int>(select_mode::last); ++m) {
        for (int round = 0; round < 10; ++round) {
            chan<int> c(static_cast<std::size_t>(round % 2)), never(0);
            int payload = 0, seen = 0;
            bool closed_seen = false;
            rill_test::on_two_threads(
                [&] {
                    payload = 42;
                    c.close();
                },
                [&] {
                    closed_seen = !select_recv(static_cast<select_mode>(m), c, never);
                    if (closed_seen) seen = payload;
                });
            INFO("mode " << m << ", round " << round);
            REQUIRE(closed_seen);
            REQUIRE(seen == 42);
        }
    }
}
