// Fan-in: three producers write at different rates, each into a channel of
// its own; one consumer merges the three channels with rill::select until a
// deadline, then tells the producers to stop by closing a `done` channel.
//
//   ./fanin        prints every message as it arrives, then a count per producer
#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/sync.hpp>

#include <array>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>

using namespace std::chrono_literals;

namespace {

// Sends "<name> #1", "<name> #2", ... every `period`, until `done` is closed.
// The send sits in a select beside a receive on `done`: once the consumer has
// stopped listening, the send would block forever, and the closed `done`
// channel is what gets the producer out.
void produce(const std::string& name, std::chrono::milliseconds period,
             rill::sender<std::string> out, rill::receiver<bool> done) {
    for (int n = 1;; ++n) {
        rill::sleep(period); // parks this goroutine only, not its thread
        bool stop = false;
        rill::select(rill::on_send(out, name + " #" + std::to_string(n), [] {}),
                     rill::on_recv(done, [&](std::optional<bool>) { stop = true; }));
        if (stop) return;
    }
}

} // namespace

int main() {
    // run() starts the runtime and runs this lambda as the main goroutine.
    rill::run([] {
        const std::array<std::string, 3> names{"fast", "medium", "slow"};
        const std::array periods{50ms, 120ms, 300ms};
        // Unbuffered channels: each send waits until the consumer takes it.
        std::array<rill::chan<std::string>, 3> feeds{
            rill::chan<std::string>(0), rill::chan<std::string>(0), rill::chan<std::string>(0)};
        // Nothing is ever sent on `done`: closing it wakes every receiver at
        // once, which makes it a broadcast.
        rill::chan<bool> done(0);

        rill::wait_group producers;
        for (std::size_t i = 0; i < feeds.size(); ++i) {
            producers.add(1);
            rill::go([&, i] {
                produce(names[i], periods[i], feeds[i], done);
                producers.done();
            });
        }

        // The consumer: whichever feed has a message ready is served next.
        std::array<int, 3> counts{};
        auto receive_from = [&](std::size_t i) {
            return [&, i](std::optional<std::string> msg) {
                std::cout << "received " << *msg << '\n';
                ++counts[i];
            };
        };
        const auto deadline = std::chrono::steady_clock::now() + 1s;
        for (bool open = true; open;) {
            rill::select(rill::on_recv(feeds[0], receive_from(0)),
                         rill::on_recv(feeds[1], receive_from(1)),
                         rill::on_recv(feeds[2], receive_from(2)),
                         // Chosen once the deadline has passed with no feed ready.
                         rill::on_timeout(deadline - std::chrono::steady_clock::now(),
                                          [&] { open = false; }));
        }

        done.close();     // stop the producers...
        producers.wait(); // ...and wait until all three have returned
        for (std::size_t i = 0; i < names.size(); ++i)
            std::cout << names[i] << ": " << counts[i] << " messages\n";
    });
}
