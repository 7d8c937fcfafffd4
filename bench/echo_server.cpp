// The rill side of the TCP echo benchmark (see bench/echo.sh): an echo
// server, one goroutine per connection, each reading into a 4 KiB buffer and
// writing back what it read. It mirrors bench/go/echo/main.go.
//
// Usage: bench_echo_server ADDR (e.g. 127.0.0.1:0). Prints "listening
// HOST:PORT" once it accepts connections, then serves until killed.
#include <rill/net.hpp>
#include <rill/runtime.hpp>

#include <cstddef>
#include <cstdio>
#include <system_error>

namespace net = rill::net;

namespace {

void serve(net::tcp_stream c) {
    std::byte buf[4096];
    std::error_code ec;
    while (std::size_t n = c.read(buf, ec)) {
        c.write_all(std::span(buf, n), ec);
        if (ec) return;
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: bench_echo_server ADDR\n");
        return 2;
    }
    try {
        rill::run([addr = argv[1]] {
            auto listener = net::tcp_listener::bind(addr);
            std::printf("listening %s\n", listener.local_address().to_string().c_str());
            std::fflush(stdout);
            for (;;) {
                std::error_code ec;
                auto c = listener.accept(ec);
                if (!ec) rill::go([c = std::move(c)]() mutable { serve(std::move(c)); });
            }
        });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_echo_server: %s\n", e.what());
        return 1;
    }
}
