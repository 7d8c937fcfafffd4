#include "run/forwarders.hpp"

#include <rill/runtime.hpp>

#include <atomic>
#include <memory>

namespace rill::config::detail {

namespace {
using rill::detail::chan_core;

// Runs body as a goroutine counted in group.
template <class F> void spawn_counted(rill::wait_group& group, const char* name, F body) {
    group.add(1);
    rill::go(
        [&group, body = std::move(body)]() mutable {
            struct leave {
                rill::wait_group& g;
                ~leave() { g.done(); }
            } l{group};
            body();
        },
        {.name = name});
}

// Receives each value of from into v and has send pass it on, until from
// ends or stop closes; the value send could not pass on counts in lost.
template <class Send> void forward_each(chan_core* from, chan_core* stop, box& v, Send send,
                                        std::atomic<std::uint64_t>& lost) {
    while (port_recv(from, stop, v.storage())) {
        v.filled();
        bool sent = send();
        v.reset();
        if (!sent) {
            lost.fetch_add(1, std::memory_order_relaxed);
            return;
        }
    }
}
} // namespace

void spawn_merge(rill::wait_group& group, const std::vector<chan_core*>& sources, chan_core* merged,
                 const type_desc& t, chan_core* stop, std::atomic<std::uint64_t>& lost) {
    auto open = std::make_shared<std::atomic<std::size_t>>(sources.size());
    for (auto* src : sources)
        spawn_counted(group, "rill.config fan-in", [src, merged, &t, stop, open, &lost] {
            box v(t);
            forward_each(
                src, stop, v, [&] { return port_send(merged, stop, v.storage()); }, lost);
            if (open->fetch_sub(1, std::memory_order_acq_rel) == 1)
                rill::detail::chan_close(merged);
        });
}

void spawn_copy(rill::wait_group& group, chan_core* from, std::vector<port_core> targets,
                const type_desc& t, chan_core* stop, std::atomic<std::uint64_t>& lost) {
    auto body = [from, targets = std::move(targets), &t, stop, &lost] {
        box v(t), copy(t);
        auto send_all = [&] {
            for (std::size_t i = 0; i + 1 < targets.size(); ++i) {
                copy.copy_from(v);
                bool sent = port_send(targets[i], stop, copy.storage());
                copy.reset();
                if (!sent) return false;
            }
            return port_send(targets.back(), stop, v.storage());
        };
        forward_each(from, stop, v, send_all, lost);
        for (auto& target : targets)
            rill::detail::chan_close(target.c);
    };
    spawn_counted(group, "rill.config fan-out", std::move(body));
}

void spawn_discard(rill::wait_group& group, chan_core* from, const type_desc& t, chan_core* stop) {
    spawn_counted(group, "rill.config discard", [from, &t, stop] {
        box v(t);
        while (port_recv(from, stop, v.storage())) {
            v.filled();
            v.reset();
        }
    });
}

} // namespace rill::config::detail
