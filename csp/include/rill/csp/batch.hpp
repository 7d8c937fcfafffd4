// Pipeline stages that shape a stream in time: batch groups items, rate_limit
// spaces them out. Both follow pipeline.hpp's contract (closing, cancelling,
// errors); their timers are the runtime's, armed only while they wait.
#pragma once

#include <rill/csp/pipeline.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace rill::pipe {

// Groups items into vectors of n. A partial batch goes out when max_wait has
// passed since its first item arrived, or when the input ends; on
// cancellation a partial batch is dropped. n >= 1 and max_wait > 0, else
// std::invalid_argument.
template <class T> stream<std::vector<T>>
batch(stream<T> in, std::size_t n, std::chrono::nanoseconds max_wait, stage_options o = {}) {
    if (n == 0) throw std::invalid_argument("rill::pipe::batch: n must be at least 1");
    if (max_wait.count() <= 0)
        throw std::invalid_argument("rill::pipe::batch: max_wait must be positive, got " +
                                    std::to_string(max_wait.count()) + "ns");
    using B = std::vector<T>;
    return detail::unary_stage<B>(
        std::move(in), o, "batch",
        [n, max_wait](detail::stage_ctl& c, receiver<T>& rx, sender<B>& tx) {
            for (;;) {
                auto first = c.recv(rx);
                if (!first) return;
                B b;
                b.reserve(n);
                b.push_back(std::move(*first));
                auto due = std::chrono::steady_clock::now() + max_wait;
                bool closed = false, cancelled = false;
                while (b.size() < n && !closed && !cancelled) {
                    // Items that are already there go in without a timer.
                    if (auto v = rx.try_recv()) {
                        b.push_back(std::move(*v));
                        continue;
                    }
                    bool timed_out = false;
                    rill::select(rill::on_recv(rx,
                                               [&](std::optional<T> v) {
                                                   if (v)
                                                       b.push_back(std::move(*v));
                                                   else
                                                       closed = true;
                                               }),
                                 rill::on_recv(c.done, [&](auto) { cancelled = true; }),
                                 rill::on_timeout(due - std::chrono::steady_clock::now(),
                                                  [&] { timed_out = true; }));
                    if (timed_out) break;
                }
                if (cancelled || !c.send(tx, std::move(b)) || closed) return;
            }
        });
}
inline auto batch(std::size_t n, std::chrono::nanoseconds max_wait, stage_options o = {}) {
    return adaptor{[=](auto s) { return batch(std::move(s), n, max_wait, o); }};
}

// Passes at most `burst` items at once and then one per `interval` (a token
// bucket holding up to burst tokens, refilled one per interval). Items wait
// in the stage, not dropped. interval > 0 and burst >= 1, else
// std::invalid_argument.
template <class T> stream<T> rate_limit(stream<T> in, std::chrono::nanoseconds interval,
                                        std::size_t burst = 1, stage_options o = {}) {
    if (interval.count() <= 0)
        throw std::invalid_argument("rill::pipe::rate_limit: interval must be positive, got " +
                                    std::to_string(interval.count()) + "ns");
    if (burst == 0) throw std::invalid_argument("rill::pipe::rate_limit: burst must be at least 1");
    return detail::unary_stage<T>(
        std::move(in), o, "rate_limit",
        [interval, burst](detail::stage_ctl& c, receiver<T>& rx, sender<T>& tx) {
            using clock = std::chrono::steady_clock;
            // GCRA: tat is when the bucket would be full again; an item may go
            // once tat is no more than burst - 1 intervals ahead of now.
            const auto slack = interval * static_cast<std::int64_t>(burst - 1);
            auto tat = clock::now();
            while (auto v = c.recv(rx)) {
                auto now = clock::now();
                if (tat < now) tat = now;
                if (tat - slack > now && !c.sleep_until(tat - slack)) return;
                tat += interval;
                if (!c.send(tx, std::move(*v))) return;
            }
        });
}
inline auto rate_limit(std::chrono::nanoseconds interval, std::size_t burst = 1,
                       stage_options o = {}) {
    return adaptor{[=](auto s) { return rate_limit(std::move(s), interval, burst, o); }};
}

} // namespace rill::pipe
