#include "http_exchange.hpp"

#include <rill/admin/server.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace rill::admin {

namespace {

// The "rill.admin" logger: one a program registered under that name, else
// one on stderr. Kept for the process: connection goroutines may log late.
spdlog::logger& log() {
    static std::shared_ptr<spdlog::logger> l = [] {
        if (auto found = spdlog::get("rill.admin")) return found;
        try {
            return spdlog::stderr_color_mt("rill.admin");
        } catch (const spdlog::spdlog_ex&) { // registered meanwhile
            return spdlog::get("rill.admin");
        }
    }();
    return *l;
}

server_options checked(server_options o) {
    if (o.max_connections < 1)
        throw std::invalid_argument("admin server: max_connections must be at least 1");
    return o;
}

constexpr const char* text_type = "text/plain; charset=utf-8";

detail::response text(int status, std::string body) {
    return {status, text_type, std::move(body), {}};
}

} // namespace

struct server::state {
    explicit state(server_options o)
        : opts(checked(std::move(o))), listener(net::tcp_listener::bind(opts.listen)),
          bound(listener.local_address()), slots(opts.max_connections) {}

    detail::response route(const detail::request& req) const;
    void serve(net::tcp_stream& s);
    void accept_loop();

    const server_options opts;
    net::tcp_listener listener;
    const net::address bound; // kept: the listener's is gone once closed
    rill::semaphore slots;    // connections served at once
    rill::wait_group running; // the accept goroutine and every connection's
    std::mutex mu;            // guards the two below; held only briefly
    std::set<net::tcp_stream*> open;
    bool closed = false;
};

detail::response server::state::route(const detail::request& req) const {
    static const std::set<std::string, std::less<>> builtin = {"/healthz", "/readyz", "/metrics",
                                                               "/debug/goroutines"};
    auto extra = opts.pages.find(req.path);
    if (!builtin.contains(req.path) && extra == opts.pages.end())
        return text(404, "404 page not found\n");
    if (req.method != "GET" && req.method != "HEAD") {
        auto r = text(405, "405 method not allowed: only GET and HEAD\n");
        r.headers.emplace_back("Allow", "GET, HEAD");
        return r;
    }
    if (extra != opts.pages.end())
        return {200, extra->second.content_type, extra->second.body(), {}};
    if (req.path == "/healthz") return text(200, "ok\n");
    if (req.path == "/readyz") {
        std::string why = opts.not_ready ? opts.not_ready() : std::string();
        return why.empty() ? text(200, "ready\n") : text(503, "not ready: " + why + "\n");
    }
    if (req.path == "/metrics") {
        exposition e = opts.metrics ? opts.metrics->collect() : exposition();
        write_runtime_metrics(e);
        return {200, "text/plain; version=0.0.4; charset=utf-8", e.text(), {}};
    }
    std::ostringstream dump;
    dump_goroutines(dump);
    return text(200, dump.str());
}

void server::state::serve(net::tcp_stream& s) {
    auto until = [this] { return std::chrono::steady_clock::now() + opts.request_timeout; };
    s.set_deadline(until());
    detail::request req = detail::read_request(s, opts.max_header_bytes);
    if (req.error_status < 0) {
        log().debug("{}: no request: {}", s.peer_address().to_string(), req.error);
        return;
    }
    if (req.error_status)
        log().debug("{}: bad request: {}", s.peer_address().to_string(), req.error);
    // As long again to take the response as to send the request: a timed-out
    // request still hears 408.
    s.set_deadline(until());
    detail::response r;
    try {
        r = req.error_status ? text(req.error_status, req.error + "\n") : route(req);
    } catch (const std::exception& e) { // a page or collector that failed
        log().warn("{} {}: {}", req.method, req.path, e.what());
        r = text(500, std::string("500 internal error: ") + e.what() + "\n");
    }
    detail::write_response(s, r, req.method == "HEAD");
}

void server::state::accept_loop() {
    for (;;) {
        slots.acquire();
        std::error_code ec;
        net::tcp_stream s = listener.accept(ec);
        if (ec) {
            slots.release();
            if (ec == net::net_errc::closed) return;
            // Out of descriptors, say: the client is dropped, and the next
            // accept waits a moment rather than spin on the same error.
            log().warn("admin endpoint {}: accept: {}", opts.listen, ec.message());
            rill::sleep(std::chrono::milliseconds(100));
            continue;
        }
        running.add(1);
        go(
            [this, s = std::move(s)]() mutable {
                bool served = false;
                {
                    std::lock_guard lk(mu);
                    if (!closed) served = open.insert(&s).second;
                }
                if (served) {
                    serve(s);
                    std::lock_guard lk(mu);
                    open.erase(&s);
                }
                s.close();
                slots.release();
                running.done();
            },
            {.name = "admin connection"});
    }
}

server::server(server_options options) : state_(std::make_shared<state>(std::move(options))) {
    log().info("admin endpoint on http://{}/", address().to_string());
    state_->running.add(1);
    go(
        [st = state_] {
            st->accept_loop();
            st->running.done();
        },
        {.name = "admin accept"});
}

server::~server() { close(); }

net::address server::address() const { return state_->bound; }

void server::close() {
    {
        std::lock_guard lk(state_->mu);
        if (state_->closed) return;
        state_->closed = true;
        state_->listener.close();
        for (net::tcp_stream* s : state_->open)
            s->close();
    }
    state_->running.wait();
}

} // namespace rill::admin
