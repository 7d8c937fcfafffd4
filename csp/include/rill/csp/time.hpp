// Time helpers on the runtime's timers (mirrors Go's time.After, time.Timer,
// time.Ticker). Each delivers the time it fired, as a steady_clock time
// point, on a channel of capacity 1; an armed timer costs a slot in a
// processor's timer heap, no goroutine.
//
// Contract: after(d) fires once; its timer lives until it fires, even when
// nobody listens any more (Go's time.After before Go 1.23), so a loop that
// selects on a fresh after() each time should use rill::on_timeout or one
// timer and reset() instead. timer and ticker stop when destroyed; their
// stop() and reset() are safe from any goroutine and, as in Go 1.23, leave no
// stale value in the channel. A ticker drops ticks for a slow receiver. A
// ticker's period must be positive (std::invalid_argument otherwise).
#pragma once

#include <rill/chan.hpp>

#include <chrono>
#include <memory>

namespace rill {

using time_point = std::chrono::steady_clock::time_point;

// A channel that receives the current time once, after d (at once if d <= 0).
receiver<time_point> after(std::chrono::nanoseconds d);

namespace detail {
struct timed_chan;
// What timer and ticker share: a channel fed by a runtime timer.
class timed_source {
public:
    timed_source(timed_source&&) noexcept;
    timed_source& operator=(timed_source&&) noexcept;
    ~timed_source();
    receiver<time_point> c() const noexcept;

protected:
    timed_source();
    std::unique_ptr<timed_chan> s_;
};
} // namespace detail

// A one-shot timer (Go's time.Timer).
class timer : public detail::timed_source {
public:
    explicit timer(std::chrono::nanoseconds d);
    // true if it stopped the timer before it fired.
    bool stop();
    // Re-arms it to fire after d; true if it had been armed.
    bool reset(std::chrono::nanoseconds d);
};

// Fires every period until stopped (Go's time.Ticker).
class ticker : public detail::timed_source {
public:
    explicit ticker(std::chrono::nanoseconds period);
    void stop();
    // Restarts it with a new period; the next tick comes one period from now.
    void reset(std::chrono::nanoseconds period);
};

// A ticker with the given period (unlike Go's time.Tick, it stops when the
// returned object is destroyed).
inline ticker tick(std::chrono::nanoseconds period) { return ticker(period); }

} // namespace rill
