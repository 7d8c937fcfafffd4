// The pipeline's shared state: its context, the count of its stage
// goroutines, and the first stage error.
#include <rill/csp/pipeline.hpp>

namespace rill {

std::string describe_exception(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "an exception not derived from std::exception";
    }
}

stage_error::stage_error(std::string stage, std::exception_ptr cause)
    : std::runtime_error("pipeline stage '" + stage + "' failed: " + describe_exception(cause)),
      stage_(std::move(stage)), cause_(std::move(cause)) {}

namespace detail {
void pipeline_state::fail(const std::string& stage, std::exception_ptr e) {
    auto err_ptr = std::make_exception_ptr(stage_error(stage, std::move(e)));
    {
        std::lock_guard<mutex> g(mu);
        if (err) return;
        err = err_ptr;
    }
    cancel(err_ptr);
}
} // namespace detail

pipeline::pipeline(const context& parent, pipeline_options opts)
    : s_(std::make_shared<detail::pipeline_state>()) {
    std::tie(s_->ctx, s_->cancel) = with_cancel(parent);
    s_->buffer = opts.buffer;
}

pipeline::~pipeline() {
    s_->cancel();
    s_->wg.wait();
}

std::exception_ptr pipeline::wait() {
    s_->wg.wait();
    std::lock_guard<mutex> g(s_->mu);
    return s_->err;
}

} // namespace rill
