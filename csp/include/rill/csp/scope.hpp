// Structured concurrency: rill::scoped(f) runs f(scope&) and returns only
// when every goroutine that f (or those goroutines) spawned on the scope has
// finished, so they may borrow the caller's locals by reference.
//
// Contract: scope::spawn(g) runs g in a goroutine and returns a join_handle;
// join() waits for g and returns its value or rethrows its exception, once.
// No exception is lost: after everything has finished, scoped rethrows f's
// own exception if it threw, else the first exception (in spawn order) of a
// goroutine whose handle was never joined. The scope object cannot escape:
// scoped makes it and its spawn may be called from any of its goroutines.
//
//   int total = rill::scoped([&](rill::scope& s) {
//       auto a = s.spawn([&] { return count(left); });
//       auto b = s.spawn([&] { return count(right); });
//       return a.join() + b.join();
//   });
#pragma once

#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace rill {

namespace detail {
struct join_state_base {
    chan<std::monostate> done{0}; // closed when the goroutine has finished
    std::exception_ptr error;     // written before done is closed
    std::atomic<bool> observed{false};
};
template <class T> struct join_state : join_state_base { std::optional<T> value; };
template <> struct join_state<void> : join_state_base {};
} // namespace detail

template <class T> class join_handle {
public:
    join_handle() = default;
    // Waits for the goroutine; returns its result or rethrows its exception.
    // Call it at most once.
    T join() {
        wait();
        s_->observed.store(true, std::memory_order_relaxed);
        if (s_->error) std::rethrow_exception(s_->error);
        if constexpr (!std::is_void_v<T>) return std::move(*s_->value);
    }
    // Waits without consuming the result.
    void wait() const { (void)s_->done.recv(); }
    // Closed once the goroutine has finished: usable in a select.
    receiver<std::monostate> done() const { return s_->done.rx(); }

private:
    friend class scope;
    explicit join_handle(std::shared_ptr<detail::join_state<T>> s) : s_(std::move(s)) {}
    std::shared_ptr<detail::join_state<T>> s_;
};

class scope {
public:
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

    template <class F> auto spawn(F&& f, const go_options& opts = {}) {
        using R = std::invoke_result_t<std::decay_t<F>&>;
        auto st = std::make_shared<detail::join_state<R>>();
        {
            std::lock_guard<mutex> g(mu_);
            states_.push_back(st);
        }
        wg_.add(1);
        rill::go(
            [this, st, fn = std::forward<F>(f)]() mutable {
                try {
                    if constexpr (std::is_void_v<R>)
                        fn();
                    else
                        st->value.emplace(fn());
                } catch (...) {
                    st->error = std::current_exception();
                }
                st->done.close();
                wg_.done();
            },
            opts);
        return join_handle<R>(std::move(st));
    }

private:
    template <class F> friend auto scoped(F&& f) -> std::invoke_result_t<F&, scope&>;
    scope() = default;
    // Waits for every goroutine; the first unobserved exception, if any.
    std::exception_ptr finish() {
        wg_.wait();
        std::lock_guard<mutex> g(mu_);
        for (auto& s : states_)
            if (s->error && !s->observed.load(std::memory_order_relaxed)) return s->error;
        return nullptr;
    }
    wait_group wg_;
    mutex mu_;
    std::vector<std::shared_ptr<detail::join_state_base>> states_;
};

template <class F> auto scoped(F&& f) -> std::invoke_result_t<F&, scope&> {
    using R = std::invoke_result_t<F&, scope&>;
    scope s;
    std::exception_ptr own;
    std::optional<std::conditional_t<std::is_void_v<R>, std::monostate, R>> result;
    try {
        if constexpr (std::is_void_v<R>)
            f(s);
        else
            result.emplace(f(s));
    } catch (...) {
        own = std::current_exception();
    }
    auto unobserved = s.finish();
    if (own) std::rethrow_exception(own);
    if (unobserved) std::rethrow_exception(unobserved);
    if constexpr (!std::is_void_v<R>) return std::move(*result);
}

} // namespace rill
