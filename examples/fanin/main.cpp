// Fan-in, twice: three producers send at different rates, each on a channel
// of its own, and one consumer merges them until a context deadline stops
// everything. Round 1 merges by hand with rill::select; round 2 lets the
// pipeline combinator pipe::fan_in do it. Both end by themselves, with no
// goroutine left behind. docs/csp.md ("The fanin example") reads it line by line.
//
//   ./fanin        prints every message as it arrives, then a count per producer
#include <rill/csp.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>

#include <array>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct producer {
    const char* name;
    std::chrono::milliseconds period;
};
constexpr std::array<producer, 3> producers{{{"fast", 50ms}, {"medium", 120ms}, {"slow", 300ms}}};

// Sends "<name> #1", "<name> #2", ... every period until ctx is done. Both
// waits, the tick and the send, sit in a select beside ctx.done(), so the
// producer stops promptly however it is blocked.
void produce(const rill::context& ctx, producer p, rill::sender<std::string> out) {
    auto ticks = rill::tick(p.period);
    for (int n = 1;; ++n) {
        bool stop = false;
        rill::select(rill::on_recv(ticks.c(), [](auto) {}),
                     rill::on_recv(ctx.done(), [&](auto) { stop = true; }));
        if (stop) return;
        rill::select(rill::on_send(out, std::string(p.name) + " #" + std::to_string(n), [] {}),
                     rill::on_recv(ctx.done(), [&](auto) { stop = true; }));
        if (stop) return;
    }
}

void report(const std::array<int, 3>& counts) {
    for (std::size_t i = 0; i < producers.size(); ++i)
        std::cout << "  " << producers[i].name << ": " << counts[i] << " messages\n";
}

// Round 1: the consumer merges three channels itself with select.
void with_select() {
    auto [ctx, cancel] = rill::with_timeout(rill::background(), 1s);
    std::array<rill::chan<std::string>, 3> feeds{
        rill::chan<std::string>(0), rill::chan<std::string>(0), rill::chan<std::string>(0)};
    std::array<int, 3> counts{};
    rill::scoped([&](rill::scope& s) {
        for (std::size_t i = 0; i < feeds.size(); ++i)
            s.spawn([&, i] { produce(ctx, producers[i], feeds[i]); }, {.name = producers[i].name});

        auto receive_from = [&](std::size_t i) {
            return [&, i](std::optional<std::string> msg) {
                std::cout << "select: " << *msg << '\n';
                ++counts[i];
            };
        };
        for (bool open = true; open;)
            rill::select(rill::on_recv(feeds[0], receive_from(0)),
                         rill::on_recv(feeds[1], receive_from(1)),
                         rill::on_recv(feeds[2], receive_from(2)),
                         rill::on_recv(ctx.done(), [&](auto) { open = false; }));
    }); // the producers have seen the deadline too; scoped waits for them
    std::cout << "select round ended: "
              << (ctx.err() == rill::context_err::deadline_exceeded ? "deadline exceeded"
                                                                    : "cancelled")
              << '\n';
    report(counts);
    cancel(); // releases the context now rather than when it goes out of scope
}

// Round 2: each producer is a pipeline source, and fan_in merges them.
void with_fan_in() {
    auto [ctx, cancel] = rill::with_timeout(rill::background(), 1s);
    std::array<int, 3> counts{};
    rill::scoped([&](rill::scope& s) {
        rill::pipeline p(ctx);
        std::vector<rill::stream<std::string>> sources;
        for (const producer& prod : producers) {
            rill::chan<std::string> feed(0);
            s.spawn(
                [&ctx, prod, tx = feed.tx()]() mutable {
                    produce(ctx, prod, tx);
                    tx.close(); // lets from_chan, and so fan_in, see this source end
                },
                {.name = prod.name});
            sources.push_back(rill::pipe::from_chan(p, feed.rx(), {.name = prod.name}));
        }
        for (const std::string& msg : rill::pipe::fan_in(std::move(sources))) {
            std::cout << "fan_in: " << msg << '\n';
            for (std::size_t i = 0; i < producers.size(); ++i)
                if (msg.rfind(producers[i].name, 0) == 0) ++counts[i];
        }
        if (auto e = p.wait()) std::rethrow_exception(e); // a stage's exception, if any
    });
    std::cout << "fan_in round ended: "
              << (ctx.err() == rill::context_err::deadline_exceeded ? "deadline exceeded"
                                                                    : "cancelled")
              << '\n';
    report(counts);
    cancel();
}

} // namespace

int main() {
    rill::run([] {
        with_select();
        with_fan_in();
    });
}
