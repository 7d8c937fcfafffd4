// callback_timer: the public face of the runtime's timers (time.hpp).
#include "time.hpp"

#include <rill/detail/chan_core.hpp>
#include <rill/timer.hpp>

#include <atomic>
#include <new>

namespace rill {

namespace {
std::atomic<std::uint64_t> armed_timers{0};

detail::timer& impl(unsigned char* storage) {
    return *std::launder(reinterpret_cast<detail::timer*>(storage));
}
} // namespace

callback_timer::callback_timer(callback f, void* arg) noexcept : f_(f), arg_(arg) {
    static_assert(sizeof(detail::timer) <= sizeof impl_ && alignof(detail::timer) <= 8,
                  "callback_timer::impl_ must hold a detail::timer");
    auto* t = new (impl_) detail::timer;
    t->f = &callback_timer::trampoline;
    t->arg = this;
}

callback_timer::~callback_timer() {
    stop();
    impl(impl_).~timer();
}

void callback_timer::trampoline(void* self, std::int64_t) {
    auto* ct = static_cast<callback_timer*>(self);
    // A one-shot timer is no longer armed once it fires; a periodic one is
    // until it is stopped.
    if (impl(ct->impl_).period == 0) armed_timers.fetch_sub(1, std::memory_order_relaxed);
    ct->f_(ct->arg_);
}

void callback_timer::start(std::chrono::nanoseconds d, std::chrono::nanoseconds period) {
    detail::timer& t = impl(impl_);
    t.when = detail::deadline_after(d);
    t.period = period.count() > 0 ? period.count() : 0;
    armed_timers.fetch_add(1, std::memory_order_relaxed);
    detail::timer_add(&t);
}

bool callback_timer::stop() noexcept {
    detail::timer& t = impl(impl_);
    bool removed = detail::timer_del(&t);
    // A periodic timer is re-armed after each firing, so removing it is the
    // only way it stops counting.
    if (removed) armed_timers.fetch_sub(1, std::memory_order_relaxed);
    return removed;
}

bool callback_timer::reset(std::chrono::nanoseconds d, std::chrono::nanoseconds period) {
    bool was = stop();
    start(d, period);
    return was;
}

std::uint64_t callback_timer::armed() noexcept {
    return armed_timers.load(std::memory_order_relaxed);
}

} // namespace rill
