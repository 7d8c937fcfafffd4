// Scheduler fairness (Go's runnext rule, runtime2.go / proc.go): a goroutine
// readied into runnext inherits the time slice of the one that readied it,
// so two goroutines handing values back and forth count as one goroutine
// running on: sysmon preempts the pair after a slice and the processor's
// other goroutines get their turn. Without that rule such a pair keeps its
// processor for ever.
#include "test_util.hpp"

#include "preempt.hpp"

#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using rill_test::maxprocs_scope;
using rill_test::watchdog;

namespace {

// The pair that made the last exchange, to count turns.
std::atomic<const void*> last_runner{nullptr};

// Two goroutines passing a value back and forth over unbuffered channels
// until told to stop; `exchanges` counts round trips, `turns` the times the
// pair took over from another.
struct ping_pong_pair {
    rill::chan<int> ping{0}, pong{0};
    std::atomic<std::uint64_t> exchanges{0};
    std::atomic<std::uint64_t> turns{0};

    void start(const std::atomic<bool>& stop, rill::wait_group& wg) {
        wg.add(2);
        rill::go([this, &stop, &wg] {
            while (!stop.load(std::memory_order_relaxed)) {
                ping.send(1);
                pong.recv();
                exchanges.fetch_add(1, std::memory_order_relaxed);
                if (last_runner.exchange(this, std::memory_order_relaxed) != this)
                    turns.fetch_add(1, std::memory_order_relaxed);
            }
            ping.close();
            wg.done();
        });
        rill::go([this, &wg] {
            while (auto v = ping.recv())
                pong.send(*v);
            wg.done();
        });
    }
};

// Long enough for dozens of slices, also in the slower sanitizer builds.
constexpr std::chrono::milliseconds window{rill_test::by_build(500, 1000, 2000)};

struct pair_counts {
    std::uint64_t exchanges, turns;
};

struct run_counts {
    std::vector<pair_counts> pairs;
    std::uint64_t slices_ended; // by sysmon, meanwhile
};

// Runs `pairs` ping-pong pairs for `how_long` and returns what each did.
run_counts run_pairs(int pairs, std::chrono::milliseconds how_long) {
    std::vector<ping_pong_pair> running(static_cast<std::size_t>(pairs));
    std::atomic<bool> stop{false};
    rill::wait_group wg;
    auto ended = rill::stats().slices_ended;
    for (auto& p : running)
        p.start(stop, wg);
    rill::sleep(how_long); // needs a processor back from the pairs to wake
    stop.store(true);
    wg.wait();
    run_counts counts{{}, rill::stats().slices_ended - ended};
    for (auto& p : running)
        counts.pairs.push_back({p.exchanges.load(), p.turns.load()});
    return counts;
}

} // namespace

TEST_CASE("two ping-pong pairs on one processor share it fairly") {
    watchdog dog("a ping-pong pair kept its processor", 60s);
    maxprocs_scope one(1);
    auto run = rill::run([] { return run_pairs(2, window); });
    const auto& c = run.pairs;
    INFO("exchanges: " << c[0].exchanges << " and " << c[1].exchanges << "; turns: " << c[0].turns
                       << " and " << c[1].turns << "; slices sysmon ended: " << run.slices_ended);
    // Each pair runs a slice of about 10 ms at a time, so over the window
    // they take turns dozens of times: the other pair takes over at nearly
    // every slice sysmon ends, however loaded the machine (a slice is
    // wall-clock time). Not when a preempted goroutine takes the next slice
    // again, or when one waits in the global queue behind the other pair...
    CHECK(run.slices_ended >= 5);
    CHECK((c[0].turns + c[1].turns) * 4 >= run.slices_ended * 3);
    CHECK(std::min(c[0].turns, c[1].turns) * 2 >= std::max(c[0].turns, c[1].turns));
    // ... and each makes about half the exchanges. A slice is wall-clock
    // time, and on a loaded machine the OS may take the thread away for part
    // of one, so this allows twice the factor of two.
    CHECK(std::min(c[0].exchanges, c[1].exchanges) * 4 >= std::max(c[0].exchanges, c[1].exchanges));
}

TEST_CASE("four ping-pong pairs on two processors all make progress") {
    watchdog dog("a ping-pong pair kept its processor", 60s);
    maxprocs_scope two(2);
    auto counts = rill::run([] { return run_pairs(4, window); }).pairs;
    std::uint64_t total = 0;
    for (auto c : counts)
        total += c.exchanges;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        INFO("pair " << i << ": " << counts[i].exchanges << " of " << total << " exchanges, "
                     << counts[i].turns << " turns");
        // A fair share is a quarter; stealing moves pairs between the two
        // processors unevenly, so ask only for a quarter of a fair share.
        CHECK(counts[i].exchanges * 16 >= total);
    }
}

// A goroutine that yields waits in the global run queue (Go's Gosched). A P
// serves that queue every 61st slice, and first whenever sysmon has just
// ended a slice: beside a ping-pong pair, whose partner always sits in the
// local queue, the 61st-slice rule alone leaves it there for over half a
// second, and it runs only when the pair happens to have nothing local.
TEST_CASE("a yielding goroutine beside a ping-pong pair runs after every slice") {
    watchdog dog("a yielding goroutine starved beside a ping-pong pair", 60s);
    maxprocs_scope one(1);
    struct counts {
        std::uint64_t turns = 0, slices = 0, exchanges = 0;
    };
    auto c = rill::run([] {
        std::atomic<bool> stop{false};
        ping_pong_pair pair;
        rill::wait_group wg;
        pair.start(stop, wg);
        counts c;
        wg.add(1);
        rill::go([&] {
            auto ended = rill::stats().slices_ended;
            auto until = std::chrono::steady_clock::now() + window;
            while (std::chrono::steady_clock::now() < until) {
                rill::gosched();
                ++c.turns;
            }
            c.slices = rill::stats().slices_ended - ended;
            stop.store(true);
            wg.done();
        });
        wg.wait();
        c.exchanges = pair.exchanges.load();
        return c;
    });
    INFO("the yielder's turns: " << c.turns << "; slices sysmon ended: " << c.slices
                                 << "; the pair's exchanges: " << c.exchanges);
    // The pair runs a slice, sysmon ends it, the yielder runs and yields at
    // once: about one turn per slice ended, however loaded the machine (a
    // slice is wall-clock time). Without the rule, a third of that or less.
    CHECK(c.slices >= 5);
    CHECK(c.turns * 4 >= c.slices * 3);
    CHECK(c.exchanges > 0);
}

TEST_CASE("sleepers beside busy ping-pong pairs wake on time") {
    watchdog dog("sleepers starved beside ping-pong pairs", 60s);
    maxprocs_scope one(1);
    // Sanitizers make each wake-up dearer: fewer sleepers keep the processor
    // from being saturated by the sleepers alone.
    constexpr int sleepers = rill_test::by_build(200, 50, 20);
    auto [fewest, latest_ns] = rill::run([] {
        std::atomic<bool> stop{false};
        std::vector<ping_pong_pair> pairs(4);
        rill::wait_group busy;
        for (auto& p : pairs)
            p.start(stop, busy);
        // The pairs hold the processors before the sleepers exist: the
        // sleepers start from the run queues behind the pairs' partners.
        rill::sleep(20ms);
        std::atomic<int> fewest{1 << 30};
        std::atomic<std::int64_t> latest{0};
        rill::wait_group wg;
        wg.add(sleepers);
        auto until = std::chrono::steady_clock::now() + 300ms;
        for (int i = 0; i < sleepers; ++i)
            rill::go([&] {
                int wakes = 0;
                while (std::chrono::steady_clock::now() < until) {
                    auto asked = std::chrono::steady_clock::now() + 1ms;
                    rill::sleep(1ms);
                    auto late = std::chrono::steady_clock::now() - asked;
                    std::int64_t ns = std::chrono::nanoseconds(late).count();
                    std::int64_t seen = latest.load();
                    while (ns > seen && !latest.compare_exchange_weak(seen, ns)) {
                    }
                    ++wakes;
                }
                int seen = fewest.load();
                while (wakes < seen && !fewest.compare_exchange_weak(seen, wakes)) {
                }
                wg.done();
            });
        wg.wait();
        stop.store(true);
        busy.wait();
        return std::pair(fewest.load(), latest.load());
    });
    INFO("fewest wake-ups of a sleeper: " << fewest << "; latest wake-up: " << latest_ns / 1000
                                          << " us late");
    // A starved sleeper starts only once the 300 ms are over, and never
    // sleeps; a served one starts within a slice or two and is late by at
    // most about a slice at a time, so it wakes many times in 300 ms.
    CHECK(fewest >= 5);
}

// Go's sysretake (proc.go, retake): the time a goroutine spends in blocking
// calls counts towards its slice, and a P whose slice is over is taken from
// its blocking call even though the calls keep changing. Without that, a
// goroutine making short back-to-back blocking calls (too short for sysmon to
// see one call twice) keeps its processor for ever: sysmon seldom sees it
// running, and a preemption signal landing inside a call is not a safe point.
TEST_CASE("a goroutine making back-to-back blocking calls shares its processor") {
    watchdog dog("a goroutine in blocking calls kept its processor", 60s);
    maxprocs_scope one(1);
    struct counts {
        std::uint64_t calls = 0, spins = 0, gaps = 0;
    };
    auto c = rill::run([] {
        std::atomic<bool> stop{false};
        std::atomic<std::uint64_t> spins{0};
        counts c;
        rill::wait_group wg;
        wg.add(2);
        // A call-free loop: it leaves the processor only when preempted
        // (where signals do not preempt, as under TSan, at a preemption point).
        const bool async = rill::detail::async_preempt_enabled();
        rill::go([&] {
            while (!stop.load(std::memory_order_relaxed)) {
                spins.fetch_add(1, std::memory_order_relaxed);
                if (!async) rill::preempt_point();
            }
            wg.done();
        });
        rill::go([&] {
            auto now = std::chrono::steady_clock::now();
            auto until = now + window;
            while (now < until) {
                // A call far shorter than sysmon's shortest sleep, so it
                // never sees the same call twice.
                rill::blocking([] { return ::getppid(); });
                ++c.calls;
                auto then = std::exchange(now, std::chrono::steady_clock::now());
                // Off the processor for a while: the spinner had a turn.
                if (now - then > 2ms) ++c.gaps;
            }
            c.spins = spins.load();
            stop.store(true);
            wg.done();
        });
        wg.wait();
        return c;
    });
    INFO(c.calls << " blocking calls, " << c.gaps
                 << " pauses in them; the other goroutine counted to " << c.spins);
    // Starved, the spinner never starts. Served, it runs about 10 ms at a
    // time and the caller pauses dozens of times in the window.
    CHECK(c.spins > 0);
    CHECK(c.gaps >= 5);
}
