// rill::group (mirrors golang.org/x/sync/errgroup).
#include <rill/csp/group.hpp>

#include <stdexcept>
#include <string>

namespace rill {

group::group(const context& parent, int limit) {
    std::tie(ctx_, cancel_) = with_cancel(parent);
    if (limit >= 0) set_limit(limit);
}

void group::set_limit(int n) {
    if (n == 0 || n < -1)
        throw std::invalid_argument(
            "rill::group::set_limit: n must be >= 1, or -1 for no limit; got " + std::to_string(n));
    // The semaphore is read without a lock by go() and its goroutines, so it
    // may only change while none is active (Go's errgroup panics likewise).
    if (active_.load(std::memory_order_acquire) != 0)
        throw std::logic_error("rill::group::set_limit: goroutines are still active");
    sem_ = n < 0 ? nullptr : std::make_unique<semaphore>(n);
}

void group::fail(std::exception_ptr e) {
    {
        std::lock_guard<mutex> g(mu_);
        if (err_) return;
        err_ = e;
    }
    cancel_(std::move(e));
}

std::exception_ptr group::wait() {
    wg_.wait();
    cancel_();
    std::lock_guard<mutex> g(mu_);
    return err_;
}

} // namespace rill
