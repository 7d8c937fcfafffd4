// The NATS bridge (rill/nats/bridge.hpp) against a real nats-server started
// for each test: core NATS round trips and queue groups, JetStream
// redelivery after a stopped or crashed consumer, publishes retried after the
// server refused them, codecs (bytes included).
#include "nats_bridge.hpp"
#include "nats_connection.hpp"
#include "nats_server.hpp"
#include "test_util.hpp"

#include <rill/config/types.hpp>
#include <rill/csp/context.hpp>
#include <rill/nats/bridge.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace nats = rill::config::nats;
using namespace rill_test;
using std::int64_t;

namespace {
struct point {
    int64_t x = 0, y = 0;
    friend bool operator==(const point&, const point&) = default;
};
} // namespace

// "x,y" in decimal.
template <> struct rill::config::codec<point> {
    static void encode(const point& p, std::string& out) {
        out += std::to_string(p.x) + "," + std::to_string(p.y);
    }
    static point decode(std::string_view bytes) {
        auto comma = bytes.find(',');
        if (comma == std::string_view::npos) throw codec_error("not a point: no comma");
        return {codec<int64_t>::decode(bytes.substr(0, comma)),
                codec<int64_t>::decode(bytes.substr(comma + 1))};
    }
};
RILL_CONFIG_TYPE(point, "test_point");

namespace {

// Publishes 1..n with JetStream: stored before anyone subscribes.
void store_one_to(const nats_server& s, const std::string& subject, int n) {
    std::vector<int64_t> values;
    for (int i = 1; i <= n; ++i)
        values.push_back(i);
    publish_all(publishing(s, subject, nats::delivery::at_least_once), values);
}

// A durable consumer of subject, with a few unacknowledged messages at most
// so that a stopped one holds some.
nats::subscribe_options durable_consumer(const nats_server& s, const std::string& subject,
                                         const std::string& durable) {
    auto so = subscribing(s, subject, nats::delivery::at_least_once);
    so.durable = durable;
    so.max_pending = 16;
    return so;
}

// Takes values from sub until seen holds all of 1..n (each value in range).
void take_the_rest(subscriber<int64_t>& sub, std::set<int64_t>& seen, int n) {
    while (seen.size() < static_cast<std::size_t>(n)) {
        auto v = sub.next();
        REQUIRE(v >= 1);
        REQUIRE(v <= n);
        seen.insert(v);
    }
}

// Binary data: NUL bytes, a newline, bytes that are not UTF-8 (0xff; 0xc3
// without its continuation byte).
rill::config::bytes binary() {
    rill::config::bytes b;
    for (int v : {0x00, 0xff, 0x0a, 0xc3, 0x28, 0x00, 0x80, 0x7f})
        b.push_back(static_cast<std::byte>(v));
    return b;
}

// Creates or updates subject's default stream to hold max_msgs messages at
// most (-1: no limit) and to refuse more (discard new).
void limit_stream(const nats_server& s, const std::string& subject, int64_t max_msgs) {
    namespace detail = nats::detail;
    rill::blocking([&] {
        detail::connection conn(connect_to(s, "limit"));
        std::string name = detail::default_stream(subject);
        jsStreamConfig cfg;
        jsStreamConfig_Init(&cfg);
        cfg.Name = name.c_str();
        const char* subjects[] = {subject.c_str()};
        cfg.Subjects = subjects;
        cfg.SubjectsLen = 1;
        cfg.Storage = js_FileStorage;
        cfg.MaxMsgs = max_msgs;
        cfg.Discard = js_DiscardNew;
        jsStreamInfo* si = nullptr;
        jsErrCode err{};
        natsStatus st = max_msgs < 0 ? js_UpdateStream(&si, conn.js(), &cfg, nullptr, &err)
                                     : js_AddStream(&si, conn.js(), &cfg, nullptr, &err);
        jsStreamInfo_Destroy(si);
        detail::check(st, "setting up stream " + name, err);
    });
}

} // namespace

TEST_CASE("nats: core publish and subscribe carry every value in order") {
    nats_server server;
    const int n = rill_test::by_build(5000, 2000, 500);
    in_runtime([&] {
        auto so = subscribing(server, "t.core", nats::delivery::at_most_once);
        so.max_pending = n; // loopback and one subscriber: nothing is dropped
        subscriber<std::string> sub(so, 64);
        publish_all(publishing(server, "t.core", nats::delivery::at_most_once), numbered(n));
        for (int i = 1; i <= n; ++i)
            REQUIRE(sub.next() == std::to_string(i));
        auto st = sub.stop();
        CHECK(st.delivered == static_cast<std::uint64_t>(n));
        CHECK(st.undecodable == 0);
    });
}

TEST_CASE("nats: a queue group of three subscribers shares the values, each exactly once") {
    nats_server server;
    const int n = rill_test::by_build(3000, 1500, 600);
    in_runtime([&] {
        auto so = subscribing(server, "t.work", nats::delivery::at_most_once);
        so.queue = "workers";
        so.max_pending = n;
        std::vector<std::unique_ptr<subscriber<std::string>>> subs;
        for (int i = 0; i < 3; ++i)
            subs.push_back(std::make_unique<subscriber<std::string>>(so, 16));
        // Every subscriber's values, tagged with its index, on one channel.
        rill::chan<std::pair<int, std::string>> merged(64);
        rill::wait_group collectors;
        for (int i = 0; i < 3; ++i) {
            collectors.add(1);
            rill::go([&, i] {
                for (auto& v : subs[i]->out)
                    merged.send({i, v});
                collectors.done();
            });
        }
        publish_all(publishing(server, "t.work", nats::delivery::at_most_once), numbered(n));
        std::map<std::string, int> times;
        int per_sub[3] = {};
        for (int k = 0; k < n; ++k) {
            auto [i, v] = *merged.recv();
            ++times[v];
            ++per_sub[i];
        }
        for (auto& s : subs) {
            s->stop();
            s->out.close();
        }
        collectors.wait();
        CHECK(merged.len() == 0); // nothing beyond the n values
        REQUIRE(times.size() == static_cast<std::size_t>(n));
        for (auto& [v, count] : times)
            REQUIRE(count == 1);
        for (int c : per_sub)
            CHECK(c > 0);
    });
}

TEST_CASE("nats: a JetStream durable consumer stopped mid-stream loses nothing") {
    nats_server server;
    const int n = rill_test::by_build(600, 300, 150);
    in_runtime([&] {
        store_one_to(server, "t.jobs", n);
        auto so = durable_consumer(server, "t.jobs", "jobs");
        std::set<int64_t> seen;
        {
            // Unbuffered: a value is taken when this goroutine receives it.
            subscriber<int64_t> first(so, 0);
            for (int k = 0; k < n / 4; ++k)
                seen.insert(first.next());
            CHECK(first.stop().delivered == static_cast<std::uint64_t>(n / 4));
        }
        subscriber<int64_t> second(so, 0);
        take_the_rest(second, seen, n);
        second.stop();
    });
}

TEST_CASE("nats: a JetStream consumer that crashes before acknowledging gets its messages again") {
    nats_server server;
    const int n = rill_test::by_build(300, 200, 100);
    in_runtime([&] {
        store_one_to(server, "t.crash", n);
        auto so = durable_consumer(server, "t.crash", "crashy");
        // Redelivery of what the crashed consumer held waits for ack_wait.
        so.ack_wait = std::chrono::milliseconds(500);
        std::set<int64_t> seen;
        // The crash: an exception out of the delivery, after n / 3 values.
        std::string crash;
        try {
            nats::detail::subscribe_encoded(rill::background(), so, [&](std::string_view b) {
                if (seen.size() == static_cast<std::size_t>(n / 3))
                    throw std::runtime_error("crash");
                seen.insert(rill::config::codec<int64_t>::decode(b));
                return true;
            });
        } catch (const std::runtime_error& e) {
            crash = e.what();
        }
        REQUIRE(crash == "crash");
        subscriber<int64_t> second(so, 0);
        take_the_rest(second, seen, n);
        second.stop();
    });
}

TEST_CASE("nats: JetStream publishes the server refuses are published again, none is lost") {
    nats_server server;
    const int n = 200, room = 50;
    in_runtime([&] {
        // Until the limit is lifted, the server refuses the values after the
        // first `room` ones: the publisher must keep them and try again.
        limit_stream(server, "t.full", room);
        auto from = nats_log().mark();
        publisher<int64_t> pub(publishing(server, "t.full", nats::delivery::at_least_once));
        rill::go([in = pub.in, n]() mutable {
            for (int64_t i = 1; i <= n; ++i)
                in.send(i);
        });
        auto reported = rill::blocking(
            [&] { return nats_log().wait_for_line(from, {"publishes to t.full failed"}); });
        CHECK_THAT(reported, Catch::Contains("maximum messages exceeded"));
        limit_stream(server, "t.full", -1);
        // Every value arrives while the input is still open: the publisher
        // retries without waiting for more input or for its end.
        subscriber<int64_t> sub(durable_consumer(server, "t.full", "full"), 0);
        std::set<int64_t> seen;
        take_the_rest(sub, seen, n);
        sub.stop();
        pub.finish();
    });
}

TEST_CASE("nats: codecs encode and decode the built-in types and a user's type") {
    namespace cfg = rill::config;
    auto round_trip = [](const char* type, auto v) {
        const cfg::type_desc* t = cfg::find_type(type);
        REQUIRE(t);
        REQUIRE(t->encode);
        std::string bytes;
        t->encode(&v, bytes);
        using T = decltype(v);
        alignas(T) unsigned char buf[sizeof(T)];
        t->decode(bytes, buf);
        auto* back = std::launder(reinterpret_cast<T*>(buf));
        bool same = *back == v;
        back->~T();
        return same;
    };
    CHECK(round_trip("string", std::string("a\0b\n", 4)));
    CHECK(round_trip("int", int64_t{-42}));
    CHECK(round_trip("float", 0.1));
    CHECK(round_trip("bool", true));
    CHECK(round_trip("lines", std::vector<std::string>{"a", "", "b"}));
    CHECK(round_trip("lines", std::vector<std::string>{}));
    CHECK(round_trip("test_point", point{3, -4}));
    CHECK(round_trip("bytes", binary()));
    CHECK(round_trip("bytes", cfg::bytes{}));
    CHECK_THROWS_AS(cfg::codec<int64_t>::decode("12x"), cfg::codec_error);
    CHECK_THROWS_AS(cfg::codec<int64_t>::decode(""), cfg::codec_error);
    CHECK_THROWS_AS(cfg::codec<bool>::decode("yes"), cfg::codec_error);
    CHECK_THROWS_AS(cfg::codec<std::vector<std::string>>::decode("a\nb"), cfg::codec_error);
    CHECK_THROWS_AS(cfg::codec<point>::decode("3;4"), cfg::codec_error);

    nats_server server;
    in_runtime([&] {
        subscriber<point> sub(subscribing(server, "t.points", nats::delivery::at_most_once), 4);
        publish_all(publishing(server, "t.points", nats::delivery::at_most_once),
                    std::vector<point>{{1, 2}, {-3, 4}});
        CHECK(sub.next() == point{1, 2});
        CHECK(sub.next() == point{-3, 4});
        sub.stop();
    });
}

TEST_CASE("nats: bytes cross unchanged, NUL and invalid UTF-8 included, and are not text") {
    const rill::config::type_desc* t = rill::config::find_type("bytes");
    REQUIRE(t);
    CHECK(t->cpp == typeid(rill::config::bytes));
    CHECK_FALSE(t->to_string);
    nats_server server;
    in_runtime([&] {
        subscriber<rill::config::bytes> sub(
            subscribing(server, "t.bytes", nats::delivery::at_most_once), 4);
        publish_all(publishing(server, "t.bytes", nats::delivery::at_most_once),
                    std::vector<rill::config::bytes>{binary(), {}, {std::byte{0}}});
        CHECK(sub.next() == binary());
        CHECK(sub.next().empty());
        CHECK(sub.next() == rill::config::bytes{std::byte{0}});
        sub.stop();
    });
}

TEST_CASE("nats: an undecodable message is counted and skipped, the next ones still arrive") {
    nats_server server;
    in_runtime([&] {
        subscriber<int64_t> sub(subscribing(server, "t.nums", nats::delivery::at_most_once), 4);
        publish_all(publishing(server, "t.nums", nats::delivery::at_most_once),
                    std::vector<std::string>{"1", "one", "3"});
        CHECK(sub.next() == 1);
        CHECK(sub.next() == 3);
        auto st = sub.stop();
        CHECK(st.delivered == 2);
        CHECK(st.undecodable == 1);
    });
}
