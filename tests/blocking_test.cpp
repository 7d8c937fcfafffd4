// Blocking calls (Go's entersyscall / exitsyscall, proc_test.go's
// TestBlockingSyscall*): rill::blocking hands the processor over so the other
// goroutines keep every processor busy, gives back f's result or exception,
// and inside f the goroutine behaves like a plain thread.
#include "test_util.hpp"

#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <sstream>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;
using rill_test::by_build;
using rill_test::maxprocs_scope;
using rill_test::watchdog;

namespace {

// A pipe whose read end blocks a thread until release().
class gate {
public:
    gate() { REQUIRE(pipe(fds_) == 0); }
    gate(const gate&) = delete;
    gate& operator=(const gate&) = delete;
    ~gate() {
        close(fds_[0]);
        close(fds_[1]);
    }
    // No assertion here: Catch's are not thread-safe, and this runs beside
    // the main goroutine's. A failed read returns '\0'.
    char wait() {
        char c = 0;
        return read(fds_[0], &c, 1) == 1 ? c : '\0';
    }
    void release(char c) { REQUIRE(write(fds_[1], &c, 1) == 1); }

private:
    int fds_[2];
};

} // namespace

TEST_CASE("while one goroutine blocks its thread, the others keep every processor") {
    watchdog dog("a blocked thread kept its processor", 60s);
    rill::run([] {
        maxprocs_scope procs(2);
        auto retakes = rill::stats().blocking_retakes;
        gate g;
        rill::chan<char> got(1);
        rill::go([&] { got.send(rill::blocking([&] { return g.wait(); })); });
        // Two goroutines that cannot be preempted meet, over and over, in a
        // spin: each round needs both running at once, on both processors,
        // while the first goroutine's thread sits in read(2).
        std::atomic<int> turn{0};
        rill::wait_group wg;
        wg.add(2);
        constexpr int rounds = 2000;
        for (int me = 0; me < 2; ++me)
            rill::go([&, me] {
                rill::no_preempt np;
                for (int r = 0; r < rounds; ++r) {
                    while (turn.load() % 2 != me) {
                    }
                    turn.fetch_add(1);
                }
                wg.done();
            });
        wg.wait();
        CHECK(turn.load() == 2 * rounds);
        g.release('x');
        CHECK(got.recv() == 'x');
        CHECK(rill::stats().blocking_retakes > retakes);
    });
}

TEST_CASE("blocking gives back f's result or exception") {
    rill::run([] {
        CHECK(rill::blocking([] { return 42; }) == 42);
        std::string s = rill::blocking([] { return std::string(100, 'y'); });
        CHECK(s.size() == 100);
        int x = 0;
        int& r = rill::blocking([&]() -> int& { return x; });
        CHECK(&r == &x);
        CHECK_THROWS_WITH(rill::blocking([]() -> int { throw std::runtime_error("from f"); }),
                          "from f");
        // The goroutine is whole again afterwards: it parks and resumes.
        rill::sleep(1ms);
        CHECK(rill::goroutine_id() != 0);
        // Nested calls and plain threads just run f.
        CHECK(rill::blocking([] { return rill::blocking([] { return 7; }); }) == 7);
    });
    CHECK(rill::blocking([] { return 5; }) == 5);
}

TEST_CASE("inside a blocking call, channels, sleeps and locks block the thread") {
    rill::run([] {
        maxprocs_scope procs(2);
        rill::chan<int> c(0);
        rill::mutex mu;
        rill::go([&] {
            for (int i = 0; i < 100; ++i)
                c.send(i);
            c.close();
        });
        long sum = rill::blocking([&] {
            long s = 0;
            for (auto v : c) {
                std::lock_guard lk(mu);
                s += v;
            }
            rill::sleep(1ms);
            rill::gosched();
            return s;
        });
        CHECK(sum == 4950);
    });
}

TEST_CASE("many goroutines in and out of blocking calls at once") {
    watchdog dog("goroutines in blocking calls deadlocked", 120s);
    rill::run([] {
        maxprocs_scope procs(2);
        const int n = by_build(400, 200, 100);
        const int calls = by_build(50, 20, 10);
        rill::chan<long> results(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i)
            rill::go([&, i] {
                long s = 0;
                for (int k = 0; k < calls; ++k) {
                    s += rill::blocking([&] {
                        if (k % 8 == 0) usleep(50);
                        return static_cast<long>(k);
                    });
                    if (k % 3 == 0) rill::gosched();
                }
                results.send(s + i);
            });
        long total = 0;
        for (int i = 0; i < n; ++i)
            total += *results.recv();
        long per = static_cast<long>(calls) * (calls - 1) / 2;
        CHECK(total == n * per + static_cast<long>(n) * (n - 1) / 2);
    });
}

TEST_CASE("a goroutine in a blocking call shows as such in the goroutine dump") {
    rill::run([] {
        gate g;
        rill::chan<int> in(1), out(1);
        rill::go(
            [&] {
                in.send(1);
                rill::blocking([&] { return g.wait(); });
                out.send(1);
            },
            {"blocker"});
        in.recv();
        std::string dump;
        REQUIRE(rill_test::eventually([&] {
            std::ostringstream s;
            rill::dump_goroutines(s);
            dump = s.str();
            return dump.find("\"blocker\" [blocking call") != std::string::npos;
        }));
        g.release('x');
        out.recv();
    });
}
