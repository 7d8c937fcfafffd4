// The goroutine-aware futex (sema.hpp): gfutex_wait / gfutex_wake from
// goroutines and plain threads, their wake counts, timeouts and the races
// between them.
#include "sema.hpp" // runtime internals: G, to see who is parked
#include "test_util.hpp"

#include <rill/runtime.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <climits>
#include <memory>
#include <thread>
#include <vector>

using rill::detail::G;
using rill::detail::gfutex_wait;
using rill::detail::gfutex_wake;
using rill::detail::gstatus;
using rill::detail::nanotime;
using rill_test::by_build;
using rill_test::eventually;

namespace {

using word = std::atomic<std::uint32_t>;
constexpr auto why = rill::detail::wait_reason::sync_cond;
constexpr std::int64_t ms = 1'000'000;

// A goroutine that waits only on the futex is parked on it once it is waiting.
bool parked(const std::atomic<G*>& g) {
    G* p = g.load(std::memory_order_acquire);
    return p && p->status.load(std::memory_order_acquire) == gstatus::waiting;
}

// Starts a goroutine that publishes its G, then waits on w while it holds
// `expected`, and counts itself in `returned` once its wait has ended.
void spawn_waiter(word& w, std::atomic<G*>& g, std::atomic<int>& returned) {
    rill::go([&] {
        g.store(rill::detail::getg(), std::memory_order_release);
        while (w.load() == 0)
            gfutex_wait(&w, 0, why);
        ++returned;
    });
}

} // namespace

TEST_CASE("wait returns at once when the value differs") {
    word w{1};
    auto check = [&] {
        CHECK(gfutex_wait(&w, 0, why));
        CHECK(gfutex_wait(&w, 0, why, nanotime() + 3'600'000 * ms));
    };
    rill::run(check);
    std::thread(check).join();
}

TEST_CASE("wake wakes at most n parked waiters and reports how many") {
    rill::run([] {
        word w{0};
        constexpr int k = 5;
        std::atomic<G*> gs[k]{};
        std::atomic<int> returned{0};
        for (auto& g : gs)
            spawn_waiter(w, g, returned);
        REQUIRE(eventually([&] {
            for (auto& g : gs)
                if (!parked(g)) return false;
            return true;
        }));
        // The waiters re-check w after a wake, so it must change first.
        w.store(1);
        CHECK(gfutex_wake(&w, 0) == 0);
        CHECK(gfutex_wake(&w, 2) == 2);
        CHECK(gfutex_wake(&w, 10) == k - 2);
        CHECK(gfutex_wake(&w, 10) == 0);
        REQUIRE(eventually([&] { return returned.load() == k; }));
    });
}

TEST_CASE("waiters on one address are woken in the order they parked") {
    rill::run([] {
        constexpr int k = 6;
        word w{0};
        std::atomic<int> order[k]{};
        std::atomic<int> seq{0};
        for (int i = 0; i < k; ++i) {
            std::atomic<G*> g{nullptr};
            rill::go([&, i] {
                g.store(rill::detail::getg(), std::memory_order_release);
                gfutex_wait(&w, 0, why);
                order[i].store(++seq);
            });
            REQUIRE(eventually([&] { return parked(g); }));
        }
        for (int i = 0; i < k; ++i) {
            REQUIRE(gfutex_wake(&w, 1) == 1);
            REQUIRE(eventually([&] { return order[i].load() != 0; }));
            CHECK(order[i].load() == i + 1);
        }
    });
}

TEST_CASE("a wake on one address leaves waiters on another in the same bucket alone") {
    rill::run([] {
        // Addresses 251 * 8 bytes apart share a bucket of the 251-bucket table.
        auto words = std::make_unique<word[]>(503);
        word& a = words[0];
        word& b = words[502];
        std::atomic<G*> ga{nullptr}, gb{nullptr};
        std::atomic<int> returned{0};
        spawn_waiter(a, ga, returned);
        spawn_waiter(b, gb, returned);
        REQUIRE(eventually([&] { return parked(ga) && parked(gb); }));
        a.store(1);
        CHECK(gfutex_wake(&a, INT_MAX) == 1);
        REQUIRE(eventually([&] { return returned.load() == 1; }));
        CHECK(parked(gb));
        b.store(1);
        CHECK(gfutex_wake(&b, INT_MAX) == 1);
        REQUIRE(eventually([&] { return returned.load() == 2; }));
    });
}

TEST_CASE("wait times out at its deadline and leaves nothing behind") {
    auto check = [] {
        word w{0};
        CHECK_FALSE(gfutex_wait(&w, 0, why, nanotime() - 1));
        std::int64_t deadline = nanotime() + 2 * ms;
        CHECK_FALSE(gfutex_wait(&w, 0, why, deadline));
        CHECK(nanotime() >= deadline);
        CHECK(gfutex_wake(&w, INT_MAX) == 0);
    };
    rill::run(check);
    std::thread(check).join();
}

TEST_CASE("every wake that counts a waiter ends exactly that waiter's wait") {
    // Waiters with short, staggered deadlines race a waker: a waiter whose
    // timeout won must not be counted, and one that was counted must not
    // report a timeout.
    const int procs = GENERATE(1, 2, 4);
    rill::run([procs] {
        rill_test::maxprocs_scope mp(procs);
        constexpr int threads = 4;
        const int goroutines = by_build(400, 200, 100);
        const int k = goroutines + threads;
        word w{0};
        std::atomic<int> woken{0}, done{0};
        auto wait_once = [&](int i) {
            if (gfutex_wait(&w, 0, why, nanotime() + (i % 20) * ms / 10)) ++woken;
            ++done;
        };
        for (int i = 0; i < goroutines; ++i)
            rill::go([&, i] { wait_once(i); });
        std::vector<std::thread> ts;
        for (int i = 0; i < threads; ++i)
            ts.emplace_back([&, i] { wait_once(i * 7); });
        int counted = 0;
        while (done.load() < k) {
            counted += gfutex_wake(&w, 1);
            rill::gosched();
        }
        for (auto& t : ts)
            t.join();
        CHECK(counted == woken.load());
    });
}

TEST_CASE("goroutines and threads pass a barrier on one word, round after round") {
    const int procs = GENERATE(1, 3);
    rill::run([procs] {
        rill_test::maxprocs_scope mp(procs);
        constexpr int threads = 3;
        const int goroutines = by_build(300, 100, 50);
        const int rounds = by_build(30, 10, 10);
        const int k = goroutines + threads;
        word gen{0};
        std::atomic<int> arrived{0}, left{0};
        auto member = [&] {
            for (std::uint32_t r = 0; r < static_cast<std::uint32_t>(rounds); ++r) {
                ++arrived;
                while (gen.load() == r)
                    gfutex_wait(&gen, r, why);
            }
            ++left;
        };
        for (int i = 0; i < goroutines; ++i)
            rill::go(member);
        std::vector<std::thread> ts;
        for (int i = 0; i < threads; ++i)
            ts.emplace_back(member);
        for (int r = 0; r < rounds; ++r) {
            REQUIRE(eventually([&] { return arrived.load() == k * (r + 1); }));
            gen.store(static_cast<std::uint32_t>(r + 1));
            gfutex_wake(&gen, INT_MAX);
        }
        REQUIRE(eventually([&] { return left.load() == k; }));
        for (auto& t : ts)
            t.join();
    });
}

TEST_CASE("a token passes around a ring of waiters on more addresses than buckets") {
    rill::run([] {
        rill_test::maxprocs_scope mp(2);
        constexpr int threads = 2;
        const int goroutines = by_build(1000, 500, 300);
        const int rounds = by_build(20, 10, 5);
        const int n = goroutines + threads;
        auto flags = std::make_unique<word[]>(static_cast<std::size_t>(n));
        std::atomic<int> holder{0}, hops{0}, out_of_turn{0}, left{0};
        auto member = [&](int i) {
            int next = (i + 1) % n;
            for (int r = 0; r < rounds; ++r) {
                while (flags[i].load() == 0)
                    gfutex_wait(&flags[i], 0, why);
                flags[i].store(0);
                if (holder.load() != i) ++out_of_turn;
                holder.store(next);
                ++hops;
                flags[next].store(1);
                gfutex_wake(&flags[next], 1);
            }
            ++left;
        };
        std::vector<std::thread> ts;
        // Threads take places spread around the ring.
        for (int i = 0; i < n; ++i)
            if (i % (n / threads) == 1 && static_cast<int>(ts.size()) < threads)
                ts.emplace_back(member, i);
            else
                rill::go([&member, i] { member(i); });
        REQUIRE(ts.size() == threads);
        flags[0].store(1);
        gfutex_wake(&flags[0], 1);
        // Joined only at the end: a blocked join would hold a processor.
        REQUIRE(eventually([&] { return left.load() == n; }));
        for (auto& t : ts)
            t.join();
        CHECK(hops.load() == n * rounds);
        CHECK(out_of_turn.load() == 0);
    });
}
