// after, timer and ticker: a callback_timer whose callback try_sends the time
// on a channel of capacity 1, which never blocks a scheduler stack.
#include <rill/csp/time.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>
#include <rill/timer.hpp>

#include <mutex>
#include <stdexcept>
#include <string>

namespace rill {

namespace detail {

// What after(), timer and ticker share: the channel and the timer feeding it.
struct timed_chan {
    explicit timed_chan(callback_timer::callback f = &timed_chan::fire) : t(f, this) {}
    chan<time_point> ch{1};
    receiver<time_point> rx = ch.rx();
    callback_timer t;
    mutex mu; // serialises stop/reset from several goroutines

    static void fire(void* self) {
        static_cast<timed_chan*>(self)->ch.try_send(std::chrono::steady_clock::now());
    }
    // Disarms and drains, so that no value from before a stop/reset is read after it.
    bool stop_locked() {
        bool was = t.stop();
        (void)ch.try_recv();
        return was;
    }
};

} // namespace detail

namespace {

void check_period(std::chrono::nanoseconds period, const char* fn) {
    if (period.count() <= 0)
        throw std::invalid_argument(std::string(fn) + ": period must be positive, got " +
                                    std::to_string(period.count()) + "ns");
}

} // namespace

receiver<time_point> after(std::chrono::nanoseconds d) {
    struct once final : detail::timed_chan {
        once() : timed_chan(&once::fire_once) {}
        static void fire_once(void* self) {
            auto* o = static_cast<once*>(static_cast<detail::timed_chan*>(self));
            fire(o);
            // The timer must outlive its callback, so freeing waits for a
            // goroutine (whose ~callback_timer waits for this to return).
            rill::go([o] { delete o; }, {.name = "rill::after"});
        }
    };
    auto* o = new once;
    auto rx = o->rx;
    o->t.start(d);
    return rx;
}

namespace detail {
timed_source::timed_source() : s_(std::make_unique<timed_chan>()) {}
timed_source::timed_source(timed_source&&) noexcept = default;
timed_source& timed_source::operator=(timed_source&&) noexcept = default;
timed_source::~timed_source() = default;
receiver<time_point> timed_source::c() const noexcept { return s_->rx; }
} // namespace detail

timer::timer(std::chrono::nanoseconds d) { s_->t.start(d); }

bool timer::stop() {
    std::lock_guard<mutex> g(s_->mu);
    return s_->stop_locked();
}

bool timer::reset(std::chrono::nanoseconds d) {
    std::lock_guard<mutex> g(s_->mu);
    bool was = s_->stop_locked();
    s_->t.start(d);
    return was;
}

ticker::ticker(std::chrono::nanoseconds period) {
    check_period(period, "rill::ticker");
    s_->t.start(period, period);
}

void ticker::stop() {
    std::lock_guard<mutex> g(s_->mu);
    s_->stop_locked();
}

void ticker::reset(std::chrono::nanoseconds period) {
    check_period(period, "rill::ticker::reset");
    std::lock_guard<mutex> g(s_->mu);
    s_->stop_locked();
    s_->t.start(period, period);
}

} // namespace rill
