// Installed-package check: links against an installed rill and exercises its
// public headers (run, go, buffered and unbuffered channels, select, a
// supervisor restarting a child). Exits 0 only when every value sent arrived
// exactly once and the child was restarted.
#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/supervisor.hpp>

#include <atomic>

#include <cstdio>
#include <optional>
#include <vector>

int main() {
    constexpr int producers = 4, per_producer = 1000;
    std::vector<int> counts = rill::run([] {
        rill::chan<int> values(16);
        rill::chan<int> finished(0);
        for (int p = 0; p < producers; ++p) {
            rill::go([values = values.tx(), finished = finished.tx(), p]() mutable {
                for (int i = 0; i < per_producer; ++i)
                    values.send(p * per_producer + i);
                finished.send(p);
            });
        }
        std::vector<int> counts(producers * per_producer, 0);
        for (int running = producers; running > 0;) {
            rill::select(rill::on_recv(values, [&](std::optional<int> v) { ++counts.at(*v); }),
                         rill::on_recv(finished, [&](std::optional<int>) { --running; }));
        }
        // Every producer has finished sending; what is left sits in the buffer.
        while (auto v = values.try_recv())
            ++counts.at(*v);
        return counts;
    });
    int restarts = rill::run([] {
        std::atomic<int> runs{0};
        rill::supervisor sup({.name = "install"},
                             {{.id = "child", .start = [&runs](const rill::context& ctx) {
                                   if (runs++ == 0) throw std::runtime_error("first run fails");
                                   (void)ctx.done().recv();
                               }}});
        sup.start();
        while (runs < 2)
            rill::gosched();
        sup.stop();
        return sup.which_children().at(0).restarts;
    });
    int wrong = 0;
    for (int c : counts)
        wrong += c != 1;
    std::printf("rill install check: %zu values, %d not received exactly once; %d restart(s)\n",
                counts.size(), wrong, restarts);
    return wrong == 0 && restarts == 1 ? 0 : 1;
}
