// Seeing inside (Go's runtime/traceback.go dumps, crash_test.go's SIGQUIT
// tests): the goroutine dump names every live goroutine with its state, wait
// reason and time waited, on demand and on SIGQUIT, after which the program
// goes on; and the runtime's counters.
#include "test_util.hpp"

#include "debug.hpp"

#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <signal.h>

#include <iostream>
#include <regex>
#include <sstream>

using namespace std::chrono_literals;
using rill_test::eventually;

namespace {

std::string dump() {
    std::ostringstream s;
    rill::dump_goroutines(s);
    return s.str();
}

bool has_line(const std::string& text, const std::string& pattern) {
    return std::regex_search(text, std::regex(pattern));
}

} // namespace

TEST_CASE("the goroutine dump shows each goroutine's state and wait reason") {
    rill::run([] {
        rill::chan<int> never(0), gate(0);
        rill::mutex mu;
        rill::wait_group started, finished;
        started.add(3);
        finished.add(3);
        rill::go(
            [&] {
                started.done();
                never.recv();
                finished.done();
            },
            {"receiver"});
        mu.lock();
        rill::go(
            [&] {
                started.done();
                std::lock_guard lk(mu);
                finished.done();
            },
            {"locker"});
        rill::go(
            [&] {
                rill::lock_os_thread();
                started.done();
                gate.recv();
                rill::unlock_os_thread();
                finished.done();
            },
            {"pinned"});
        started.wait();
        std::string d;
        REQUIRE(eventually([&] {
            d = dump();
            return has_line(d, R"(goroutine \d+ "receiver" \[waiting, chan receive, \d+ ms\])") &&
                   has_line(d, R"(goroutine \d+ "locker" \[waiting, sync\.Mutex, \d+ ms\])") &&
                   has_line(
                       d,
                       R"(goroutine \d+ "pinned" \[waiting, chan receive, \d+ ms, locked to thread\])");
        }));
        INFO(d);
        CHECK(has_line(d, R"(goroutine \d+ "main" \[running\])"));
        CHECK(has_line(d, R"(^rill: \d+ goroutines, \d+ processors, \d+ threads)"));
        mu.unlock();
        gate.send(1);
        never.close();
        finished.wait(); // nothing may still be using the locals below
    });
}

TEST_CASE("the time a goroutine has waited grows") {
    rill::run([] {
        rill::chan<int> never(0);
        rill::go([rx = never.rx()]() mutable { rx.recv(); }, {"sleeper"});
        REQUIRE(
            eventually([] { return dump().find("\"sleeper\" [waiting") != std::string::npos; }));
        rill::sleep(60ms);
        std::smatch m;
        std::string d = dump();
        REQUIRE(
            std::regex_search(d, m, std::regex(R"("sleeper" \[waiting, chan receive, (\d+) ms)")));
        CHECK(std::stol(m[1]) >= 40); // the coarse clock ticks every few ms
        never.close();
    });
}

TEST_CASE("child: SIGQUIT", "[.child]") {
    rill::run([] {
        rill::chan<int> never(0);
        rill::go([rx = never.rx()]() mutable { rx.recv(); }, {"quit-me"});
        REQUIRE(
            eventually([] { return dump().find("\"quit-me\" [waiting") != std::string::npos; }));
        raise(SIGQUIT);
        REQUIRE(eventually([] { return rill::detail::quit_dumps_written() > 0; }));
        never.close();
    });
    std::cout << "went on after SIGQUIT" << std::endl;
}

TEST_CASE("SIGQUIT prints every goroutine to stderr and the program goes on") {
    auto r = rill_test::run_child("child: SIGQUIT");
    INFO(r.output);
    CHECK(r.exited_with(0));
    CHECK(has_line(r.output, R"(goroutine \d+ "quit-me" \[waiting, chan receive, \d+ ms\])"));
    CHECK(r.output.find("went on after SIGQUIT") != std::string::npos);
}

TEST_CASE("dump sections of upper layers follow the goroutines until removed") {
    auto h = rill::add_dump_section([](std::ostream& out) { out << "section: supervisors\n"; });
    CHECK(dump().find("section: supervisors") != std::string::npos);
    rill::remove_dump_section(h);
    CHECK(dump().find("section: supervisors") == std::string::npos);
}

TEST_CASE("counters: processors, threads, parks") {
    rill::run([] {
        auto before = rill::stats();
        CHECK(before.processors == static_cast<std::uint64_t>(rill::maxprocs()));
        CHECK(before.threads >= 1);
        rill::chan<int> c(0);
        rill::go([&] { c.send(1); });
        c.recv();
        CHECK(rill::stats().parks > before.parks);
    });
}
