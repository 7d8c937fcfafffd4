// Sleeping and the runtime timers (time.hpp; Go's runtime/time.go, tested in
// Go by time/sleep_test.go): sleep never returns early, sleepers wake in the
// order of their deadlines, and timer_add / timer_del / timer_reset keep
// their promises when deletion races with firing.
#include "g.hpp"
#include "test_util.hpp"
#include "time.hpp"

#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;
using rill::detail::nanotime;
using rill::detail::timer;
using rill::detail::timer_add;
using rill::detail::timer_del;
using rill::detail::timer_reset;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::int64_t hour_ns = 3'600'000'000'000;

// Sleeps of several kinds; counts those that returned before their time.
int early_wakeups() {
    int early = 0;
    for (auto d : {1ms, 3ms}) {
        auto start = steady::now();
        rill::sleep(d);
        early += steady::now() - start < d;
    }
    auto until = steady::now() + 2ms;
    rill::sleep_until(until);
    early += steady::now() < until;
    // Nothing to wait for: these return at once.
    rill::sleep(0ns);
    rill::sleep(-1ms);
    rill::sleep_until(steady::now() - 1s);
    return early;
}

// A timer whose callback counts its firings and signals them on a channel.
struct probe {
    timer t;
    std::atomic<int> fired{0};
    std::atomic<bool> on_goroutine{false}, early{false};
    rill::chan<int> signal{1024};

    explicit probe(std::int64_t when, std::int64_t period = 0) {
        t.when = when;
        t.period = period;
        t.f = &fire;
        t.arg = this;
    }
    static void fire(void* arg, std::int64_t now) {
        auto* p = static_cast<probe*>(arg);
        if (rill::in_goroutine()) p->on_goroutine = true;
        if (now < p->t.when) p->early = true;
        p->fired.fetch_add(1);
        p->signal.try_send(1); // callbacks must not block
    }
};

} // namespace

TEST_CASE("sleep never returns before its time") {
    CHECK(rill::run([] { return early_wakeups(); }) == 0);
    int on_thread = -1;
    std::thread t([&] { on_thread = early_wakeups(); });
    t.join();
    CHECK(on_thread == 0);
}

TEST_CASE("goroutines and plain threads sleep side by side") {
    const int n = 8;
    std::atomic<int> early{0};
    rill::run([&] {
        rill::wait_group wg;
        wg.add(2 * n);
        std::vector<std::thread> threads;
        for (int i = 0; i < n; ++i) {
            rill::go([&] {
                early += early_wakeups();
                wg.done();
            });
            threads.emplace_back([&] {
                early += early_wakeups();
                wg.done();
            });
        }
        wg.wait();
        for (auto& t : threads)
            t.join();
    });
    CHECK(early.load() == 0);
}

TEST_CASE("sleepers wake in the order of their deadlines") {
    // One processor: one timer heap, whose timers fire in order of `when`.
    rill_test::maxprocs_scope one(1);
    const int n = 20;
    std::vector<std::atomic<rill::detail::G*>> asleep(n);
    std::atomic<int> early{0}, overtaken{0};
    rill::run([&] {
        rill::chan<int> gate(0);
        rill::wait_group started, done;
        started.add(n);
        done.add(n);
        steady::time_point base;
        // Spawned out of deadline order, so that the heap has to sort them.
        for (int k = 0; k < n; ++k)
            rill::go([&, i = k * 7 % n] {
                started.done();
                gate.recv();
                auto deadline = base + i * 1ms;
                asleep[i] = rill::detail::getg();
                rill::sleep_until(deadline);
                asleep[i] = nullptr;
                if (steady::now() < deadline) early.fetch_add(1);
                // Every sleeper due before this one has been woken: none is
                // still parked (a woken one is runnable, running or done).
                for (int j = 0; j < i; ++j)
                    if (auto* g = asleep[j].load();
                        g && g->status.load() == rill::detail::gstatus::waiting)
                        overtaken.fetch_add(1);
                done.done();
            });
        started.wait();
        base = steady::now() + 10ms;
        gate.close();
        done.wait();
    });
    CHECK(early.load() == 0);
    CHECK(overtaken.load() == 0);
}

TEST_CASE("a timer deleted before it fires never runs") {
    auto check = [] {
        probe p(nanotime() + hour_ns);
        timer_add(&p.t);
        bool removed = timer_del(&p.t);
        bool removed_again = timer_del(&p.t);
        return std::tuple(removed, removed_again, p.fired.load());
    };
    CHECK(rill::run(check) == std::tuple(true, false, 0));
    CHECK(check() == std::tuple(true, false, 0)); // from a plain thread
}

TEST_CASE("a timer fires on a scheduler stack, and then cannot be deleted") {
    auto check = [] {
        probe p(nanotime() + 1'000'000);
        timer_add(&p.t);
        p.signal.recv();
        bool removed = timer_del(&p.t);
        return std::tuple(removed, p.fired.load(), p.on_goroutine.load(), p.early.load());
    };
    CHECK(rill::run(check) == std::tuple(false, 1, false, false));
    CHECK(check() == std::tuple(false, 1, false, false)); // added from a plain thread
}

TEST_CASE("deleting a timer races with its firing: exactly one of them wins") {
    rill_test::maxprocs_scope two(2); // another processor fires timers meanwhile
    const int n = rill_test::by_build(1000, 500, 300);
    struct racer {
        timer t;
        std::atomic<int> fired{0};
    };
    std::vector<std::unique_ptr<racer>> racers;
    for (int i = 0; i < n; ++i) {
        racers.push_back(std::make_unique<racer>());
        racers.back()->t.f = [](void* arg, std::int64_t) {
            static_cast<racer*>(arg)->fired.fetch_add(1);
        };
        racers.back()->t.arg = racers.back().get();
    }
    auto [both, neither, fired_after_del] = rill::run([&] {
        int both = 0, neither = 0, late = 0;
        std::vector<int> fired_at_del(n);
        for (int i = 0; i < n; ++i) {
            // Deleted from a little before to a little after the deadline.
            racers[i]->t.when = nanotime() + 20'000;
            timer_add(&racers[i]->t);
            while (nanotime() < racers[i]->t.when + (i % 11 - 5) * 4'000) {
            }
            bool removed = timer_del(&racers[i]->t);
            // timer_del waits for a running callback, so the count is final.
            fired_at_del[i] = racers[i]->fired.load();
            both += removed && fired_at_del[i] != 0;
            neither += !removed && fired_at_del[i] != 1;
        }
        rill::sleep(1ms); // past every deadline: a timer still armed would fire
        for (int i = 0; i < n; ++i)
            late += racers[i]->fired.load() != fired_at_del[i];
        return std::tuple(both, neither, late);
    });
    CHECK(both == 0);
    CHECK(neither == 0);
    CHECK(fired_after_del == 0);
}

TEST_CASE("timer_reset moves a timer, armed or fired") {
    auto [fired_once, rearmed_removed, fired_total] = rill::run([] {
        probe p(nanotime() + hour_ns);
        timer_add(&p.t);
        timer_reset(&p.t, nanotime()); // from an hour away to now
        p.signal.recv();
        int once = p.fired.load();
        timer_reset(&p.t, nanotime() + hour_ns); // a fired timer is armed again
        bool removed = timer_del(&p.t);
        return std::tuple(once, removed, p.fired.load());
    });
    CHECK(fired_once == 1);
    CHECK(rearmed_removed);
    CHECK(fired_total == 1);
}

TEST_CASE("a periodic timer fires again and again until deleted") {
    const std::int64_t period = 200'000;
    auto [removed, at_del, later, early] = rill::run([&] {
        probe p(nanotime(), period);
        timer_add(&p.t);
        for (int i = 0; i < 5; ++i)
            p.signal.recv();
        bool removed = timer_del(&p.t);
        int at_del = p.fired.load();
        rill::sleep(std::chrono::nanoseconds(20 * period)); // it would have fired meanwhile
        return std::tuple(removed, at_del, p.fired.load(), p.early.load());
    });
    CHECK(removed); // re-armed after each firing
    CHECK(at_del >= 5);
    CHECK(later == at_del);
    CHECK_FALSE(early);
}
