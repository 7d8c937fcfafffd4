// select over channel cases, with Go's semantics (mirrors runtime/select.go):
// among the ready cases one is chosen uniformly at random; with no ready case
// select blocks, unless a default case is present; a timeout case fires after
// its duration; nil channels disable their case; a send case that is not
// chosen does not consume its value; a case against its channel's direction
// (a send through a receiver<T>, a receive through a sender<T>) does not
// compile.
//
//   int i = rill::select(
//       rill::on_recv(a, [&](std::optional<int> v) { ... }),   // nullopt: a closed
//       rill::on_send(b, value, [&] { ... }),                   // value kept if not chosen
//       rill::on_timeout(100ms, [&] { ... }),
//       rill::on_default([&] { ... }));
//
// select returns the index of the chosen case among its arguments. For a number
// of cases known only at run time, use rill::selector.
//
// Memory ordering (README "Memory model"): the chosen case, of select or of
// selector::wait, gives exactly the guarantees of its operation in
// <rill/chan.hpp>: a receive case that gets a value is ordered after the
// send of that value, one given nullopt after the close; a send case is a
// send, and the receive that lets it complete (rule k+C) happens before it.
// The handler runs after the operation, so it sees all of that.
// A timeout or default case orders nothing, nor do the cases not chosen (a
// send case that lost did not send).
#pragma once

#include <rill/chan.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

namespace rill {

namespace detail {
template <class T, class F> struct recv_case {
    chan_core* c;
    F f;
    alignas(T) unsigned char buf[sizeof(T)];
    void fill(select_case& sc) { sc = {c, buf, select_case::recv, false}; }
    void fire(const select_case& sc) {
        if (!sc.received) return f(std::optional<T>{});
        T* p = std::launder(reinterpret_cast<T*>(buf));
        std::optional<T> v(std::move(*p));
        p->~T();
        f(std::move(v));
    }
};
// Holds either a reference to the caller's value (lvalue) or the value itself.
template <class T, class V, class F> struct send_case {
    chan_core* c;
    V v;
    F f;
    void fill(select_case& sc) {
        sc = {c, const_cast<void*>(static_cast<const void*>(std::addressof(v))), select_case::send,
              false};
    }
    void fire(const select_case&) { f(); }
};
template <class F> struct timeout_case {
    std::chrono::nanoseconds d;
    F f;
};
template <class F> struct default_case { F f; };

template <class C> struct case_traits {
    static constexpr bool is_chan = true, is_timeout = false, is_default = false;
};
template <class F> struct case_traits<timeout_case<F>> {
    static constexpr bool is_chan = false, is_timeout = true, is_default = false;
};
template <class F> struct case_traits<default_case<F>> {
    static constexpr bool is_chan = false, is_timeout = false, is_default = true;
};
} // namespace detail

// Channel direction is checked at compile time, as in Go: a chan<T> allows
// both kinds of case, a sender<T> only send cases, a receiver<T> only receive
// cases. The wrong direction selects a deleted overload rather than failing a
// static_assert, so that it stays detectable (a requires-expression or a
// concept sees the call as ill-formed, as it would a missing overload). The
// deleted overload's return type names the mistake, so that the compiler's
// error says it: "use of deleted function 'rill::detail::
// on_send_needs_a_chan_or_sender_not_a_receiver rill::on_send(const
// rill::receiver<T>&, V&&, F) [with T = int; ...]'".
namespace detail {
struct on_recv_needs_a_chan_or_receiver_not_a_sender {};
struct on_send_needs_a_chan_or_sender_not_a_receiver {};
} // namespace detail

template <class T, class F> auto on_recv(const chan<T>& ch, F f) {
    return detail::recv_case<T, F>{ch.core(), std::move(f), {}};
}
template <class T, class F> auto on_recv(const receiver<T>& ch, F f) {
    return detail::recv_case<T, F>{ch.core(), std::move(f), {}};
}
template <class T, class F>
detail::on_recv_needs_a_chan_or_receiver_not_a_sender on_recv(const sender<T>&, F) = delete;

template <class T, class F> auto on_send(const chan<T>& ch, T& v, F f) {
    return detail::send_case<T, T&, F>{ch.core(), v, std::move(f)};
}
template <class T, class F> auto on_send(const chan<T>& ch, T&& v, F f) {
    return detail::send_case<T, T, F>{ch.core(), std::move(v), std::move(f)};
}
template <class T, class F> auto on_send(const sender<T>& ch, T& v, F f) {
    return detail::send_case<T, T&, F>{ch.core(), v, std::move(f)};
}
template <class T, class F> auto on_send(const sender<T>& ch, T&& v, F f) {
    return detail::send_case<T, T, F>{ch.core(), std::move(v), std::move(f)};
}
// Any value: the direction is the mistake to report, whatever is sent.
template <class T, class V, class F>
detail::on_send_needs_a_chan_or_sender_not_a_receiver on_send(const receiver<T>&, V&&, F) = delete;

template <class F> auto on_timeout(std::chrono::nanoseconds d, F f) {
    return detail::timeout_case<F>{d, std::move(f)};
}
template <class F> auto on_default(F f) { return detail::default_case<F>{std::move(f)}; }

template <class... Cases> int select(Cases&&... cases) {
    using namespace detail;
    constexpr int nchan = (0 + ... + (case_traits<std::decay_t<Cases>>::is_chan ? 1 : 0));
    constexpr int ndefault = (0 + ... + (case_traits<std::decay_t<Cases>>::is_default ? 1 : 0));
    static_assert(ndefault <= 1, "select takes at most one default case");
    std::array<select_case, nchan == 0 ? 1 : nchan> sc{};
    std::array<int, nchan == 0 ? 1 : nchan> arg_index{};
    std::int64_t deadline = no_deadline;
    int timeout_arg = -1;
    int default_arg = -1;
    {
        int ci = 0, ai = 0;
        auto collect = [&](auto& c) {
            using C = std::decay_t<decltype(c)>;
            if constexpr (case_traits<C>::is_chan) {
                c.fill(sc[ci]);
                arg_index[ci++] = ai;
            } else if constexpr (case_traits<C>::is_timeout) {
                auto d = deadline_after(c.d);
                if (d < deadline) deadline = d, timeout_arg = ai;
            } else {
                default_arg = ai;
            }
            ++ai;
        };
        (collect(cases), ...);
    }
    int r = select_go(sc.data(), nchan, default_arg < 0, deadline);
    int chosen = r >= 0 ? arg_index[r] : r == -1 ? default_arg : timeout_arg;
    int ai = 0;
    auto dispatch = [&](auto& c) {
        using C = std::decay_t<decltype(c)>;
        if (ai++ != chosen) return;
        if constexpr (case_traits<C>::is_chan)
            c.fire(sc[r]);
        else
            c.f();
    };
    (dispatch(cases), ...);
    return chosen;
}

// select over a number of cases known only at run time (Go's reflect.Select).
// Cases are numbered in the order they are added; wait() runs the chosen
// case's handler and returns its number. A selector can wait repeatedly, and
// each case keeps its channel alive for as long as the selector lives.
class selector {
public:
    // Directions are checked as for on_recv and on_send: these name the
    // mistake in the error when a deleted overload is chosen.
    struct recv_needs_a_chan_or_receiver_not_a_sender {};
    struct send_needs_a_chan_or_sender_not_a_receiver {};

    template <class T, class F> selector& recv(const chan<T>& ch, F f) {
        return add_recv(ch, std::move(f));
    }
    template <class T, class F> selector& recv(const receiver<T>& ch, F f) {
        return add_recv(ch, std::move(f));
    }
    template <class T, class F>
    recv_needs_a_chan_or_receiver_not_a_sender recv(const sender<T>&, F) = delete;
    // The value is moved from only when this case is chosen.
    template <class T, class F> selector& send(const chan<T>& ch, T& v, F f) {
        return add_send(ch, v, std::move(f));
    }
    template <class T, class F> selector& send(const sender<T>& ch, T& v, F f) {
        return add_send(ch, v, std::move(f));
    }
    template <class T, class V, class F>
    send_needs_a_chan_or_sender_not_a_receiver send(const receiver<T>&, V&&, F) = delete;
    template <class F> selector& timeout(std::chrono::nanoseconds d, F f) {
        timeout_ = d;
        timeout_index_ = ncases_++;
        timeout_fn_ = std::move(f);
        return *this;
    }
    template <class F> selector& otherwise(F f) {
        default_index_ = ncases_++;
        default_fn_ = std::move(f);
        return *this;
    }
    int wait() {
        for (std::size_t i = 0; i < entries_.size(); ++i)
            entries_[i]->fill(sc_[i]);
        auto deadline =
            timeout_index_ >= 0 ? detail::deadline_after(timeout_) : detail::no_deadline;
        int r = detail::select_go(sc_.data(), static_cast<int>(sc_.size()), default_index_ < 0,
                                  deadline);
        if (r == -1) return default_fn_(), default_index_;
        if (r == -2) return timeout_fn_(), timeout_index_;
        entries_[r]->fire(sc_[r]);
        return chan_order_[r];
    }

private:
    struct entry {
        virtual ~entry() = default;
        virtual void fill(detail::select_case&) = 0;
        virtual void fire(const detail::select_case&) = 0;
    };
    template <class T, class C> struct chan_entry final : entry {
        chan_entry(const detail::chan_handle<T>& h, C&& c) : ch(h), cs(std::move(c)) {}
        void fill(detail::select_case& sc) override { cs.fill(sc); }
        void fire(const detail::select_case& sc) override { cs.fire(sc); }
        detail::chan_handle<T> ch; // the reference that keeps cs.c alive
        C cs;
    };
    template <class T, class F> selector& add_recv(const detail::chan_handle<T>& ch, F f) {
        return add(std::make_unique<chan_entry<T, detail::recv_case<T, F>>>(
            ch, detail::recv_case<T, F>{ch.core(), std::move(f), {}}));
    }
    template <class T, class F> selector& add_send(const detail::chan_handle<T>& ch, T& v, F f) {
        return add(std::make_unique<chan_entry<T, detail::send_case<T, T&, F>>>(
            ch, detail::send_case<T, T&, F>{ch.core(), v, std::move(f)}));
    }
    selector& add(std::unique_ptr<entry> e) {
        chan_order_.push_back(ncases_++);
        entries_.push_back(std::move(e));
        sc_.emplace_back();
        return *this;
    }
    std::vector<std::unique_ptr<entry>> entries_;
    std::vector<detail::select_case> sc_; // reused by every wait()
    std::vector<int> chan_order_;         // channel case -> case number
    int ncases_ = 0;
    std::chrono::nanoseconds timeout_{};
    int timeout_index_ = -1, default_index_ = -1;
    std::function<void()> timeout_fn_, default_fn_;
};

} // namespace rill
