// rill::group: Go's errgroup. Goroutines started with go() share a context;
// the first of them to throw cancels it (with its exception as the cause),
// and wait() returns that exception.
//
// Contract: wait() blocks until every goroutine has returned, cancels the
// context, and returns the first exception (nullptr if none); later
// exceptions are dropped, as later errors are in Go. With a limit, go()
// blocks while `limit` goroutines are active and try_go() declines instead.
// The destructor waits too, so the goroutines may borrow the caller's locals.
// A function given to go() may take the group's context as its argument.
//
//   rill::group g(ctx);
//   for (auto& url : urls) g.go([&](const rill::context& c) { fetch(c, url); });
//   if (auto e = g.wait()) std::rethrow_exception(e);
#pragma once

#include <rill/csp/context.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>

namespace rill {

class group {
public:
    // A group under background(), without a limit.
    group() : group(background()) {}
    // A group whose context is a child of parent; limit < 0: no limit.
    explicit group(const context& parent, int limit = -1);
    group(const group&) = delete;
    group& operator=(const group&) = delete;
    ~group() { wait(); }

    const context& ctx() const noexcept { return ctx_; }
    // At most n goroutines at once (n >= 1; n < 0 removes the limit). Only
    // while no goroutine is active: std::logic_error otherwise.
    void set_limit(int n);

    template <class F> void go(F&& f, const go_options& opts = {}) {
        if (sem_) sem_->acquire();
        start(std::forward<F>(f), opts);
    }
    // false (and f not run) if the limit is reached.
    template <class F> bool try_go(F&& f, const go_options& opts = {}) {
        if (sem_ && !sem_->try_acquire()) return false;
        start(std::forward<F>(f), opts);
        return true;
    }
    std::exception_ptr wait();

private:
    template <class F> void start(F&& f, const go_options& opts) {
        wg_.add(1);
        active_.fetch_add(1, std::memory_order_relaxed);
        rill::go(
            [this, fn = std::forward<F>(f)]() mutable {
                try {
                    if constexpr (std::is_invocable_v<decltype(fn)&, const context&>)
                        fn(ctx_);
                    else
                        fn();
                } catch (...) {
                    fail(std::current_exception());
                }
                if (sem_) sem_->release();
                active_.fetch_sub(1, std::memory_order_release);
                wg_.done();
            },
            opts);
    }
    void fail(std::exception_ptr e);

    context ctx_;
    cancel_func cancel_;
    std::unique_ptr<semaphore> sem_;
    wait_group wg_;
    std::atomic<int> active_{0};
    mutex mu_;
    std::exception_ptr err_; // guarded by mu_
};

} // namespace rill
