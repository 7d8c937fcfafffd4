// Messages per second across the NATS bridge (rill/nats/bridge.hpp) for
// 64-byte string values, beside the same values through an in-process
// channel. A subscriber and a publisher in this one process, through a
// nats-server given by URL (start one with `nats-server -js`):
//   channel     goroutine -> chan<std::string>(64) -> goroutine
//   core        publish (at_most_once) -> server -> subscribe (at_most_once)
//   jetstream   publish (at_least_once: a window of messages awaiting the
//               server's acknowledgement) while a durable pull consumer
//               receives and acknowledges them
// Each line: "natsbridge MODE N values MS ms RATE values/s", timed from the
// first value sent to the last received.
//
// Usage: bench_natsbridge URL [N [JS_N]]   (N default 100000: channel and
// core; JS_N default N/10: JetStream). bench/natsbridge.sh runs it beside the
// Go reference (go/natsbridge).
#include <rill/csp/context.hpp>
#include <rill/nats/bridge.hpp>
#include <rill/runtime.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace nats = rill::config::nats;
using clock_type = std::chrono::steady_clock;

namespace {

void report(const char* mode, long n, clock_type::time_point start) {
    double ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
    std::printf("natsbridge %-9s %8ld values %9.1f ms %12.0f values/s\n", mode, n, ms,
                n / (ms / 1000));
}

std::string value() { return std::string(64, 'v'); }

void channel_run(long n) {
    rill::chan<std::string> c(64);
    auto start = clock_type::now();
    rill::go([=]() mutable {
        for (long i = 0; i < n; ++i)
            c.send(value());
        c.close();
    });
    long got = 0;
    for (auto& v : c)
        got += !v.empty();
    report("channel", got, start);
}

void bridge_run(const char* mode, const std::string& url, nats::delivery d, long n) {
    nats::subscribe_options so;
    so.connection.servers = url;
    so.subject = std::string("bench.") + mode;
    so.mode = d;
    so.durable = "bench";
    so.max_pending = d == nats::delivery::at_most_once ? static_cast<int>(n) : 1024;
    auto [ctx, cancel] = rill::with_cancel(rill::background());
    rill::chan<std::string> out(64);
    rill::chan<std::monostate> ready(1), ended(1);
    so.ready = [ready]() mutable { ready.send({}); };
    rill::go([&, ctx = ctx] {
        nats::subscribe<std::string>(ctx, out.tx(), so);
        ended.send({});
    });
    ready.recv();
    nats::publish_options po;
    po.connection.servers = url;
    po.subject = so.subject;
    po.mode = d;
    rill::chan<std::string> in(64);
    auto start = clock_type::now();
    rill::go([&] { nats::publish<std::string>(rill::background(), in.rx(), po); });
    rill::go([&] {
        for (long i = 0; i < n; ++i)
            in.send(value());
        in.close();
    });
    for (long i = 0; i < n; ++i)
        out.recv();
    report(mode, n, start);
    cancel();
    ended.recv();
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_natsbridge URL [N [JS_N]]\n");
        return 2;
    }
    std::string url = argv[1];
    long n = argc > 2 ? std::atol(argv[2]) : 100000;
    long js_n = argc > 3 ? std::atol(argv[3]) : n / 10;
    spdlog::set_level(spdlog::level::warn);
    rill::run([&] {
        channel_run(n);
        bridge_run("core", url, nats::delivery::at_most_once, n);
        bridge_run("jetstream", url, nats::delivery::at_least_once, js_n);
    });
}
