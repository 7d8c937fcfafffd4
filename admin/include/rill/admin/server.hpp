// The admin endpoint: a small HTTP/1.1 server for a process's operators and
// its monitoring, run by goroutines of the program's own on the runtime's
// sockets (the netpoller), never by threads of its own.
//
// Contract.
// - Paths served, to GET and HEAD only:
//     /healthz          200 "ok" while the process serves at all;
//     /readyz           200 "ready", or 503 with the reason options.not_ready
//                       gives (a load balancer or Kubernetes probe takes any
//                       2xx as ready, anything else as not);
//     /metrics          the runtime's counters (write_runtime_metrics) and
//                       every collector of options.metrics, in Prometheus's
//                       text format (version 0.0.4);
//     /debug/goroutines the goroutine dump (rill::dump_goroutines) as text;
//   and each of options.pages. Any other path is 404; another method on a
//   served path is 405 with an Allow header.
// - Requests are parsed by Boost.Beast's http::request_parser, fed from the
//   socket. Bounded: a request's head may hold options.max_header_bytes
//   (else 431); a request with a body is refused (413); a malformed request
//   gets 400. Each connection has options.request_timeout to send its whole
//   request and take the response (else 408, or closed when even the
//   response cannot be written), so a slow or stalled client (slowloris)
//   holds a goroutine and a buffer of max_header_bytes for that long at
//   most; at most options.max_connections are served at once, the rest
//   wait in the listen backlog.
// - One request per connection: every response says Connection: close.
//   Scrapers and probes open a connection per request anyway, and this
//   keeps a connection's lifetime within the one timeout.
// - The constructor binds (throwing std::system_error naming the address),
//   then returns; serving happens in goroutines it starts, so it must run in
//   a goroutine (inside rill::run). close() (or the destructor) stops
//   accepting, closes the open connections and returns once every goroutine
//   of the server has ended.
#pragma once

#include <rill/admin/metrics.hpp>
#include <rill/net.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace rill::admin {

// A page of options.pages: its content type, and the body, made anew for
// each request.
struct page {
    std::string content_type;
    std::function<std::string()> body;
};

struct server_options {
    // "ip:port" to listen on: loopback unless the caller asks otherwise.
    // Port 0 picks a free port (see server::address()).
    std::string listen = "127.0.0.1:9090";
    // Why the process is not ready, or "" when it is; unset: always ready.
    std::function<std::string()> not_ready;
    // Collectors served by /metrics after the runtime's own; may be null.
    std::shared_ptr<registry> metrics;
    // More paths to serve ("/api/state", say), by exact path.
    std::map<std::string, page> pages;
    std::size_t max_header_bytes = 8 * 1024;
    std::chrono::milliseconds request_timeout = std::chrono::seconds(5);
    int max_connections = 16;
};

class server {
public:
    explicit server(server_options options);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // The address listened on (with the port chosen, for port 0), closed or not.
    net::address address() const;
    // Idempotent.
    void close();

private:
    struct state;
    std::shared_ptr<state> state_;
};

} // namespace rill::admin
