// Pipeline stages that split and join streams: fan_out (a pool of workers on
// one input, one output each), fan_in / merge (many inputs into one),
// broadcast / tee (every item to every output) and parallel_map (a pool of
// workers with one output, optionally in input order). They follow
// pipeline.hpp's contract; the functions given to fan_out and parallel_map
// are called concurrently from their n goroutines.
#pragma once

#include <rill/csp/pipeline.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace rill::pipe {

namespace detail {
inline void check_workers(int n, const char* fn) {
    if (n < 1)
        throw std::invalid_argument(std::string(fn) + ": n must be at least 1, got " +
                                    std::to_string(n));
}
// n outlets, and the streams their consumers read.
template <class T> std::pair<std::vector<outlet<T>>, std::vector<stream<T>>>
make_outlets(const pipeline_ptr& p, int n, const stage_options& o) {
    std::vector<outlet<T>> outs;
    std::vector<stream<T>> streams;
    for (int i = 0; i < n; ++i) {
        outs.emplace_back(p, o);
        streams.push_back(outs.back().as_stream(p));
    }
    return {std::move(outs), std::move(streams)};
}
} // namespace detail

// n workers take items from one input in turn and apply f; worker i sends on
// output i, which closes when worker i stops. Cancelling one output stops
// only its worker; the input is cancelled once every worker has stopped.
template <class T, class F> std::vector<stream<std::invoke_result_t<F&, T>>>
fan_out(stream<T> in, int n, F f, stage_options o = {}) {
    detail::check_workers(n, "rill::pipe::fan_out");
    using U = std::invoke_result_t<F&, T>;
    const auto& p = in.state();
    // Named references, not a structured binding: clang < 16 cannot capture one.
    auto outlets = detail::make_outlets<U>(p, n, o);
    auto& outs = outlets.first;
    auto& streams = outlets.second;
    detail::spawn_workers(
        p, detail::stage_name(o, "fan_out"), n,
        [outs, rx = in.rx(), f = std::move(f)](int i) mutable {
            auto tx = outs[i].ch.tx();
            detail::finally close_out{[&] { tx.close(); }};
            detail::stage_ctl c(outs[i].ctx);
            auto in = rx; // each worker its own handle on the shared channel
            while (auto v = c.recv(in))
                if (!c.send(tx, f(std::move(*v)))) return;
        },
        [in]() { in.cancel(); });
    return std::move(streams);
}

// Every item of every input, in arrival order, on one output that closes once
// all inputs have closed. No inputs: a stream that is closed at once.
template <class T> stream<T> fan_in(std::vector<stream<T>> ins, stage_options o = {}) {
    if (ins.empty()) throw std::invalid_argument("rill::pipe::fan_in: no input streams");
    auto p = ins.front().state();
    detail::outlet<T> out(p, o);
    detail::spawn_workers(
        p, detail::stage_name(o, "fan_in"), static_cast<int>(ins.size()),
        [ins, ctl = detail::stage_ctl(out.ctx), tx = out.ch.tx()](int i) mutable {
            auto c = ctl; // each forwarder its own copy of the shared handles
            auto out = tx;
            auto in = ins[i].rx();
            detail::finally stop_in{[&] { ins[i].cancel(); }};
            while (auto v = c.recv(in))
                if (!c.send(out, std::move(*v))) return;
        },
        [tx = out.ch.tx()]() mutable { tx.close(); });
    return out.as_stream(p);
}
template <class T, class... More> stream<T> merge(stream<T> first, More... more) {
    std::vector<stream<T>> ins;
    ins.push_back(std::move(first));
    (ins.push_back(std::move(more)), ...);
    return fan_in(std::move(ins));
}

// Every item to each of n outputs (copies; the last output gets the
// original). The slowest consumer sets the pace. Cancelling one output drops
// it; the stage stops (and cancels its input) when all are cancelled.
template <class T> std::vector<stream<T>> broadcast(stream<T> in, int n, stage_options o = {}) {
    detail::check_workers(n, "rill::pipe::broadcast");
    const auto& p = in.state();
    auto outlets = detail::make_outlets<T>(p, n, o); // (see fan_out)
    auto& outs = outlets.first;
    auto& streams = outlets.second;
    // The stage's own context, for the wait on the input: cancelled once the
    // last output is.
    auto [sctx, scancel] = with_cancel(p->ctx);
    auto live = std::make_shared<std::atomic<int>>(n);
    for (auto& out : outs)
        after_func(out.ctx, [live, scancel = scancel] {
            if (live->fetch_sub(1) == 1) scancel();
        });
    detail::spawn_workers(
        p, detail::stage_name(o, "broadcast"), 1,
        [outs, ctl = detail::stage_ctl(sctx), rx = in.rx()](int) mutable {
            std::vector<sender<T>> txs;
            std::vector<detail::stage_ctl> ctls;
            for (auto& out : outs) {
                txs.push_back(out.ch.tx());
                ctls.emplace_back(out.ctx);
            }
            std::vector<bool> open(outs.size(), true);
            detail::finally close_all{[&] {
                for (std::size_t i = 0; i < txs.size(); ++i)
                    if (open[i]) txs[i].close();
            }};
            while (auto v = ctl.recv(rx)) {
                std::size_t last = txs.size();
                while (last > 0 && !open[last - 1])
                    --last;
                for (std::size_t i = 0; i < last; ++i) {
                    if (!open[i]) continue;
                    bool sent = i + 1 == last ? ctls[i].send(txs[i], std::move(*v))
                                              : ctls[i].send(txs[i], T(*v));
                    if (!sent && ctls[i].stopped()) {
                        open[i] = false;
                        txs[i].close();
                    }
                }
                if (last == 0) return;
            }
        },
        [in]() { in.cancel(); });
    return std::move(streams);
}
// Two copies of a stream.
template <class T> std::array<stream<T>, 2> tee(stream<T> in, stage_options o = {}) {
    if (o.name.empty()) o.name = "tee";
    auto v = broadcast(std::move(in), 2, o);
    return {std::move(v[0]), std::move(v[1])};
}

// f(item) on a pool of n workers, one output. ordered: items come out in
// input order, with at most 4n of them in the stage at once (a slow item
// holds back those after it); otherwise in completion order.
template <class T, class F> stream<std::invoke_result_t<F&, T>>
parallel_map(stream<T> in, int n, F f, bool ordered = true, stage_options o = {}) {
    detail::check_workers(n, "rill::pipe::parallel_map");
    using U = std::invoke_result_t<F&, T>;
    const auto& p = in.state();
    detail::outlet<U> out(p, o);
    auto name = detail::stage_name(o, "parallel_map");
    auto close_out = [in, tx = out.ch.tx()]() mutable {
        tx.close();
        in.cancel();
    };
    if (!ordered) {
        detail::spawn_workers(
            p, name, n,
            [ctl = detail::stage_ctl(out.ctx), rx = in.rx(), tx = out.ch.tx(),
             f = std::move(f)](int) mutable {
                auto c = ctl;
                auto in = rx;
                auto out = tx;
                while (auto v = c.recv(in))
                    if (!c.send(out, f(std::move(*v)))) return;
            },
            std::move(close_out));
        return out.as_stream(p);
    }
    // Ordered: a dispatcher numbers the items, n workers compute, a collector
    // puts results back in order in a ring. The dispatcher takes a window slot
    // per item and the collector gives it back once the item is out, so no
    // more than `window` items are in between and a ring of that size holds
    // every early result.
    const std::size_t window = 4 * static_cast<std::size_t>(n);
    struct roles {
        roles(std::size_t window, int n) : slots(window), jobs(n), results(n), workers_left(n) {}
        chan<std::monostate> slots;
        chan<std::pair<std::uint64_t, T>> jobs;
        chan<std::pair<std::uint64_t, U>> results;
        std::atomic<int> workers_left;
    };
    auto r = std::make_shared<roles>(window, n);
    detail::spawn_workers(
        p, name, n + 2,
        [r, window, ctl = detail::stage_ctl(out.ctx), rx = in.rx(), tx = out.ch.tx(),
         f = std::move(f)](int i) mutable {
            auto c = ctl;
            if (i == 0) { // dispatcher
                auto in = rx;
                auto slots = r->slots.tx();
                auto jobs = r->jobs.tx();
                detail::finally close_jobs{[&] { jobs.close(); }};
                for (std::uint64_t seq = 0;; ++seq) {
                    auto v = c.recv(in);
                    if (!v || !c.send(slots, std::monostate{}) ||
                        !c.send(jobs, std::pair<std::uint64_t, T>(seq, std::move(*v))))
                        return;
                }
            } else if (i == 1) { // collector
                auto results = r->results.rx();
                auto out = tx;
                std::vector<std::optional<U>> ring(window);
                std::uint64_t next = 0;
                while (auto res = c.recv(results)) {
                    ring[res->first % window].emplace(std::move(res->second));
                    for (auto* slot = &ring[next % window]; slot->has_value();
                         slot = &ring[next % window]) {
                        if (!c.send(out, std::move(**slot))) return;
                        slot->reset();
                        ++next;
                        (void)r->slots.try_recv();
                    }
                }
            } else { // worker
                auto jobs = r->jobs.rx();
                auto results = r->results.tx();
                detail::finally last_closes{[&] {
                    if (r->workers_left.fetch_sub(1, std::memory_order_acq_rel) == 1)
                        results.close();
                }};
                while (auto job = c.recv(jobs))
                    if (!c.send(results,
                                std::pair<std::uint64_t, U>(job->first, f(std::move(job->second)))))
                        return;
            }
        },
        std::move(close_out));
    return out.as_stream(p);
}
template <class F> auto parallel_map(int n, F f, bool ordered = true, stage_options o = {}) {
    detail::check_workers(n, "rill::pipe::parallel_map");
    return adaptor{[n, f = std::move(f), ordered, o](auto s) mutable {
        return parallel_map(std::move(s), n, std::move(f), ordered, o);
    }};
}

} // namespace rill::pipe
