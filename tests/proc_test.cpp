// The scheduler core through the public API (runtime.hpp; Go's
// runtime/proc_test.go covers the same ground): run and go, ids and names,
// gosched, the processor count, goroutines moving between threads with their
// exception and floating-point state, the panic handler, scale and counters.
#include "test_util.hpp"

#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cfenv>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using rill_test::by_build;
using rill_test::maxprocs_scope;

namespace {

// pthread_self() is declared const, so a caller may reuse one answer across
// a park that moved the goroutine; the barrier makes every call ask again.
__attribute__((noinline)) std::thread::id current_thread() {
    asm volatile("" ::: "memory");
    return std::this_thread::get_id();
}

// This thread's own thread_local, read through a call the compiler cannot see into.
thread_local std::thread::id tls_owner = std::this_thread::get_id();
__attribute__((noinline)) std::thread::id read_tls_owner() {
    asm volatile("" ::: "memory");
    return tls_owner;
}

// Goroutines waiting for each other without yielding: they only all arrive
// if `n` of them run at the same time, on `n` processors.
bool rendezvous(int n) {
    std::atomic<int> arrived{0};
    std::atomic<bool> gave_up{false};
    rill::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i)
        rill::go([&] {
            arrived.fetch_add(1);
            auto limit = std::chrono::steady_clock::now() + 30s; // a hang guard
            while (arrived.load() < n && !gave_up.load())
                if (std::chrono::steady_clock::now() > limit) gave_up = true;
            wg.done();
        });
    wg.wait();
    return !gave_up.load();
}

// The most goroutines seen inside a section at once, out of `workers`
// goroutines entering it `rounds` times each and yielding in between.
int max_concurrent(int workers, int rounds) {
    std::atomic<int> inside{0}, most{0};
    rill::wait_group wg;
    wg.add(workers);
    for (int w = 0; w < workers; ++w)
        rill::go([&] {
            for (int r = 0; r < rounds; ++r) {
                int now = inside.fetch_add(1) + 1;
                int seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {
                }
                for (int spin = 0; spin < 2000; ++spin)
                    asm volatile(""); // a little work while inside
                inside.fetch_sub(1);
                rill::gosched();
            }
            wg.done();
        });
    wg.wait();
    return most.load();
}

} // namespace

TEST_CASE("run returns the main goroutine's result") {
    CHECK(rill::run([] { return 42; }) == 42);
    auto p = rill::run([] { return std::make_unique<std::string>("moved out"); });
    REQUIRE(p);
    CHECK(*p == "moved out");
    bool inside = false;
    rill::run([&] { inside = rill::in_goroutine() && rill::goroutine_id() != 0; });
    CHECK(inside);
}

TEST_CASE("run rethrows the main goroutine's exception and stays usable") {
    CHECK_THROWS_MATCHES(rill::run([]() -> int { throw std::runtime_error("from main"); }),
                         std::runtime_error, Catch::Message("from main"));
    struct not_std {
        int code;
    };
    try {
        rill::run([] { throw not_std{7}; });
        FAIL("run returned normally");
    } catch (const not_std& e) {
        CHECK(e.code == 7);
    }
    CHECK(rill::run([] { return std::string("again"); }) == "again");
}

TEST_CASE("each run is a new main goroutine") {
    auto first = rill::run([] { return rill::goroutine_id(); });
    auto second = rill::run([] { return rill::goroutine_id(); });
    CHECK(first != 0);
    CHECK(second != 0);
    CHECK(first != second);
}

TEST_CASE("goroutines spawned from goroutines and from plain threads all run") {
    const int n = by_build(2000, 1000, 200);
    std::atomic<int> ran{0}, outside{0};
    auto body = [&](rill::wait_group& wg) {
        return [&] {
            if (!rill::in_goroutine() || rill::goroutine_id() == 0) outside.fetch_add(1);
            ran.fetch_add(1);
            wg.done();
        };
    };
    rill::wait_group wg;
    wg.add(3 * n);
    // A plain thread spawning while the main goroutine spawns too.
    std::thread spawner([&] {
        for (int i = 0; i < n; ++i)
            rill::go(body(wg));
    });
    rill::run([&] {
        for (int i = 0; i < n; ++i)
            rill::go(body(wg));
        rill::go([&] {
            for (int i = 0; i < n; ++i)
                rill::go(body(wg));
        });
        wg.wait();
    });
    spawner.join();
    CHECK(ran.load() == 3 * n);

    // A plain thread on its own: go starts the goroutines, wait blocks the thread.
    rill::wait_group wg2;
    std::thread alone([&] {
        wg2.add(n);
        for (int i = 0; i < n; ++i)
            rill::go(body(wg2));
        wg2.wait();
    });
    alone.join();
    CHECK(ran.load() == 4 * n);
    CHECK(outside.load() == 0);
}

TEST_CASE("goroutine ids are unique and nonzero") {
    const int n = by_build(10000, 10000, 1000);
    std::vector<std::uint64_t> ids(static_cast<std::size_t>(n) + 1);
    rill::wait_group wg;
    wg.add(n);
    // Half come from a plain thread: spawns there draw ids one at a time,
    // spawns on a processor draw them in batches.
    std::thread spawner([&] {
        for (int i = 0; i < n / 2; ++i)
            rill::go([&ids, &wg, i] {
                ids[static_cast<std::size_t>(i)] = rill::goroutine_id();
                wg.done();
            });
    });
    rill::run([&] {
        ids[static_cast<std::size_t>(n)] = rill::goroutine_id();
        for (int i = n / 2; i < n; ++i)
            rill::go([&ids, &wg, i] {
                ids[static_cast<std::size_t>(i)] = rill::goroutine_id();
                wg.done();
            });
        wg.wait();
    });
    spawner.join();
    CHECK(std::count(ids.begin(), ids.end(), 0u) == 0);
    std::sort(ids.begin(), ids.end());
    CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
}

TEST_CASE("goroutine names are visible inside, across parks") {
    const int n = 16;
    std::vector<std::string> before(n), after(n);
    std::string unnamed = "unset";
    rill::run([&] {
        rill::wait_group wg;
        wg.add(n + 1);
        for (int i = 0; i < n; ++i) {
            // The name is copied: this string dies before the goroutine runs.
            std::string name = "worker-" + std::to_string(i);
            rill::go(
                [&, i] {
                    before[i] = std::string(rill::goroutine_name());
                    rill::gosched();
                    rill::sleep(100us);
                    after[i] = std::string(rill::goroutine_name());
                    wg.done();
                },
                {name});
        }
        rill::go([&] {
            unnamed = std::string(rill::goroutine_name());
            wg.done();
        });
        wg.wait();
    });
    for (int i = 0; i < n; ++i) {
        CHECK(before[i] == "worker-" + std::to_string(i));
        CHECK(after[i] == before[i]);
    }
    CHECK(unnamed.empty());
}

TEST_CASE("plain threads are not goroutines") {
    CHECK_FALSE(rill::in_goroutine());
    CHECK(rill::goroutine_id() == 0);
    CHECK(rill::goroutine_name().empty());
    bool in = true;
    std::uint64_t id = 1;
    std::string_view name = "x";
    std::thread t([&] {
        in = rill::in_goroutine();
        id = rill::goroutine_id();
        name = rill::goroutine_name();
        rill::gosched(); // a plain yield there
    });
    t.join();
    CHECK_FALSE(in);
    CHECK(id == 0);
    CHECK(name.empty());
}

TEST_CASE("gosched lets the other goroutines of a single processor run") {
    maxprocs_scope one(1);
    const int rounds = 200;
    auto [progressed, switches] = rill::run([&] {
        // Only gosched lets the spawned goroutine set the flag.
        std::atomic<bool> flag{false};
        rill::go([&] { flag = true; });
        while (!flag.load())
            rill::gosched();

        // Two goroutines yielding in turn take turns.
        std::atomic<int> last{-1}, changes{0};
        rill::wait_group wg;
        wg.add(2);
        for (int me = 0; me < 2; ++me)
            rill::go([&, me] {
                for (int r = 0; r < rounds; ++r) {
                    if (last.exchange(me) != me) changes.fetch_add(1);
                    rill::gosched();
                }
                wg.done();
            });
        wg.wait();
        return std::pair(flag.load(), changes.load());
    });
    CHECK(progressed);
    // Strict turns give 2 * rounds changes; the global queue's periodic
    // fairness check may hand a yielder back its turn now and then.
    CHECK(switches >= rounds);
}

TEST_CASE("the processor count can be lowered and raised while goroutines run") {
    const int initial = rill::maxprocs();
    REQUIRE(initial >= 1);
    maxprocs_scope restore(initial);
    CHECK_THROWS_AS(rill::set_maxprocs(0), std::invalid_argument);
    CHECK(rill::maxprocs() == initial);

    const int workers = 8, rounds = by_build(300, 200, 100);
    rill::run([&] {
        CHECK(rill::set_maxprocs(1) == initial);
        CHECK(rill::maxprocs() == 1);
        CHECK(max_concurrent(workers, rounds) == 1);

        CHECK(rill::set_maxprocs(4) == 1);
        CHECK(rendezvous(4));
        CHECK(max_concurrent(workers, rounds) <= 4);

        CHECK(rill::set_maxprocs(1) == 4);
        CHECK(max_concurrent(workers, rounds) == 1);

        CHECK(rill::set_maxprocs(2) == 1);
        CHECK(rendezvous(2));
        CHECK(max_concurrent(workers, rounds) <= 2);
    });
}

TEST_CASE("goroutines move between threads and see each thread's thread_locals") {
    maxprocs_scope two(2);
    const int workers = 4, wanted = 20;
    std::atomic<int> moves{0}, tls_wrong{0}, id_changed{0};
    rill::run([&] {
        rill::wait_group wg;
        wg.add(workers);
        for (int w = 0; w < workers; ++w)
            rill::go([&] {
                const auto id = rill::goroutine_id();
                auto limit = std::chrono::steady_clock::now() + 30s; // a hang guard
                for (int i = 0; moves.load() < wanted && std::chrono::steady_clock::now() < limit;
                     ++i) {
                    auto was = current_thread();
                    if (i % 2)
                        rill::gosched();
                    else
                        rill::sleep(50us);
                    auto is = current_thread();
                    if (is != was) moves.fetch_add(1);
                    if (read_tls_owner() != is) tls_wrong.fetch_add(1);
                    if (rill::goroutine_id() != id) id_changed.fetch_add(1);
                }
                wg.done();
            });
        wg.wait();
    });
    CHECK(moves.load() >= wanted);
    CHECK(tls_wrong.load() == 0);
    CHECK(id_changed.load() == 0);
}

TEST_CASE("the panic handler receives exceptions escaping goroutines") {
    struct report {
        std::uint64_t id;
        std::string name, what;
        std::exception_ptr error;
    };
    rill::chan<report> reports(4);
    auto previous = rill::set_panic_handler([reports](const rill::panic_info& p) mutable {
        reports.send({p.goroutine_id, p.goroutine_name, p.what, p.error});
    });
    rill::run([&] {
        rill::chan<std::uint64_t> ids(1);
        rill::go(
            [ids]() mutable {
                ids.send(rill::goroutine_id());
                throw std::runtime_error("boom");
            },
            {"panicky"});
        auto id = ids.recv();
        auto r = reports.recv();
        REQUIRE(id);
        REQUIRE(r);
        CHECK(r->id == *id);
        CHECK(r->name == "panicky");
        CHECK(r->what == "boom");
        CHECK_THROWS_MATCHES(std::rethrow_exception(r->error), std::runtime_error,
                             Catch::Message("boom"));

        rill::go([] { throw 42; }, {"int-thrower"});
        r = reports.recv();
        REQUIRE(r);
        CHECK(r->name == "int-thrower");
        CHECK_FALSE(r->what.empty());
        try {
            std::rethrow_exception(r->error);
        } catch (int v) {
            CHECK(v == 42);
        }
    });
    auto ours = rill::set_panic_handler(std::move(previous));
    CHECK(static_cast<bool>(ours));
}

// Run by the test below in a child process: the default handler ends it.
TEST_CASE("child: an exception escapes a goroutine", "[.child]") {
    rill::run([] {
        rill::go(
            [] {
                rill_test::announce_goroutine();
                throw std::runtime_error("nobody caught this");
            },
            {"doomed"});
        for (int i = 0; i < 30000; ++i) // a hang guard
            rill::sleep(1ms);
    });
    FAIL("the process survived an exception escaping a goroutine");
}

TEST_CASE("by default an escaping exception is logged and ends the process with status 2") {
    auto r = rill_test::run_child("child: an exception escapes a goroutine");
    INFO(r.output);
    CHECK(r.exited_with(2));
    CHECK(rill_test::names_goroutine(r, {"doomed", "nobody caught this"}));
}

TEST_CASE("child: report maxprocs", "[.child]") {
    int n = rill::maxprocs(); // first: it may log a warning about the environment
    std::cout << "maxprocs=" << n << std::endl;
}

TEST_CASE("the processor count comes from RILL_MAXPROCS, then GOMAXPROCS, then the CPUs") {
    auto reported = [](std::map<std::string, std::string> env) {
        auto r = rill_test::run_child("child: report maxprocs", env);
        INFO(r.output);
        REQUIRE(r.exited_with(0));
        auto at = r.output.find("maxprocs=");
        REQUIRE(at != std::string::npos);
        return std::atoi(r.output.c_str() + at + 9);
    };
    CHECK(reported({{"RILL_MAXPROCS", "3"}, {"GOMAXPROCS", "5"}}) == 3);
    CHECK(reported({{"RILL_MAXPROCS", ""}, {"GOMAXPROCS", "5"}}) == 5);
    CHECK(reported({{"RILL_MAXPROCS", "many"}, {"GOMAXPROCS", "6"}}) == 6);
    int cpus = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    CHECK(reported({{"RILL_MAXPROCS", ""}, {"GOMAXPROCS", ""}}) == cpus);
}

TEST_CASE("an exception being handled survives parking in its handler") {
    const int n = 32;
    std::atomic<int> wrong{0}, rethrown{0};
    rill::run([&] {
        rill::wait_group wg;
        wg.add(n);
        for (int i = 0; i < n; ++i)
            rill::go([&, i] {
                const std::string mine = "error " + std::to_string(i);
                try {
                    throw std::runtime_error(mine);
                } catch (...) {
                    // Other goroutines catch their own exceptions on this
                    // thread meanwhile, and this one may resume elsewhere.
                    rill::sleep(100us);
                    rill::gosched();
                    if (!std::current_exception()) wrong.fetch_add(1);
                    try {
                        throw;
                    } catch (const std::runtime_error& e) {
                        if (e.what() == mine)
                            rethrown.fetch_add(1);
                        else
                            wrong.fetch_add(1);
                    }
                }
                if (std::current_exception() || std::uncaught_exceptions() != 0) wrong.fetch_add(1);
                wg.done();
            });
        wg.wait();
    });
    CHECK(wrong.load() == 0);
    CHECK(rethrown.load() == n);
}

TEST_CASE("std::uncaught_exceptions is per goroutine while a destructor parks") {
    const int n = 32;
    std::vector<int> during(n, -1), after_park(n, -1);
    struct parks_when_destroyed {
        int *during, *after;
        ~parks_when_destroyed() {
            *during = std::uncaught_exceptions();
            rill::sleep(100us);
            rill::gosched();
            *after = std::uncaught_exceptions();
        }
    };
    rill::run([&] {
        rill::wait_group wg;
        wg.add(n);
        for (int i = 0; i < n; ++i)
            rill::go([&, i] {
                // Even goroutines unwind, odd ones leave their scope normally.
                try {
                    parks_when_destroyed p{&during[i], &after_park[i]};
                    if (i % 2 == 0) throw std::runtime_error("unwinding");
                } catch (const std::runtime_error&) {
                }
                wg.done();
            });
        wg.wait();
    });
    for (int i = 0; i < n; ++i) {
        INFO("goroutine " << i);
        CHECK(during[i] == (i % 2 == 0 ? 1 : 0));
        CHECK(after_park[i] == during[i]);
    }
}

TEST_CASE("the floating-point rounding mode belongs to the goroutine") {
    maxprocs_scope one(1); // both goroutines take turns on one thread's processor
    struct observed {
        int upward_after_park = -1, other = -1, spawned = -1;
        double up = 0, near = 0;
    } o;
    rill::run([&] {
        volatile double one = 1.0, three = 3.0;
        o.near = one / three;
        rill::chan<int> set(0), checked(0);
        rill::wait_group wg;
        wg.add(3);
        rill::go([&] {
            std::fesetround(FE_UPWARD);
            rill::go([&] {
                o.spawned = std::fegetround();
                wg.done();
            });
            set.send(1);
            checked.recv();
            o.upward_after_park = std::fegetround();
            o.up = one / three;
            std::fesetround(FE_TONEAREST);
            wg.done();
        });
        rill::go([&] {
            set.recv();
            o.other = std::fegetround();
            checked.send(1);
            wg.done();
        });
        wg.wait();
        CHECK(std::fegetround() == FE_TONEAREST);
    });
    CHECK(o.upward_after_park == FE_UPWARD);
    CHECK(o.up > o.near);
    CHECK(o.other == FE_TONEAREST);
    CHECK(o.spawned == FE_TONEAREST); // a new goroutine starts with the defaults
}

TEST_CASE("a million goroutines are spawned and joined") {
    const int n = by_build(1'000'000, 200'000, 2'000);
    std::atomic<int> ran{0};
    const auto created = rill::stats().goroutines_created;
    rill::run([&] {
        rill::wait_group wg;
        wg.add(n);
        for (int i = 0; i < n; ++i)
            rill::go([&] {
                ran.fetch_add(1, std::memory_order_relaxed);
                wg.done();
            });
        wg.wait();
    });
    CHECK(ran.load() == n);
    CHECK(rill::stats().goroutines_created - created == static_cast<std::uint64_t>(n) + 1);
}

namespace {
// Recurses until `want` bytes of stack below `top` are in use; returns the
// bytes used. The frame's use after the call keeps it from being a tail call.
__attribute__((noinline)) std::size_t use_stack(std::uintptr_t top, std::size_t want) {
    volatile char frame[512];
    frame[0] = 1;
    std::size_t used = top - reinterpret_cast<std::uintptr_t>(&frame[0]);
    if (used >= want) return used;
    return use_stack(top, want) + static_cast<std::size_t>(frame[0]) - 1;
}
} // namespace

TEST_CASE("a goroutine with a 1 MiB stack reserve can recurse deep") {
    std::size_t used = 0;
    rill::run([&] {
        rill::wait_group wg;
        wg.add(1);
        rill::go(
            [&] {
                volatile char top;
                used = use_stack(reinterpret_cast<std::uintptr_t>(&top), 900 * 1024);
                wg.done();
            },
            {"deep", 1024 * 1024});
        wg.wait();
    });
    CHECK(used >= 900 * 1024);
}

TEST_CASE("stats count goroutines as they come and go") {
    const int n = by_build(1000, 1000, 200);
    const auto before = rill::stats();
    std::uint64_t live_at_start = 0;
    rill::runtime_stats during{};
    rill::run([&] {
        live_at_start = rill::stats().goroutines_live;
        rill::chan<int> gate(0);
        rill::wait_group started, finished;
        started.add(n);
        finished.add(n);
        for (int i = 0; i < n; ++i)
            rill::go([&] {
                started.done();
                gate.recv();
                finished.done();
            });
        started.wait();
        // Every goroutine has started; each is parked or about to park.
        rill_test::eventually([&] { return rill::stats().parks >= before.parks + n; });
        during = rill::stats();
        gate.close();
        finished.wait();
    });
    CHECK(live_at_start >= 1);
    CHECK(during.goroutines_live >= static_cast<std::uint64_t>(n) + 1); // and main
    CHECK(during.parks >= before.parks + n);
    CHECK(during.threads >= 1);
    CHECK(rill::stats().goroutines_created - before.goroutines_created ==
          static_cast<std::uint64_t>(n) + 1);
    // The main goroutine is gone too; anything else live at its start may have ended.
    CHECK(
        rill_test::eventually([&] { return rill::stats().goroutines_live <= live_at_start - 1; }));
}
