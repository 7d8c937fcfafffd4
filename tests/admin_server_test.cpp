// The admin endpoint (<rill/admin/server.hpp>): what each path answers, the
// methods and paths refused, and the bounds on bad clients (malformed,
// oversized and stalled requests), spoken to over loopback with raw
// requests so that the exact bytes on the wire are what is tested.
#include <rill/admin/metrics.hpp>
#include <rill/admin/server.hpp>
#include <rill/net.hpp>
#include <rill/runtime.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <sys/socket.h>

using namespace std::chrono_literals;
namespace admin = rill::admin;
namespace net = rill::net;

namespace {

admin::server_options loopback_any_port() {
    admin::server_options o;
    o.listen = "127.0.0.1:0";
    return o;
}

// Everything the server sends on a connection, after sending raw (and, when
// half_close, ending the sending side).
std::string round_trip(const admin::server& srv, std::string_view raw, bool half_close = false) {
    auto s = net::tcp_stream::connect(srv.address());
    s.write_all(raw);
    if (half_close) s.shutdown(SHUT_WR);
    std::string got;
    std::byte buf[4096];
    while (std::size_t n = s.read(buf))
        got.append(reinterpret_cast<const char*>(buf), n);
    return got;
}

std::string get(const admin::server& srv, std::string_view path, std::string_view method = "GET") {
    return round_trip(srv, std::string(method) + " " + std::string(path) +
                               " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

std::string status_line(const std::string& response) {
    return response.substr(0, response.find("\r\n"));
}

std::string body(const std::string& response) {
    auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? std::string() : response.substr(at + 4);
}

} // namespace

TEST_CASE("admin: /healthz, /readyz and /debug/goroutines answer GET") {
    rill::run([] {
        std::string why_not = "starting";
        auto o = loopback_any_port();
        o.not_ready = [&] { return why_not; };
        admin::server srv(o);
        auto health = get(srv, "/healthz");
        CHECK(status_line(health) == "HTTP/1.1 200 OK");
        CHECK(health.find("Connection: close\r\n") != std::string::npos);
        CHECK(body(health) == "ok\n");

        auto unready = get(srv, "/readyz");
        CHECK(status_line(unready) == "HTTP/1.1 503 Service Unavailable");
        CHECK(body(unready) == "not ready: starting\n");
        why_not.clear();
        CHECK(status_line(get(srv, "/readyz")) == "HTTP/1.1 200 OK");

        rill::go([] { rill::sleep(1h); }, {.name = "sleeper in the dump"});
        auto dump = get(srv, "/debug/goroutines?debug=1");
        CHECK(status_line(dump) == "HTTP/1.1 200 OK");
        CHECK(body(dump).find("\"sleeper in the dump\"") != std::string::npos);
        CHECK(body(dump).find("\"admin connection\"") != std::string::npos);

        auto head = get(srv, "/healthz", "HEAD");
        CHECK(status_line(head) == "HTTP/1.1 200 OK");
        CHECK(head.find("Content-Length: 3\r\n") != std::string::npos);
        CHECK(body(head).empty());
    });
}

TEST_CASE("admin: /metrics serves the runtime's counters and the registry's collectors") {
    rill::run([] {
        auto o = loopback_any_port();
        o.metrics = std::make_shared<admin::registry>();
        o.metrics->add([](admin::exposition& e) {
            e.add("app_widgets_total", admin::metric_type::counter, "Widgets made.",
                  {{"kind", "a \"quoted\"\nname\\"}}, 3);
        });
        auto gone = o.metrics->add([](admin::exposition& e) {
            e.add("app_removed", admin::metric_type::gauge, "Removed before the scrape.", 1);
        });
        o.metrics->remove(gone);
        admin::server srv(o);
        auto r = get(srv, "/metrics");
        CHECK(status_line(r) == "HTTP/1.1 200 OK");
        CHECK(r.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") !=
              std::string::npos);
        auto text = body(r);
        CHECK(text.find("# HELP app_widgets_total Widgets made.\n# TYPE app_widgets_total "
                        "counter\napp_widgets_total{kind=\"a \\\"quoted\\\"\\nname\\\\\"} 3\n") !=
              std::string::npos);
        CHECK(text.find("app_removed") == std::string::npos);
        CHECK(text.find("# TYPE rill_goroutines gauge\nrill_goroutines ") != std::string::npos);
        // One family, its two samples together under one HELP and TYPE.
        CHECK(text.find("# TYPE rill_preemptions_total counter\n"
                        "rill_preemptions_total{how=\"signal\"} ") != std::string::npos);
        CHECK(text.find("rill_preemptions_total{how=\"cooperative\"} ") != std::string::npos);
        CHECK(text.find("process_resident_memory_bytes 0\n") == std::string::npos);
    });
}

TEST_CASE("admin: unknown paths are 404, other methods 405") {
    rill::run([] {
        admin::server srv(loopback_any_port());
        CHECK(status_line(get(srv, "/nothing")) == "HTTP/1.1 404 Not Found");
        CHECK(status_line(get(srv, "/nothing", "DELETE")) == "HTTP/1.1 404 Not Found");
        auto post = get(srv, "/metrics", "PUT");
        CHECK(status_line(post) == "HTTP/1.1 405 Method Not Allowed");
        CHECK(post.find("Allow: GET, HEAD\r\n") != std::string::npos);
    });
}

TEST_CASE("admin: bad requests get an error status, not a hang") {
    rill::run([] {
        auto o = loopback_any_port();
        o.max_header_bytes = 1024;
        admin::server srv(o);
        SECTION("malformed") {
            CHECK(status_line(round_trip(srv, "NOT HTTP AT ALL\r\n\r\n")) ==
                  "HTTP/1.1 400 Bad Request");
        }
        SECTION("a head over the limit: refused before the rest is read") {
            std::string big = "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(4096, 'x');
            CHECK(status_line(round_trip(srv, big, true)) ==
                  "HTTP/1.1 431 Request Header Fields Too Large");
        }
        SECTION("a body") {
            CHECK(status_line(round_trip(srv, "POST /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
                                              "hello")) == "HTTP/1.1 413 Payload Too Large");
        }
        SECTION("the stream ends before the request does: nothing to answer") {
            CHECK(round_trip(srv, "GET /healthz HTTP/1.1\r\nHost:", true).empty());
        }
    });
}

TEST_CASE("admin: a stalled request is answered 408 once its timeout passes") {
    rill::run([] {
        auto o = loopback_any_port();
        o.request_timeout = 200ms;
        admin::server srv(o);
        // Half a request, then nothing (a slowloris client): the read gets
        // whatever the server sends before closing.
        auto r = round_trip(srv, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
        CHECK(status_line(r) == "HTTP/1.1 408 Request Timeout");
        // The server goes on serving.
        CHECK(status_line(get(srv, "/healthz")) == "HTTP/1.1 200 OK");
    });
}

TEST_CASE("admin: close ends stalled connections and the accept loop") {
    rill::run([] {
        auto o = loopback_any_port();
        o.request_timeout = 1h; // only close can end the stalled ones
        o.max_connections = 2;
        admin::server srv(o);
        auto a = net::tcp_stream::connect(srv.address());
        auto b = net::tcp_stream::connect(srv.address());
        a.write_all("GET /");
        b.write_all("GET /");
        srv.close(); // returns only once every server goroutine has ended
        // Ended by the server: the end of the stream, or a reset for one
        // still in the listen backlog when the listener closed.
        std::byte buf[16];
        std::error_code ec;
        CHECK(a.read(buf, ec) == 0);
        CHECK(b.read(buf, ec) == 0);
        net::tcp_stream::connect(srv.address(), ec);
        CHECK(ec == std::errc::connection_refused);
    });
}

TEST_CASE("admin: listens on loopback by default, and says so when it cannot bind") {
    CHECK(admin::server_options{}.listen == "127.0.0.1:9090");
    rill::run([] {
        admin::server first(loopback_any_port());
        admin::server_options taken;
        taken.listen = first.address().to_string();
        CHECK_THROWS_WITH(admin::server(taken),
                          Catch::Contains(taken.listen) && Catch::Contains("in use"));
    });
}
