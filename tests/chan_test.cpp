// Channel semantics against the Go spec, Go's test/chan programs (fifo,
// nonblock, sieve, perm, zerosize, goroutines) and runtime/chan_test.go,
// written anew for chan<T>, sender<T> and receiver<T>.
#include "chan_queues.hpp"
#include "hchan.hpp" // runtime internals: wait queues, to see who is blocked
#include "test_util.hpp"

#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using rill::chan;
using rill::closed_channel_error;

namespace {

// Divides workload sizes: TSan fibers and ASan goroutines are dear.
constexpr int scale = rill_test::by_build(1, 4, 20);
// Multiplies the repetitions of race-hunting loops where time allows.
constexpr int stress = rill_test::by_build(10, 1, 1);

using rill_test::blocked_receivers;
using rill_test::blocked_senders;

// Counts live instances, to check that buffered values are destroyed once.
struct tracked {
    static inline std::atomic<int> live{0};
    int v;
    explicit tracked(int x) : v(x) { ++live; }
    tracked(tracked&& o) noexcept : v(o.v) { ++live; }
    ~tracked() { --live; }
};

// Directional views expose only their direction: Go's test/chan/perm.go,
// checked at compile time.
template <class H>
concept can_send = requires(H h, int v) {
    h.send(1), h.try_send(v);
};
template <class H>
concept can_close = requires(H h) {
    h.close();
};
template <class H>
concept can_recv = requires(H h) {
    h.recv(), h.try_recv(), h.begin();
};
static_assert(can_send<chan<int>> && can_close<chan<int>> && can_recv<chan<int>>);
static_assert(can_send<rill::sender<int>> && can_close<rill::sender<int>>);
static_assert(!can_recv<rill::sender<int>>);
static_assert(can_recv<rill::receiver<int>>);
static_assert(!can_send<rill::receiver<int>> && !can_close<rill::receiver<int>>);
static_assert(std::is_convertible_v<chan<int>, rill::sender<int>>);
static_assert(std::is_convertible_v<chan<int>, rill::receiver<int>>);
static_assert(!std::is_convertible_v<rill::sender<int>, rill::receiver<int>>);
static_assert(!std::is_convertible_v<rill::receiver<int>, rill::sender<int>>);

} // namespace

TEST_CASE("len and cap follow the buffer; nil channel has zero of both") {
    rill::run([] {
        chan<int> nil;
        REQUIRE(nil.is_nil());
        REQUIRE(nil.len() == 0);
        REQUIRE(nil.cap() == 0);
        REQUIRE_FALSE(nil.closed());
        chan<int> u(0);
        REQUIRE(u.cap() == 0);
        chan<int> b(3);
        REQUIRE(b.cap() == 3);
        REQUIRE(b.len() == 0);
        b.send(1);
        b.send(2);
        REQUIRE(b.len() == 2);
        b.recv();
        REQUIRE(b.len() == 1);
        b.close();
        REQUIRE(b.len() == 1);
        REQUIRE(b.cap() == 3);
    });
}

TEST_CASE("capacity whose buffer cannot be allocated is rejected") {
    struct big {
        char bytes[1 << 20];
    };
    REQUIRE_THROWS_AS(chan<big>(SIZE_MAX / 2), std::length_error);
}

TEST_CASE("buffered channel is FIFO, including across wrap-around") {
    rill::run([] {
        chan<int> c(5);
        int next_in = 0, next_out = 0;
        for (int round = 0; round < 7; ++round) {
            for (int i = 0; i < 3; ++i)
                c.send(next_in++);
            for (int i = 0; i < 3; ++i)
                REQUIRE(*c.recv() == next_out++);
        }
        for (int i = 0; i < 5; ++i)
            c.send(next_in++);
        REQUIRE(c.len() == 5);
        for (int i = 0; i < 5; ++i)
            REQUIRE(*c.recv() == next_out++);
    });
}

TEST_CASE("asynchronous FIFO: one producer goroutine, values arrive in order") {
    rill::run([] {
        for (std::size_t cap : {1u, 3u, 64u}) {
            constexpr int n = 2000;
            chan<int> c(cap);
            rill::go([tx = c.tx()]() mutable {
                for (int i = 0; i < n; ++i)
                    tx.send(i);
            });
            for (int i = 0; i < n; ++i)
                REQUIRE(*c.recv() == i);
        }
    });
}

TEST_CASE("synchronous FIFO: a daisy chain of receivers takes values in order") {
    // Go's test/chan/fifo.go SynchFifo: goroutine i waits for its turn, then
    // must receive exactly i from the shared unbuffered channel.
    rill::run([] {
        constexpr int n = 300 / scale + 10;
        chan<int> ch(0);
        chan<int> start(0);
        chan<int> in = start;
        std::atomic<int> wrong{0};
        for (int i = 0; i < n; ++i) {
            chan<int> out(0);
            rill::go([ch, in, out, i, &wrong]() mutable {
                in.recv();
                if (*ch.recv() != i) ++wrong;
                out.send(1);
            });
            in = out;
        }
        start.send(0);
        for (int i = 0; i < n; ++i)
            ch.send(i);
        in.recv();
        REQUIRE(wrong == 0);
    });
}

TEST_CASE("unbuffered send waits for a receiver") {
    rill::run([] {
        chan<int> c(0);
        chan<int> done(1);
        std::atomic<bool> sent{false};
        rill::go([&] {
            c.send(7);
            sent = true;
            done.send(0);
        });
        REQUIRE(rill_test::eventually([&] { return blocked_senders(c) == 1; }));
        REQUIRE_FALSE(sent);
        REQUIRE(c.len() == 0);
        REQUIRE(*c.recv() == 7);
        done.recv();
        REQUIRE(sent);
    });
}

TEST_CASE("receive from an empty channel waits for a sender") {
    rill::run([] {
        for (std::size_t cap : {0u, 1u, 8u}) {
            chan<int> c(cap);
            chan<int> got(1);
            rill::go([c, got]() mutable { got.send(*c.recv()); });
            REQUIRE(rill_test::eventually([&] { return blocked_receivers(c) == 1; }));
            REQUIRE(got.len() == 0);
            c.send(42);
            REQUIRE(*got.recv() == 42);
            REQUIRE(c.len() == 0);
        }
    });
}

TEST_CASE("send to a full buffer waits; receive moves the waiting sender's value to the tail") {
    rill::run([] {
        chan<int> c(2);
        c.send(1);
        c.send(2);
        chan<int> done(1);
        rill::go([c, done]() mutable {
            c.send(3);
            done.send(0);
        });
        REQUIRE(rill_test::eventually([&] { return blocked_senders(c) == 1; }));
        REQUIRE(done.len() == 0);
        REQUIRE(*c.recv() == 1);
        REQUIRE(c.len() == 2); // the sender's value went straight into the buffer
        REQUIRE(blocked_senders(c) == 0);
        REQUIRE(*c.recv() == 2);
        REQUIRE(*c.recv() == 3);
        done.recv();
    });
}

TEST_CASE("blocked senders are served in arrival order") {
    rill::run([] {
        for (std::size_t cap : {0u, 2u}) {
            chan<int> c(cap);
            for (int i = 0; i < static_cast<int>(cap); ++i)
                c.send(-1);
            constexpr int n = 5;
            for (int i = 0; i < n; ++i) {
                rill::go([c, i]() mutable { c.send(i); });
                REQUIRE(rill_test::eventually(
                    [&] { return blocked_senders(c) == static_cast<std::size_t>(i + 1); }));
            }
            for (int i = 0; i < static_cast<int>(cap); ++i)
                REQUIRE(*c.recv() == -1);
            for (int i = 0; i < n; ++i)
                REQUIRE(*c.recv() == i);
        }
    });
}

TEST_CASE("receive drains the buffer after close, then reports closed") {
    rill::run([] {
        chan<int> c(3);
        c.send(1);
        c.send(2);
        c.send(3);
        c.close();
        REQUIRE(c.closed());
        REQUIRE(*c.recv() == 1);
        REQUIRE(*c.try_recv() == 2);
        REQUIRE(*c.recv() == 3);
        REQUIRE_FALSE(c.recv().has_value());
        REQUIRE_FALSE(c.recv().has_value());
        REQUIRE_FALSE(c.try_recv().has_value());
        REQUIRE(c.len() == 0);
    });
}

TEST_CASE("send on a closed channel throws and leaves the buffer alone") {
    rill::run([] {
        for (std::size_t cap : {0u, 2u}) {
            chan<int> c(cap);
            if (cap) c.send(5);
            c.close();
            REQUIRE_THROWS_AS(c.send(1), closed_channel_error);
            REQUIRE_THROWS_WITH(c.send(1), "send on closed channel");
            int v = 2;
            REQUIRE_THROWS_AS(c.try_send(v), closed_channel_error);
            REQUIRE(v == 2);
            REQUIRE(c.len() == (cap ? 1u : 0u));
        }
    });
}

TEST_CASE("close of a closed channel and close of nil throw") {
    rill::run([] {
        chan<int> c(1);
        c.close();
        REQUIRE_THROWS_WITH(c.close(), "close of closed channel");
        chan<int> nil;
        REQUIRE_THROWS_AS(nil.close(), closed_channel_error);
        REQUIRE_THROWS_WITH(nil.close(), "close of nil channel");
    });
}

TEST_CASE("close wakes every blocked receiver with no value") {
    rill::run([] {
        constexpr int n = 50;
        chan<int> c(0);
        chan<bool> results(n);
        for (int i = 0; i < n; ++i)
            rill::go([c, results]() mutable { results.send(c.recv().has_value()); });
        REQUIRE(rill_test::eventually([&] { return blocked_receivers(c) == n; }));
        c.close();
        for (int i = 0; i < n; ++i)
            REQUIRE_FALSE(*results.recv());
        REQUIRE(blocked_receivers(c) == 0);
    });
}

TEST_CASE("close makes every blocked sender throw") {
    rill::run([] {
        for (std::size_t cap : {0u, 1u}) {
            constexpr int n = 30;
            chan<int> c(cap);
            if (cap) c.send(-1);
            chan<std::string> results(n);
            for (int i = 0; i < n; ++i)
                rill::go([c, results, i]() mutable {
                    try {
                        c.send(i);
                        results.send("sent");
                    } catch (const closed_channel_error& e) {
                        results.send(e.what());
                    }
                });
            REQUIRE(rill_test::eventually([&] { return blocked_senders(c) == n; }));
            c.close();
            for (int i = 0; i < n; ++i)
                REQUIRE(*results.recv() == "send on closed channel");
            if (cap) REQUIRE(*c.recv() == -1);
            REQUIRE_FALSE(c.recv().has_value());
        }
    });
}

TEST_CASE("non-blocking operations on nil channels are never ready") {
    rill::run([] {
        chan<int> nil;
        REQUIRE_FALSE(nil.try_send(1));
        REQUIRE_FALSE(nil.try_recv().has_value());
        int r = rill::select(rill::on_recv(nil, [](std::optional<int>) {}),
                             rill::on_send(nil, 1, [] {}), rill::on_timeout(2ms, [] {}));
        REQUIRE(r == 2);
    });
}

TEST_CASE("non-blocking operations succeed exactly when a partner is ready") {
    // Go's test/chan/nonblock.go, with the partner's readiness observed
    // through the wait queues instead of retries.
    rill::run([] {
        chan<int> c(0);
        REQUIRE_FALSE(c.try_send(1));
        REQUIRE_FALSE(c.try_recv().has_value());

        chan<int> got(1);
        rill::go([c, got]() mutable { got.send(*c.recv()); });
        REQUIRE(rill_test::eventually([&] { return blocked_receivers(c) == 1; }));
        REQUIRE(c.try_send(11));
        REQUIRE(*got.recv() == 11);

        rill::go([c]() mutable { c.send(12); });
        REQUIRE(rill_test::eventually([&] { return blocked_senders(c) == 1; }));
        REQUIRE(*c.try_recv() == 12);

        chan<int> b(1);
        REQUIRE(b.try_send(1));
        REQUIRE_FALSE(b.try_send(2));
        REQUIRE(*b.try_recv() == 1);
        REQUIRE_FALSE(b.try_recv().has_value());
    });
}

TEST_CASE("non-blocking receive racing with close never reports not ready") {
    // runtime/chan_test.go TestNonblockRecvRace: the channel always holds a
    // value or is closed, so the try_recv must find something.
    rill::run([] {
        const int n = 4000 * stress / scale;
        std::atomic<int> not_ready{0};
        chan<int> done(n);
        for (int i = 0; i < n; ++i) {
            chan<int> c(1);
            c.send(1);
            rill::go([c, done, &not_ready]() mutable {
                bool selected = false;
                rill::select(rill::on_recv(c, [&](std::optional<int>) { selected = true; }),
                             rill::on_default([] {}));
                if (!selected) ++not_ready;
                done.send(0);
            });
            c.close();
            c.recv();
        }
        for (int i = 0; i < n; ++i)
            done.recv();
        REQUIRE(not_ready == 0);
    });
}

TEST_CASE("move-only values travel through buffered and unbuffered channels") {
    rill::run([] {
        chan<std::unique_ptr<int>> b(2);
        b.send(std::make_unique<int>(1));
        auto p = std::make_unique<int>(2);
        REQUIRE(b.try_send(p));
        REQUIRE(p == nullptr);
        auto q = std::make_unique<int>(3);
        REQUIRE_FALSE(b.try_send(q)); // full: q is left alone
        REQUIRE(*q == 3);
        REQUIRE(**b.recv() == 1);
        REQUIRE(**b.recv() == 2);

        chan<std::unique_ptr<int>> u(0);
        rill::go([u]() mutable {
            for (int i = 0; i < 10; ++i)
                u.send(std::make_unique<int>(i));
            u.close();
        });
        int expect = 0;
        for (auto& v : u)
            REQUIRE(*v == expect++);
        REQUIRE(expect == 10);
    });
}

TEST_CASE("values left in a channel are destroyed with it, exactly once") {
    rill::run([] {
        {
            chan<tracked> c(10);
            for (int i = 0; i < 12; ++i) {
                c.send(tracked(i));
                if (i % 3 == 2) REQUIRE(c.recv()->v == i / 3); // wrap the ring
            }
            REQUIRE(tracked::live == 8);
            auto r = c.rx(); // another handle keeps it alive
            c = chan<tracked>();
            REQUIRE(tracked::live == 8);
            REQUIRE(r.recv()->v == 4);
            REQUIRE(tracked::live == 7);
        }
        REQUIRE(tracked::live == 0);
    });
}

TEST_CASE("zero-size and over-aligned element types") {
    // Go's test/chan/zerosize.go, and the buffer's alignment.
    struct empty {};
    struct alignas(64) wide {
        std::uint64_t v;
    };
    rill::run([] {
        chan<empty> z(0), zb(1 << 16);
        for (int i = 0; i < 1000; ++i)
            zb.send(empty{});
        REQUIRE(zb.len() == 1000);
        rill::go([z]() mutable { z.send(empty{}); });
        REQUIRE(z.recv().has_value());

        chan<wide> w(5);
        REQUIRE(reinterpret_cast<std::uintptr_t>(w.core()->buf) % alignof(wide) == 0);
        for (std::uint64_t i = 0; i < 13; ++i) {
            w.send(wide{i});
            REQUIRE(w.recv()->v == i);
        }
    });
}

TEST_CASE("a channel starts on a cache line of its own, its buffer aligned for its elements") {
    struct alignas(256) wider {
        std::uint64_t v;
    };
    // The channel aligns itself inside a plain allocation (chan.cpp); ASan
    // checks that it stays inside it.
    auto check = [](auto c, std::size_t elem_align) {
        auto core = reinterpret_cast<std::uintptr_t>(c.core());
        auto buf = reinterpret_cast<std::uintptr_t>(c.core()->buf);
        CHECK(core % std::max<std::size_t>(64, elem_align) == 0);
        CHECK(buf % elem_align == 0);
    };
    rill::run([&] {
        for (std::size_t cap : {0, 1, 7, 1000}) {
            check(chan<char>(cap), 1);
            check(chan<std::string>(cap), alignof(std::string));
            check(chan<wider>(cap), alignof(wider));
            chan<wider> c(cap + 1);
            for (std::uint64_t i = 0; i <= cap; ++i)
                c.send(wider{i});
            for (std::uint64_t i = 0; i <= cap; ++i)
                REQUIRE(c.recv()->v == i);
        }
    });
}

TEST_CASE("range over a channel ends at close; sender and receiver views") {
    auto produce = [](rill::sender<int> tx, int n) {
        for (int i = 0; i < n; ++i)
            tx.send(i);
        tx.close();
    };
    auto consume = [](rill::receiver<int> rx) {
        std::vector<int> got;
        for (int v : rx)
            got.push_back(v);
        return got;
    };
    rill::run([&] {
        chan<int> c(4);
        rill::go([&produce, tx = c.tx()] { produce(tx, 100); });
        std::vector<int> got = consume(c); // implicit conversion to receiver
        std::vector<int> want(100);
        std::iota(want.begin(), want.end(), 0);
        REQUIRE(got == want);
        REQUIRE(c.rx().closed());

        rill::sender<int> s = c;
        rill::receiver<int> r = c;
        REQUIRE(s.core() == r.core());
        REQUIRE(s.cap() == 4);
        rill::receiver<int> nil;
        REQUIRE(nil.is_nil());
        chan<int> empty(0);
        empty.close();
        REQUIRE(consume(empty).empty());
    });
}

TEST_CASE("many senders and receivers: every value arrives exactly once") {
    rill::run([] {
        for (std::size_t cap : {0u, 1u, 64u}) {
            constexpr int senders = 8, receivers = 8;
            const int per = 20000 * stress / scale;
            chan<std::int64_t> c(cap);
            std::atomic<std::int64_t> sum{0}, count{0};
            chan<int> senders_done(senders);
            for (int s = 0; s < senders; ++s)
                rill::go([c, s, senders_done]() mutable {
                    for (int i = 0; i < per; ++i)
                        c.send(std::int64_t{s} * per + i);
                    senders_done.send(0);
                });
            chan<int> receivers_done(receivers);
            for (int r = 0; r < receivers; ++r)
                rill::go([c, &sum, &count, receivers_done]() mutable {
                    std::int64_t local = 0, k = 0;
                    for (auto v : c)
                        local += v, ++k;
                    sum += local;
                    count += k;
                    receivers_done.send(0);
                });
            for (int s = 0; s < senders; ++s)
                senders_done.recv();
            c.close();
            for (int r = 0; r < receivers; ++r)
                receivers_done.recv();
            const std::int64_t total = std::int64_t{senders} * per;
            REQUIRE(count == total);
            REQUIRE(sum == total * (total - 1) / 2);
        }
    });
}

TEST_CASE("prime sieve of chained filter goroutines") {
    // Go's test/chan/sieve1.go, ending with close so that every goroutine exits.
    constexpr int limit = 2000 / scale;
    std::vector<int> want;
    for (int n = 2; n < limit; ++n) {
        bool prime = true;
        for (int d = 2; d * d <= n && prime; ++d)
            prime = n % d != 0;
        if (prime) want.push_back(n);
    }
    auto got = rill::run([] {
        chan<int> src(0);
        rill::go([tx = src.tx()]() mutable {
            for (int i = 2; i < limit; ++i)
                tx.send(i);
            tx.close();
        });
        std::vector<int> primes;
        rill::receiver<int> in = src;
        while (auto p = in.recv()) {
            primes.push_back(*p);
            chan<int> out(0);
            rill::go([in, tx = out.tx(), prime = *p]() mutable {
                for (int v : in)
                    if (v % prime != 0) tx.send(v);
                tx.close();
            });
            in = out;
        }
        return primes;
    });
    REQUIRE(got == want);
}

TEST_CASE("a chain of 100k goroutines passes values along") {
    // Go's test/chan/goroutines.go and the whispers benchmark.
    constexpr int n = rill_test::by_build(100000, 25000, 300);
    rill::run([] {
        chan<int> head(0);
        rill::receiver<int> in = head;
        for (int i = 0; i < n; ++i) {
            chan<int> out(0);
            rill::go([in, tx = out.tx()]() mutable {
                for (int v : in)
                    tx.send(v + 1);
                tx.close();
            });
            in = out;
        }
        for (int k = 0; k < 3; ++k) {
            head.send(k * 10);
            REQUIRE(*in.recv() == k * 10 + n);
        }
        head.close();
        REQUIRE_FALSE(in.recv().has_value());
    });
}

TEST_CASE("plain threads send to and receive from goroutines") {
    rill::run([] {
        constexpr int n = 2000;
        for (std::size_t cap : {0u, 4u}) {
            chan<int> to_go(cap), from_go(cap);
            chan<std::int64_t> result(1);
            std::thread t([&] {
                std::int64_t sum = 0;
                for (int i = 0; i < n; ++i) {
                    to_go.send(i);
                    sum += *from_go.recv();
                }
                to_go.close();
                if (!from_go.recv()) result.send(sum);
            });
            rill::go([to_go, from_go]() mutable {
                for (int v : to_go)
                    from_go.send(v * 2);
                from_go.close();
            });
            // Park rather than join: a blocked join would hold this processor.
            REQUIRE(*result.recv() == std::int64_t{n} * (n - 1));
            t.join();
        }
    });
}

TEST_CASE("thread to thread with no goroutine involved") {
    constexpr int n = 5000;
    chan<int> c(0), back(3);
    std::thread producer([&] {
        for (int i = 0; i < n; ++i)
            c.send(i);
        c.close();
    });
    std::thread consumer([&] {
        std::int64_t sum = 0;
        for (int v : c)
            sum += v;
        back.send(static_cast<int>(sum % 1000003));
    });
    producer.join();
    consumer.join();
    REQUIRE(*back.recv() == static_cast<int>((std::int64_t{n} * (n - 1) / 2) % 1000003));
}

TEST_CASE("close racing with blocked senders and receivers loses nothing") {
    rill::run([] {
        const int rounds = 200 * stress / scale + 10;
        for (int round = 0; round < rounds; ++round) {
            chan<int> c(static_cast<std::size_t>(round % 3));
            std::atomic<int> sent{0}, refused{0}, received{0};
            constexpr int senders = 6, receivers = 3;
            chan<int> done(senders + receivers);
            for (int s = 0; s < senders; ++s)
                rill::go([c, done, &sent, &refused]() mutable {
                    for (int i = 0; i < 20; ++i) {
                        try {
                            c.send(i);
                            ++sent;
                        } catch (const closed_channel_error&) {
                            ++refused;
                        }
                    }
                    done.send(0);
                });
            for (int r = 0; r < receivers; ++r)
                rill::go([c, done, &received]() mutable {
                    for (int k = 0; k < 10 && c.recv(); ++k)
                        ++received;
                    done.send(0);
                });
            REQUIRE(rill_test::eventually([&] { return sent + refused >= 30; }));
            c.close();
            for (int i = 0; i < senders + receivers; ++i)
                done.recv();
            int left = 0;
            while (c.recv())
                ++left;
            REQUIRE(sent + refused == senders * 20);
            REQUIRE(received + left == sent);
        }
    });
}

// ---- Memory ordering (hchan.hpp's "Memory ordering"; docs/runtime.md "Memory model") -----
//
// Each case writes a plain payload on one thread before an operation and
// reads it on another after the operation that must come after it; under
// TSan a missing happens-before edge is a data race on the payload (see
// rill_test::on_two_threads). Elsewhere they check only the values.

TEST_CASE("memory ordering: a send happens before the receive of its value completes") {
    constexpr int n = 200;
    for (std::size_t cap : {0u, 1u, 8u}) {
        chan<int> c(cap);
        REQUIRE(rill_test::payloads_wrong_after_send(
                    n, [&](int i) { c.send(i); }, [&] { return *c.recv(); }) == 0);
    }
}

TEST_CASE("memory ordering: try_send and try_recv that succeed order as send and receive") {
    // One side non-blocking, the other blocking, so that an unbuffered
    // channel has a partner waiting; both non-blocking on a buffered one.
    constexpr int n = 200;
    for (std::size_t cap : {0u, 4u}) {
        for (int mode = 0; mode < 3; ++mode) {
            if (cap == 0 && mode == 2) continue;
            const bool try_send = mode != 1, try_recv = mode != 0;
            chan<int> c(cap);
            int wrong = rill_test::payloads_wrong_after_send(
                n,
                [&](int i) {
                    if (!try_send)
                        c.send(i);
                    else
                        while (!c.try_send(i))
                            std::this_thread::yield();
                },
                [&] {
                    std::optional<int> k;
                    if (!try_recv)
                        k = c.recv();
                    else
                        while (!(k = c.try_recv()))
                            std::this_thread::yield();
                    return *k;
                });
            INFO("capacity " << cap << ", mode " << mode);
            REQUIRE(wrong == 0);
        }
    }
}

TEST_CASE("memory ordering: the k-th receive happens before the (k+C)-th send completes") {
    // Go's counting-semaphore rule; with C = 0, a receive happens before its
    // send completes. The receiver writes before each receive; the sender
    // reads what was written before receive k once send k+C has returned.
    constexpr int n = 200;
    for (std::size_t cap : {0u, 1u, 3u}) {
        const int ci = static_cast<int>(cap);
        chan<int> c(cap);
        std::vector<int> before_recv(n);
        int wrong = 0;
        rill_test::on_two_threads(
            [&] {
                for (int s = 0; s < n + ci; ++s) {
                    c.send(s);
                    if (int k = s - ci; k >= 0 && before_recv[k] != k + 1) ++wrong;
                }
            },
            [&] {
                for (int k = 0; k < n + ci; ++k) {
                    if (k < n) before_recv[k] = k + 1;
                    c.recv();
                }
            });
        INFO("capacity " << cap);
        REQUIRE(wrong == 0);
    }
}

TEST_CASE("memory ordering: a close happens before a receive that reports it, and closed()") {
    enum mode { recv, range_for, closed_query, last };
    for (int m = recv; m != last; ++m) {
        for (int round = 0; round < 20; ++round) {
            chan<int> c(static_cast<std::size_t>(round % 2));
            int payload = 0, seen = 0;
            rill_test::on_two_threads(
                [&] {
                    payload = 42;
                    c.close();
                },
                [&] {
                    if (m == recv) {
                        if (c.recv()) return;
                    } else if (m == range_for) {
                        for (int v : c)
                            (void)v;
                    } else {
                        while (!c.closed())
                            std::this_thread::yield();
                    }
                    seen = payload;
                });
            INFO("mode " << m << ", round " << round);
            REQUIRE(seen == 42);
        }
    }
}
