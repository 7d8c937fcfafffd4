// Pipelines: stages are goroutines joined by channels, owned by a pipeline.
//
//   rill::pipeline p(ctx);
//   using namespace rill::pipe;
//   auto out = iota(p, 0, 1000) | map([](int x) { return x * x; }) | filter(is_even) | take(10);
//   for (int v : out) use(v);
//   if (auto e = p.wait()) std::rethrow_exception(e);
//
// Contract:
// - A stage closes its output when its input is closed and drained (or when
//   its source runs dry), and stops, closing its output, when its context is
//   cancelled. Each stage has a context of its own under the pipeline's:
//   cancelling the pipeline (cancel(), its parent context, or a failing
//   stage) stops every stage; cancelling a stream (stream::cancel(), or a
//   downstream stage that stops early, like take) stops the stages upstream
//   of it, one after the other, without touching the rest.
// - A stage that exits for any reason cancels its input streams, so nothing
//   upstream is left blocked on a send nobody will receive.
// - In-flight items on cancellation: an item a stage holds (received but not
//   yet sent) is destroyed; items already in a channel's buffer stay there and
//   can still be received; nothing received is ever corrupted or duplicated.
// - Errors: an exception escaping a stage's function (a panic) becomes a
//   rill::stage_error naming the stage; the first one is kept, cancels the
//   pipeline with itself as the cause, and is what wait() returns. So a
//   consumer sees its input end and then learns why from wait() (or from
//   ctx().cause()). Stage goroutines are named after their stages.
// - A pipeline's destructor cancels it and waits for its stages, so stage
//   functions may borrow the caller's locals. Streams are moved into the
//   stage that consumes them; one stream has one consumer (share a stream
//   with fan_out or broadcast instead).
// - Stage outputs are channels with capacity `buffer` (pipeline_options, or
//   per stage in stage_options; default 0, unbuffered as in idiomatic Go).
#pragma once

#include <rill/chan.hpp>
#include <rill/csp/context.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/sync.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace rill {

// The what() of the exception e holds, or a note that it is not a
// std::exception: how stage failures are described in messages and logs.
std::string describe_exception(const std::exception_ptr& e);

// An exception that escaped a pipeline stage, with the stage's name.
class stage_error : public std::runtime_error {
public:
    stage_error(std::string stage, std::exception_ptr cause);
    const std::string& stage() const noexcept { return stage_; }
    // The exception the stage threw.
    std::exception_ptr cause() const noexcept { return cause_; }

private:
    std::string stage_;
    std::exception_ptr cause_;
};

struct pipeline_options {
    std::size_t buffer = 0; // capacity of every stage's output channel
};

struct stage_options {
    std::string_view name{};             // default: the combinator's name
    std::optional<std::size_t> buffer{}; // default: the pipeline's
};

namespace detail {
struct pipeline_state {
    context ctx;
    cancel_func cancel;
    std::size_t buffer = 0;
    wait_group wg;
    mutex mu;
    std::exception_ptr err; // guarded by mu
    void fail(const std::string& stage, std::exception_ptr e);
};
using pipeline_ptr = std::shared_ptr<pipeline_state>;
} // namespace detail

class pipeline {
public:
    explicit pipeline(const context& parent = {}, pipeline_options opts = {});
    pipeline(const pipeline&) = delete;
    pipeline& operator=(const pipeline&) = delete;
    ~pipeline();

    // The pipeline's context: every stage's context descends from it.
    const context& ctx() const noexcept { return s_->ctx; }
    // Stops every stage.
    void cancel() const { s_->cancel(); }
    // Waits until every stage has returned; the first stage_error, or nullptr.
    std::exception_ptr wait();

    const detail::pipeline_ptr& state() const noexcept { return s_; }

private:
    detail::pipeline_ptr s_;
};

// A stage's output: the channel it sends on, and the way to stop it.
template <class T> class stream {
public:
    stream() = default;
    stream(detail::pipeline_ptr p, receiver<T> rx, cancel_func stop)
        : p_(std::move(p)), rx_(std::move(rx)), stop_(std::move(stop)) {}

    std::optional<T> recv() { return rx_.recv(); }
    const receiver<T>& rx() const noexcept { return rx_; }
    chan_iterator<T> begin() const { return rx_.begin(); }
    chan_iterator<T> end() const { return rx_.end(); }
    // Stops the stage producing this stream (and, in turn, those before it).
    void cancel() const {
        if (stop_) stop_();
    }
    const detail::pipeline_ptr& state() const noexcept { return p_; }

private:
    detail::pipeline_ptr p_;
    receiver<T> rx_;
    cancel_func stop_;
};

namespace pipe {

// The pipe form: `s | map(f)` is `map(s, f)`.
template <class Fn> struct adaptor { Fn fn; };
template <class Fn> adaptor(Fn) -> adaptor<Fn>;
template <class T, class Fn> auto operator|(stream<T> s, adaptor<Fn> a) {
    return a.fn(std::move(s));
}

namespace detail {
using rill::detail::pipeline_ptr;

// What a stage goroutine watches: its context, and that context's done
// channel (kept, so that it is not looked up per item).
struct stage_ctl {
    context ctx;
    receiver<std::monostate> done;
    explicit stage_ctl(context c) : ctx(std::move(c)), done(ctx.done()) {}

    bool stopped() const noexcept { return ctx.is_done(); }
    // Sends v unless the stage is cancelled first; false (v dropped) then.
    // The non-blocking attempt first keeps a flowing stream off select.
    template <class T> bool send(sender<T>& out, T v) {
        if (stopped()) return false;
        if (out.try_send(v)) return true;
        bool sent = false;
        rill::select(rill::on_send(out, v, [&] { sent = true; }),
                     rill::on_recv(done, [](std::optional<std::monostate>) {}));
        return sent;
    }
    // The next item, or nullopt once in is closed and drained or the stage
    // is cancelled.
    template <class T> std::optional<T> recv(receiver<T>& in) {
        if (stopped()) return std::nullopt;
        if (auto v = in.try_recv()) return v;
        std::optional<T> got;
        rill::select(rill::on_recv(in, [&](std::optional<T> v) { got = std::move(v); }),
                     rill::on_recv(done, [](std::optional<std::monostate>) {}));
        return got;
    }
    // Parks until t; false if the stage was cancelled first.
    bool sleep_until(std::chrono::steady_clock::time_point t) {
        bool woke = true;
        rill::select(rill::on_recv(done, [&](std::optional<std::monostate>) { woke = false; }),
                     rill::on_timeout(t - std::chrono::steady_clock::now(), [] {}));
        return woke && !stopped();
    }
};

// A stage's output channel and the context its consumer can cancel.
template <class T> struct outlet {
    chan<T> ch;
    context ctx;
    cancel_func cancel;
    outlet(const pipeline_ptr& p, const stage_options& o) : ch(o.buffer.value_or(p->buffer)) {
        std::tie(ctx, cancel) = with_cancel(p->ctx);
    }
    stream<T> as_stream(const pipeline_ptr& p) const { return stream<T>(p, ch.rx(), cancel); }
};

// Runs f when the scope ends, however it ends.
template <class F> struct finally {
    F f;
    ~finally() { f(); }
};
template <class F> finally(F) -> finally<F>;

inline std::string stage_name(const stage_options& o, std::string_view fallback) {
    return std::string(o.name.empty() ? fallback : o.name);
}

// Runs body(worker index) in n goroutines named `name`, counted by the
// pipeline; an exception becomes the pipeline's stage_error; the last
// goroutine to finish runs last() (closing outputs, cancelling inputs).
template <class Body, class Last>
void spawn_workers(const pipeline_ptr& p, const std::string& name, int n, Body body, Last last) {
    struct shared {
        shared(Body b, Last l, int n, std::string nm)
            : body(std::move(b)), last(std::move(l)), left(n), name(std::move(nm)) {}
        Body body;
        Last last;
        std::atomic<int> left;
        std::string name;
    };
    auto sh = std::make_shared<shared>(std::move(body), std::move(last), n, name);
    for (int i = 0; i < n; ++i) {
        p->wg.add(1);
        rill::go(
            [p, sh, i] {
                try {
                    sh->body(i);
                } catch (...) {
                    p->fail(sh->name, std::current_exception());
                }
                if (sh->left.fetch_sub(1, std::memory_order_acq_rel) == 1) sh->last();
                p->wg.done();
            },
            {.name = sh->name});
    }
}

// One goroutine reading `in` and writing one outlet: the shape of map,
// filter, take, batch and rate_limit. body(ctl, in, out) returns when done.
template <class U, class T, class Body>
stream<U> unary_stage(stream<T> in, const stage_options& o, std::string_view fallback, Body body) {
    const pipeline_ptr& p = in.state();
    outlet<U> out(p, o);
    spawn_workers(
        p, stage_name(o, fallback), 1,
        [ctl = stage_ctl(out.ctx), rx = in.rx(), tx = out.ch.tx(),
         body = std::move(body)](int) mutable { body(ctl, rx, tx); },
        [in, tx = out.ch.tx()]() mutable {
            tx.close();
            in.cancel();
        });
    return out.as_stream(p);
}
} // namespace detail

// --- sources ---

// A stream of what f() returns, until it returns nullopt (f: () -> optional<T>).
template <class F> auto generate(const pipeline& p, F f, stage_options o = {}) {
    using T = typename std::invoke_result_t<F&>::value_type;
    const auto& ps = p.state();
    detail::outlet<T> out(ps, o);
    detail::spawn_workers(
        ps, detail::stage_name(o, "generate"), 1,
        [ctl = detail::stage_ctl(out.ctx), tx = out.ch.tx(), f = std::move(f)](int) mutable {
            while (!ctl.stopped()) {
                std::optional<T> v = f();
                if (!v || !ctl.send(tx, std::move(*v))) return;
            }
        },
        [tx = out.ch.tx()]() mutable { tx.close(); });
    return out.as_stream(ps);
}

// first, first + 1, ..., last - 1.
template <class I> auto iota(const pipeline& p, I first, I last, stage_options o = {}) {
    if (o.name.empty()) o.name = "iota";
    return generate(
        p,
        [first, last]() mutable -> std::optional<I> {
            if (!(first < last)) return std::nullopt;
            return first++;
        },
        o);
}

// The elements of a container (copied into the stage).
template <class Range> auto from_range(const pipeline& p, Range r, stage_options o = {}) {
    if (o.name.empty()) o.name = "from_range";
    auto held = std::make_shared<Range>(std::move(r));
    using It = decltype(std::begin(*held));
    using T = std::decay_t<decltype(*std::declval<It>())>;
    return generate(
        p,
        [held, it = std::begin(*held)]() mutable -> std::optional<T> {
            if (it == std::end(*held)) return std::nullopt;
            return std::move(*it++);
        },
        o);
}

// Adopts a channel fed from outside the pipeline; the stage ends when it is
// closed or the stage is cancelled (the channel itself is left open).
template <class T> stream<T> from_chan(const pipeline& p, receiver<T> in, stage_options o = {}) {
    if (o.name.empty()) o.name = "from_chan";
    // A stream with no stage behind it: nothing to cancel upstream.
    stream<T> src(p.state(), std::move(in), cancel_func());
    return detail::unary_stage<T>(std::move(src), o, "from_chan",
                                  [](detail::stage_ctl& c, receiver<T>& rx, sender<T>& tx) {
                                      while (auto v = c.recv(rx))
                                          if (!c.send(tx, std::move(*v))) return;
                                  });
}

// --- transformers ---

// f(item) for every item.
template <class T, class F> auto map(stream<T> in, F f, stage_options o = {}) {
    using U = std::invoke_result_t<F&, T>;
    return detail::unary_stage<U>(
        std::move(in), o, "map",
        [f = std::move(f)](detail::stage_ctl& c, receiver<T>& rx, sender<U>& tx) mutable {
            while (auto v = c.recv(rx))
                if (!c.send(tx, f(std::move(*v)))) return;
        });
}
template <class F> auto map(F f, stage_options o = {}) {
    return adaptor{
        [f = std::move(f), o](auto s) mutable { return map(std::move(s), std::move(f), o); }};
}

// The items for which pred(item) holds.
template <class T, class F> auto filter(stream<T> in, F pred, stage_options o = {}) {
    return detail::unary_stage<T>(
        std::move(in), o, "filter",
        [pred = std::move(pred)](detail::stage_ctl& c, receiver<T>& rx, sender<T>& tx) mutable {
            while (auto v = c.recv(rx))
                if (pred(std::as_const(*v)) && !c.send(tx, std::move(*v))) return;
        });
}
template <class F> auto filter(F pred, stage_options o = {}) {
    return adaptor{[pred = std::move(pred), o](auto s) mutable {
        return filter(std::move(s), std::move(pred), o);
    }};
}

// The first n items; then it closes its output and stops the stages before it.
template <class T> stream<T> take(stream<T> in, std::size_t n, stage_options o = {}) {
    return detail::unary_stage<T>(std::move(in), o, "take",
                                  [n](detail::stage_ctl& c, receiver<T>& rx, sender<T>& tx) {
                                      for (std::size_t i = 0; i < n; ++i) {
                                          auto v = c.recv(rx);
                                          if (!v || !c.send(tx, std::move(*v))) return;
                                      }
                                  });
}
inline auto take(std::size_t n, stage_options o = {}) {
    return adaptor{[n, o](auto s) { return take(std::move(s), n, o); }};
}

// --- sinks (run on the calling goroutine) ---

// Receives and discards everything; returns how many items there were.
template <class T> std::size_t drain(stream<T> in) {
    std::size_t n = 0;
    for (auto&& v : in) {
        (void)v;
        ++n;
    }
    return n;
}
// Every item, in order.
template <class T> std::vector<T> collect(stream<T> in) {
    std::vector<T> out;
    for (auto& v : in)
        out.push_back(std::move(v));
    return out;
}
// f(item) for every item. If f throws, the stream is cancelled and the
// exception propagates to the caller.
template <class T, class F> void for_each(stream<T> in, F f) {
    try {
        for (auto& v : in)
            f(std::move(v));
    } catch (...) {
        in.cancel();
        throw;
    }
}

} // namespace pipe
} // namespace rill
