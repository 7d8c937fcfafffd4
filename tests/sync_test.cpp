// The parking sync primitives (sync.hpp): mutex, rw_mutex, cond, wait_group,
// once and semaphore, used from goroutines and plain threads at once, and
// with several processor counts.
#include "g.hpp" // runtime internals: G, to see who is parked
#include "test_util.hpp"

#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using rill::detail::G;
using rill_test::by_build;
using rill_test::eventually;

namespace {

// Runs body(i) on `goroutines` goroutines and `threads` plain threads at once
// and returns when all have finished. Must be called from a goroutine.
template <class F> void on_both(int goroutines, int threads, F body) {
    rill::wait_group wg;
    wg.add(goroutines + threads);
    for (int i = 0; i < goroutines; ++i)
        rill::go([&, i] {
            body(i);
            wg.done();
        });
    std::vector<std::thread> ts;
    for (int i = 0; i < threads; ++i)
        ts.emplace_back([&, i] {
            body(goroutines + i);
            wg.done();
        });
    wg.wait();
    for (auto& t : ts)
        t.join();
}

// A goroutine's G, published from inside it, to watch it park.
struct watched {
    std::atomic<G*> g{nullptr};
    void attach() { g.store(rill::detail::getg(), std::memory_order_release); }
    // Meaningful while the goroutine's only blocking call is the one watched.
    bool parked() const {
        G* p = g.load(std::memory_order_acquire);
        return p && p->status.load(std::memory_order_acquire) == rill::detail::gstatus::waiting;
    }
};

} // namespace

// ---- mutex --------------------------------------------------------------------------------

TEST_CASE("mutex: an exact count from goroutines and threads contending") {
    const int procs = GENERATE(1, 2, 4);
    rill::run([procs] {
        rill_test::maxprocs_scope mp(procs);
        const int iters = by_build(20000, 5000, 1000);
        const int goroutines = 16, threads = 2;
        rill::mutex m;
        long counter = 0;
        std::atomic<bool> inside{false};
        std::atomic<int> overlaps{0};
        on_both(goroutines, threads, [&](int) {
            for (int i = 0; i < iters; ++i) {
                std::lock_guard<rill::mutex> g(m);
                if (inside.exchange(true)) ++overlaps;
                ++counter;
                // Now and then a long hold, so waiters park and wait long
                // enough for the mutex to turn to hand-offs.
                if (i % 256 == 0) rill::gosched();
                inside.store(false);
            }
        });
        CHECK(overlaps.load() == 0);
        CHECK(counter == long{iters} * (goroutines + threads));
    });
}

TEST_CASE("mutex: plain threads alone, outside the runtime") {
    rill::mutex m;
    long counter = 0;
    const int iters = by_build(50000, 10000, 2000);
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < iters; ++i) {
                std::lock_guard<rill::mutex> g(m);
                ++counter;
            }
        });
    for (auto& t : ts)
        t.join();
    CHECK(counter == 4L * iters);
}

TEST_CASE("mutex: try_lock fails while held, from a goroutine and a thread") {
    rill::run([] {
        rill::mutex m;
        REQUIRE(m.try_lock());
        bool from_goroutine = true, from_thread = true;
        rill::wait_group wg;
        wg.add(1);
        rill::go([&] {
            from_goroutine = m.try_lock();
            wg.done();
        });
        wg.wait();
        std::thread([&] { from_thread = m.try_lock(); }).join();
        CHECK_FALSE(from_goroutine);
        CHECK_FALSE(from_thread);
        m.unlock();
        std::thread([&] { from_thread = m.try_lock(); }).join();
        CHECK(from_thread);
        m.unlock();
    });
}

TEST_CASE("mutex: a parked waiter gets the lock when it is released") {
    rill::run([] {
        rill::mutex m;
        m.lock();
        watched w;
        std::atomic<bool> got{false};
        rill::go([&] {
            w.attach();
            m.lock();
            got = true;
            m.unlock();
        });
        REQUIRE(eventually([&] { return w.parked(); }));
        CHECK_FALSE(got.load());
        m.unlock();
        REQUIRE(eventually([&] { return got.load(); }));
        // Released by the waiter: free again.
        bool relocked = false;
        REQUIRE(eventually([&] { return relocked || (relocked = m.try_lock()); }));
        m.unlock();
    });
}

TEST_CASE("mutex: unlock of an unlocked mutex throws") {
    rill::mutex m;
    CHECK_THROWS_AS(m.unlock(), std::logic_error);
    m.lock();
    m.unlock();
    CHECK_THROWS_AS(m.unlock(), std::logic_error);
}

// ---- rw_mutex -----------------------------------------------------------------------------

TEST_CASE("rw_mutex: readers hold it together") {
    rill::run([] {
        rill::rw_mutex rw;
        const int readers = 8;
        std::atomic<int> in{0};
        std::atomic<int> all_seen{0};
        on_both(readers - 2, 2, [&](int) {
            std::shared_lock<rill::rw_mutex> g(rw);
            ++in;
            // Only possible if every reader is inside at the same time.
            if (eventually([&] { return in.load() == readers; })) ++all_seen;
        });
        CHECK(all_seen.load() == readers);
    });
}

TEST_CASE("rw_mutex: a writer excludes readers and other writers") {
    const int procs = GENERATE(1, 2, 4);
    rill::run([procs] {
        rill_test::maxprocs_scope mp(procs);
        rill::rw_mutex rw;
        const int iters = by_build(5000, 2000, 500);
        std::atomic<int> readers_in{0}, writers_in{0}, bad{0};
        long written = 0;
        on_both(12, 2, [&](int id) {
            for (int i = 0; i < iters; ++i) {
                if ((i + id) % 4 == 0) {
                    std::lock_guard<rill::rw_mutex> g(rw);
                    if (writers_in.fetch_add(1) != 0 || readers_in.load() != 0) ++bad;
                    ++written;
                    if (i % 64 == 0) rill::gosched();
                    writers_in.fetch_sub(1);
                } else {
                    std::shared_lock<rill::rw_mutex> g(rw);
                    readers_in.fetch_add(1);
                    if (writers_in.load() != 0) ++bad;
                    if (i % 64 == 1) rill::gosched();
                    readers_in.fetch_sub(1);
                }
            }
        });
        CHECK(bad.load() == 0);
        long writes = 0;
        for (int id = 0; id < 14; ++id)
            for (int i = 0; i < iters; ++i)
                writes += (i + id) % 4 == 0;
        CHECK(written == writes);
    });
}

TEST_CASE("rw_mutex: a waiting writer goes before readers that arrive after it") {
    rill::run([] {
        rill::rw_mutex rw;
        rw.lock_shared();
        std::string order;
        rill::mutex order_m;
        auto note = [&](char c) {
            std::lock_guard<rill::mutex> g(order_m);
            order += c;
        };
        rill::wait_group wg;
        wg.add(2);
        rill::go([&] {
            rw.lock();
            note('W');
            rw.unlock();
            wg.done();
        });
        // The writer has announced itself once new readers are turned away.
        REQUIRE(eventually([&] {
            if (!rw.try_lock_shared()) return true;
            rw.unlock_shared();
            return false;
        }));
        watched late;
        rill::go([&] {
            late.attach();
            rw.lock_shared();
            note('R');
            rw.unlock_shared();
            wg.done();
        });
        REQUIRE(eventually([&] { return late.parked(); }));
        CHECK_FALSE(rw.try_lock());
        rw.unlock_shared();
        wg.wait();
        CHECK(order == "WR");
    });
}

TEST_CASE("rw_mutex: try_lock and try_lock_shared") {
    rill::rw_mutex rw;
    REQUIRE(rw.try_lock_shared());
    REQUIRE(rw.try_lock_shared());
    CHECK_FALSE(rw.try_lock());
    rw.unlock_shared();
    rw.unlock_shared();
    REQUIRE(rw.try_lock());
    CHECK_FALSE(rw.try_lock());
    CHECK_FALSE(rw.try_lock_shared());
    rw.unlock();
    CHECK_THROWS_AS(rw.unlock(), std::logic_error);
    CHECK_THROWS_AS(rw.unlock_shared(), std::logic_error);
    // Still usable after the misuse was refused.
    REQUIRE(rw.try_lock_shared());
    rw.unlock_shared();
    REQUIRE(rw.try_lock());
    rw.unlock();
}

// ---- cond ---------------------------------------------------------------------------------

TEST_CASE("cond: each signal lets one more waiter through") {
    rill::run([] {
        rill::mutex m;
        rill::cond cv;
        int tickets = 0;
        std::atomic<int> served{0};
        const int goroutines = 6, threads = 2;
        rill::wait_group wg;
        wg.add(1);
        rill::go([&] {
            on_both(goroutines, threads, [&](int) {
                std::unique_lock<rill::mutex> lk(m);
                cv.wait(lk, [&] { return tickets > 0; });
                --tickets;
                ++served;
            });
            wg.done();
        });
        for (int i = 1; i <= goroutines + threads; ++i) {
            {
                std::lock_guard<rill::mutex> g(m);
                ++tickets;
            }
            cv.signal();
            REQUIRE(eventually([&] { return served.load() == i; }));
        }
        wg.wait();
    });
}

TEST_CASE("cond: broadcast wakes every waiter") {
    const int procs = GENERATE(1, 3);
    rill::run([procs] {
        rill_test::maxprocs_scope mp(procs);
        rill::mutex m;
        rill::cond cv;
        bool go = false;
        int waiting = 0;
        const int goroutines = by_build(200, 100, 50), threads = 3;
        rill::wait_group wg;
        wg.add(1);
        rill::go([&] {
            on_both(goroutines, threads, [&](int) {
                std::unique_lock<rill::mutex> lk(m);
                ++waiting;
                while (!go)
                    cv.wait(lk);
            });
            wg.done();
        });
        REQUIRE(eventually([&] {
            std::lock_guard<rill::mutex> g(m);
            return waiting == goroutines + threads;
        }));
        {
            std::lock_guard<rill::mutex> g(m);
            go = true;
        }
        cv.broadcast();
        wg.wait();
    });
}

TEST_CASE("cond: wait_for times out holding the lock, or returns when signalled") {
    auto check = [] {
        rill::mutex m;
        rill::cond cv;
        std::unique_lock<rill::mutex> lk(m);
        CHECK_FALSE(cv.wait_for(lk, 2ms));
        CHECK(lk.owns_lock());
        CHECK_FALSE(cv.wait_for(lk, -1ms));

        bool flag = false;
        std::thread t([&] {
            std::lock_guard<rill::mutex> g(m);
            flag = true;
            cv.signal();
        });
        while (!flag)
            REQUIRE(cv.wait_for(lk, 1h));
        lk.unlock();
        t.join();
    };
    rill::run(check);
    check();
}

// ---- wait_group ---------------------------------------------------------------------------

TEST_CASE("wait_group: reused round after round, waited on by goroutines and threads") {
    rill::run([] {
        rill::wait_group wg;
        const int workers = by_build(100, 50, 20);
        for (int round = 0; round < 10; ++round) {
            std::atomic<int> finished{0};
            wg.add(workers);
            for (int i = 0; i < workers; ++i)
                rill::go([&] {
                    rill::gosched();
                    ++finished;
                    wg.done();
                });
            // Several waiters, all released by the same last done().
            std::atomic<int> saw_all{0};
            on_both(3, 1, [&](int) {
                wg.wait();
                if (finished.load() == workers) ++saw_all;
            });
            CHECK(saw_all.load() == 4);
        }
    });
}

TEST_CASE("wait_group: a negative counter throws and leaves the counter as it was") {
    rill::wait_group wg;
    CHECK_THROWS_AS(wg.done(), std::logic_error);
    wg.add(2);
    CHECK_THROWS_AS(wg.add(-3), std::logic_error);
    wg.done();
    wg.done();
    wg.wait(); // at zero, so it returns
    CHECK_THROWS_AS(wg.add(-1), std::logic_error);
    CHECK_THROWS_AS(wg.add(std::int64_t{1} << 31), std::overflow_error);
    wg.add(1);
    wg.done();
    wg.wait();
}

TEST_CASE("mutex and wait_group may be destroyed as soon as their waiter returns") {
    // The goroutine that releases them must not touch them after the release
    // (ASan catches it if it does).
    rill::run([] {
        const int rounds = by_build(2000, 2000, 300);
        for (int i = 0; i < rounds; ++i) {
            auto wg = std::make_unique<rill::wait_group>();
            auto m = std::make_unique<rill::mutex>();
            wg->add(1);
            m->lock();
            rill::go([wg = wg.get(), m = m.get()] {
                m->unlock();
                wg->done();
            });
            m->lock(); // usually parks until the goroutine unlocks
            m->unlock();
            m.reset();
            wg->wait();
            wg.reset();
        }
    });
}

// ---- once ---------------------------------------------------------------------------------

TEST_CASE("once: runs exactly once under contention, and every caller sees it done") {
    rill::run([] {
        rill::once o;
        std::atomic<int> runs{0};
        std::atomic<int> saw_done{0};
        const int goroutines = by_build(64, 32, 16), threads = 2;
        on_both(goroutines, threads, [&](int) {
            o.call([&] {
                ++runs;
                rill::gosched(); // let the others pile up behind it
            });
            if (runs.load() == 1 && o.done()) ++saw_done;
        });
        CHECK(runs.load() == 1);
        CHECK(saw_done.load() == goroutines + threads);
    });
}

TEST_CASE("once: a call that throws leaves it to the next call") {
    rill::once o;
    int runs = 0;
    CHECK_THROWS_AS(o.call([&] {
        ++runs;
        throw std::runtime_error("first try fails");
    }),
                    std::runtime_error);
    CHECK_FALSE(o.done());
    o.call([&] { ++runs; });
    CHECK(o.done());
    o.call([&] { ++runs; });
    CHECK(runs == 2);
}

// ---- semaphore ----------------------------------------------------------------------------

TEST_CASE("semaphore: waiters are served first come first served, by weight") {
    rill::run([] {
        rill::semaphore s(10);
        s.acquire(10);
        struct want {
            explicit want(std::int64_t weight) : n(weight) {}
            std::int64_t n;
            watched w;
            std::atomic<bool> got{false};
        } a(5), b(7), c(1);
        for (want* x : {&a, &b, &c}) {
            rill::go([&s, x] {
                x->w.attach();
                s.acquire(x->n);
                x->got = true;
            });
            REQUIRE(eventually([&] { return x->w.parked(); }));
        }
        // 3 free: c would fit, but a is first.
        s.release(3);
        CHECK_FALSE(s.try_acquire(1));
        CHECK((a.w.parked() && b.w.parked() && c.w.parked()));
        // 5 free: a goes; b does not fit and holds c back.
        s.release(2);
        REQUIRE(eventually([&] { return a.got.load(); }));
        CHECK((b.w.parked() && c.w.parked()));
        s.release(a.n);
        CHECK((b.w.parked() && c.w.parked()));
        // 10 free: b, then c.
        s.release(5);
        REQUIRE(eventually([&] { return b.got.load() && c.got.load(); }));
        CHECK(s.try_acquire(2));
        CHECK_FALSE(s.try_acquire(1));
        s.release(10);
    });
}

TEST_CASE("semaphore: try_acquire_for times out and leaves the queue clean") {
    auto check = [] {
        rill::semaphore s(10);
        s.acquire(8);
        CHECK_FALSE(s.try_acquire_for(2ms, 5));
        CHECK_FALSE(s.try_acquire_for(-1ms, 5));
        CHECK(s.try_acquire_for(1h, 2));
        s.release(10);
        CHECK(s.try_acquire(10));
        s.release(10);
    };
    rill::run(check);
    check();
}

TEST_CASE("semaphore: a request that times out at the front lets the next one in") {
    rill::run([] {
        rill::semaphore s(10);
        s.acquire(8);
        // The big request comes first and holds back a small one that would fit.
        watched big, small;
        std::atomic<bool> big_done{false}, big_got{true}, small_got{false};
        rill::go([&] {
            big.attach();
            big_got = s.try_acquire_for(50ms, 5);
            big_done = true;
        });
        REQUIRE(eventually([&] { return big.parked(); }));
        rill::go([&] {
            small.attach();
            s.acquire(2);
            small_got = true;
        });
        REQUIRE(eventually([&] { return small.parked() || small_got.load(); }));
        REQUIRE(eventually([&] { return big_done.load() && small_got.load(); }));
        CHECK_FALSE(big_got.load());
        s.release(10);
        CHECK(s.try_acquire(10));
    });
}

TEST_CASE("semaphore: misuse is refused") {
    rill::semaphore s(3);
    CHECK_THROWS_AS(s.acquire(4), std::invalid_argument);
    CHECK_THROWS_AS(s.try_acquire(-1), std::invalid_argument);
    CHECK_THROWS_AS(s.try_acquire_for(1ms, 4), std::invalid_argument);
    CHECK_THROWS_AS(s.release(1), std::logic_error);
    CHECK_THROWS_AS(rill::semaphore(-1), std::invalid_argument);
    s.acquire(3);
    s.release(3);
}

TEST_CASE("semaphore: weighted use from goroutines and threads never exceeds capacity") {
    const int procs = GENERATE(1, 2, 4);
    rill::run([procs] {
        rill_test::maxprocs_scope mp(procs);
        constexpr std::int64_t capacity = 8;
        rill::semaphore s(capacity);
        std::atomic<std::int64_t> held{0};
        std::atomic<int> over{0}, timeouts{0};
        const int iters = by_build(2000, 500, 200);
        on_both(12, 2, [&](int id) {
            for (int i = 0; i < iters; ++i) {
                std::int64_t n = 1 + (id + i) % capacity;
                if (i % 5 == 0) {
                    if (!s.try_acquire_for(std::chrono::microseconds(50 * (i % 7)), n)) {
                        ++timeouts;
                        continue;
                    }
                } else {
                    s.acquire(n);
                }
                if (held.fetch_add(n) + n > capacity) ++over;
                if (i % 16 == 0) rill::gosched();
                held.fetch_sub(n);
                s.release(n);
            }
        });
        CHECK(over.load() == 0);
        CHECK(s.try_acquire(capacity));
    });
}

// ---- Memory ordering (sync.hpp's "Memory ordering"; docs/runtime.md "Memory model") -----
//
// A plain payload written on one thread before an operation and read on
// another after the operation that must come after it: under TSan a missing
// happens-before edge is a data race on the payload (see
// rill_test::on_two_threads). The locks are taken both blocking and with
// their try forms, which take other paths.

TEST_CASE("memory ordering: each mutex unlock happens before the next lock returns") {
    constexpr int n = 2000;
    for (bool use_try : {false, true}) {
        rill::mutex mu;
        int counter = 0; // plain: only the mutex orders the increments
        auto body = [&] {
            for (int i = 0; i < n; ++i) {
                if (!use_try)
                    mu.lock();
                else
                    while (!mu.try_lock())
                        std::this_thread::yield();
                ++counter;
                mu.unlock();
            }
        };
        rill_test::on_two_threads(body, body);
        INFO("try_lock " << use_try);
        REQUIRE(counter == 2 * n);
    }
}

TEST_CASE("memory ordering: rw_mutex unlock before lock_shared, unlock_shared before lock") {
    // The writer writes `shared` under lock(), which the reader reads under
    // lock_shared(); the reader writes `from_reader` under lock_shared(),
    // which the writer reads under its next lock().
    constexpr int n = 1000;
    for (bool use_try : {false, true}) {
        rill::rw_mutex rw;
        int shared = 0, from_reader = 0;
        int backwards = 0, reader_lost = 0;
        rill_test::on_two_threads(
            [&] {
                int last_from_reader = 0;
                for (int i = 1; i <= n; ++i) {
                    if (!use_try)
                        rw.lock();
                    else
                        while (!rw.try_lock())
                            std::this_thread::yield();
                    if (from_reader < last_from_reader) ++reader_lost;
                    last_from_reader = from_reader;
                    shared = i;
                    rw.unlock();
                }
            },
            [&] {
                int last = 0;
                for (int i = 1; i <= n; ++i) {
                    if (!use_try)
                        rw.lock_shared();
                    else
                        while (!rw.try_lock_shared())
                            std::this_thread::yield();
                    if (shared < last) ++backwards;
                    last = shared;
                    from_reader = i;
                    rw.unlock_shared();
                }
            });
        INFO("try forms " << use_try);
        REQUIRE(backwards == 0);
        REQUIRE(reader_lost == 0);
        REQUIRE(shared == n);
        REQUIRE(from_reader == n);
    }
}

TEST_CASE("memory ordering: what the signaller did under the mutex is seen after wait returns") {
    // The payload is written before the mutex is taken, the flag under it:
    // the waiter sees both once its wait (which re-locks) returns.
    for (bool broadcast : {false, true}) {
        for (int round = 0; round < 20; ++round) {
            rill::mutex mu;
            rill::cond cv;
            bool ready = false;
            int payload = 0, seen = 0;
            rill_test::on_two_threads(
                [&] {
                    payload = 42;
                    {
                        std::lock_guard lk(mu);
                        ready = true;
                    }
                    if (broadcast)
                        cv.broadcast();
                    else
                        cv.signal();
                },
                [&] {
                    std::unique_lock lk(mu);
                    cv.wait(lk, [&] { return ready; });
                    seen = payload;
                });
            INFO("broadcast " << broadcast << ", round " << round);
            REQUIRE(seen == 42);
        }
    }
}

TEST_CASE("memory ordering: wait_group done() happens before the wait() it unblocks returns") {
    // Two threads each write their own slots, then done(); this thread waits
    // and reads them all before joining the threads (join would order them).
    for (int round = 0; round < 20; ++round) {
        rill::wait_group wg;
        wg.add(2);
        int slot[2] = {0, 0};
        auto body = [&](int i) {
            return [&, i] {
                slot[i] = i + 1;
                wg.done();
            };
        };
        std::thread a(body(0)), b(body(1));
        wg.wait();
        int seen0 = slot[0], seen1 = slot[1];
        a.join();
        b.join();
        REQUIRE(seen0 == 1);
        REQUIRE(seen1 == 2);
    }
}

TEST_CASE("memory ordering: once's f completes before any call returns, and before done()") {
    for (int round = 0; round < 20; ++round) {
        rill::once o;
        int payload = 0, seen_by_call = 0, seen_by_done = 0;
        rill_test::on_two_threads(
            [&] {
                o.call([&] { payload = 42; });
                seen_by_call = payload;
            },
            [&] {
                if (round % 2 == 0) {
                    o.call([&] { payload = 42; });
                    seen_by_done = payload; // either call may have run f
                } else {
                    while (!o.done())
                        std::this_thread::yield();
                    seen_by_done = payload;
                }
            });
        INFO("round " << round);
        REQUIRE(seen_by_call == 42);
        REQUIRE(seen_by_done == 42);
    }
}

TEST_CASE("memory ordering: a semaphore release happens before the acquire it satisfies") {
    enum mode { acquire, try_acquire, try_acquire_for, last };
    for (int m = acquire; m != last; ++m) {
        for (int round = 0; round < 10; ++round) {
            rill::semaphore sem(2);
            sem.acquire(2); // nothing left until the writer releases
            int payload = 0, seen = 0;
            rill_test::on_two_threads(
                [&] {
                    payload = 42;
                    sem.release(2);
                },
                [&] {
                    if (m == acquire)
                        sem.acquire(2);
                    else if (m == try_acquire)
                        while (!sem.try_acquire(2))
                            std::this_thread::yield();
                    else
                        while (!sem.try_acquire_for(1ms, 2)) {
                        }
                    seen = payload;
                });
            INFO("mode " << m << ", round " << round);
            REQUIRE(seen == 42);
        }
    }
}
