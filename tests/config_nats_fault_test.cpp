// The NATS bridge (rill/nats/bridge.hpp) when things go wrong: the server
// restarted under a running subscriber and publisher, a subscriber too slow
// for its publisher, and the test harness's own nats-server outliving a
// killed test. Every check waits for what the bridge reports (its log) or
// delivers, never for a time.
#include "nats_bridge.hpp"
#include "nats_server.hpp"
#include "test_util.hpp"

#include <rill/csp/context.hpp>
#include <rill/nats/bridge.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace rill_test;
using std::int64_t;

namespace {

// Stops the server with sig, waits until both of the bridge's connections
// ("pub" and "sub") report the disconnection, starts the server again, and
// waits until both report the reconnection; `between` runs while it is down.
template <class F> void restart(nats_server& server, int sig, F between) {
    auto& log = nats_log();
    auto from = log.mark();
    rill::blocking([&] { server.stop(sig); });
    for (const char* who : {"pub: ", "sub: "})
        REQUIRE(rill::blocking([&] {
                    return log.wait_for_line(from, {who, "disconnected from the NATS server"});
                }) != "");
    between();
    from = log.mark();
    rill::blocking([&] { server.start(); });
    for (const char* who : {"pub: ", "sub: "})
        REQUIRE(rill::blocking([&] {
                    return log.wait_for_line(from, {who, "reconnected to " + server.url()});
                }) != "");
}

nats::publish_options pub_options(const nats_server& s, const std::string& subject,
                                  nats::delivery d) {
    auto o = publishing(s, subject, d);
    o.connection.name = "pub";
    return o;
}

nats::subscribe_options sub_options(const nats_server& s, const std::string& subject,
                                    nats::delivery d) {
    auto o = subscribing(s, subject, d);
    o.connection.name = "sub";
    return o;
}

} // namespace

TEST_CASE("nats_server child killed by SIGKILL", "[.]") {
    nats_server server;
    std::cout << "port " << server.port() << " dir " << server.dir().string() << std::endl;
    ::raise(SIGKILL);
}

TEST_CASE("nats_server: a test killed by a signal takes its nats-server with it") {
    auto r = run_child("nats_server child killed by SIGKILL");
    REQUIRE(WIFSIGNALED(r.status));
    REQUIRE(WTERMSIG(r.status) == SIGKILL);
    auto at = r.output.find("port ");
    auto dir_at = r.output.find(" dir ");
    REQUIRE(at != std::string::npos);
    REQUIRE(dir_at != std::string::npos);
    int port = std::stoi(r.output.substr(at + 5));
    auto dir = r.output.substr(dir_at + 5, r.output.find('\n', dir_at) - dir_at - 5);
    // The kernel kills the orphaned server at once; the limit only turns a
    // server left running into a failure.
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (nats_server::accepts(port) && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK_FALSE(nats_server::accepts(port));
    // Left by the killed test.
    REQUIRE(dir.rfind("/tmp/rill-nats-", 0) == 0);
    std::filesystem::remove_all(dir);
}

TEST_CASE("nats: JetStream publisher and subscriber ride out a server crash, losing nothing") {
    nats_server server;
    const int n = by_build(300, 200, 100);
    in_runtime([&] {
        auto so = sub_options(server, "t.restart", nats::delivery::at_least_once);
        so.durable = "restart";
        // What the crash kept from the subscriber comes again soon.
        so.ack_wait = std::chrono::seconds(1);
        subscriber<int64_t> sub(so, 0);
        publisher<int64_t> pub(pub_options(server, "t.restart", nats::delivery::at_least_once));
        // Publishes 1..n whatever state the server is in.
        rill::go([in = pub.in, n]() mutable {
            for (int64_t i = 1; i <= n; ++i)
                in.send(i);
        });
        std::set<int64_t> seen;
        auto take = [&](std::size_t until) {
            while (seen.size() < until) {
                auto v = sub.next();
                REQUIRE(v >= 1);
                REQUIRE(v <= n);
                seen.insert(v);
            }
        };
        take(n / 3);
        // SIGKILL: a crash, with values in flight both ways. What the server
        // acknowledged it had written to its store, which outlives the
        // process; the rest the publisher sends again.
        restart(server, SIGKILL, [] {});
        take(n);
        sub.stop();
        pub.finish();
    });
}

TEST_CASE("nats: core publisher and subscriber carry on after a server restart") {
    nats_server server;
    const int n = by_build(200, 100, 50);
    in_runtime([&] {
        auto so = sub_options(server, "t.core", nats::delivery::at_most_once);
        so.max_pending = 4 * n; // nothing dropped for being slow
        subscriber<std::string> sub(so, 0);
        publisher<std::string> pub(pub_options(server, "t.core", nats::delivery::at_most_once));
        for (int i = 1; i <= n; ++i)
            pub.in.send("before " + std::to_string(i));
        for (int i = 1; i <= n; ++i)
            REQUIRE(sub.next() == "before " + std::to_string(i));
        // Published while the server is down: buffered by the client library
        // and sent on reconnection, but lost if that comes before the
        // subscriber's own resubscription, so not counted on.
        restart(server, SIGTERM, [&] {
            for (int i = 1; i <= n; ++i)
                pub.in.send("outage " + std::to_string(i));
        });
        int last_outage = 0;
        auto outage = [&](const std::string& v) {
            if (v.rfind("outage ", 0) != 0) return false;
            int i = std::stoi(v.substr(7));
            CHECK(i > last_outage); // in order, each once
            last_outage = i;
            return true;
        };
        // Probes until one arrives: from then on the subscription is back on
        // the server and every value published reaches it. The interval
        // between probes only paces the retries.
        int probes = 0;
        for (bool back = false; !back;) {
            pub.in.send("probe " + std::to_string(++probes));
            while (auto v = sub.next_within(std::chrono::milliseconds(200))) {
                if (outage(*v)) continue;
                REQUIRE(v->rfind("probe ", 0) == 0);
                back = true;
                break;
            }
            REQUIRE(probes < 100);
        }
        for (int i = 1; i <= n; ++i)
            pub.in.send("after " + std::to_string(i));
        for (int i = 1; i <= n;) {
            auto v = sub.next();
            if (v.rfind("probe ", 0) == 0) continue; // sent before the first one arrived
            REQUIRE(v == "after " + std::to_string(i++));
        }
        sub.stop();
        pub.finish();
    });
}

TEST_CASE("nats: a core subscriber whose output nobody takes reports a slow consumer") {
    nats_server server;
    in_runtime([&] {
        auto& log = nats_log();
        auto from = log.mark();
        auto so = sub_options(server, "t.flood", nats::delivery::at_most_once);
        so.max_pending = 8;
        subscriber<std::string> sub(so, 0); // out is never read
        // Far more than the subscriber's pending limit.
        publish_all(publishing(server, "t.flood", nats::delivery::at_most_once), numbered(1000));
        auto line = rill::blocking([&] {
            return log.wait_for_line(from, {"sub: slow consumer", "dropped messages ("});
        });
        REQUIRE(line != "");
        auto count = line.substr(line.find("dropped messages (") + 18);
        CHECK(std::stoll(count) > 0);
        CHECK(sub.stop().delivered == 0);
    });
}
