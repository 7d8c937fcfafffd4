// Runtime timers with callbacks, for libraries built on the runtime (the CSP
// layer's after/tick/timer and context deadlines). A callback_timer wraps one
// of the scheduler's timers: armed, it sits in a processor's timer heap and
// costs no goroutine and no thread.
//
// Contract: the callback runs on a scheduler stack, not on a goroutine, so it
// must not block: it may try_send on a channel, close one, or spawn a goroutine
// with rill::go, and nothing that parks. start/stop/reset on one callback_timer
// must not race with each other (guard them if several goroutines share it).
// stop() and the destructor return only once a callback that is running on
// another thread has returned, so the callback's argument may be freed after.
#pragma once

#include <chrono>
#include <cstdint>

namespace rill {

class callback_timer {
public:
    using callback = void (*)(void* arg);

    callback_timer(callback f, void* arg) noexcept;
    callback_timer(const callback_timer&) = delete;
    callback_timer& operator=(const callback_timer&) = delete;
    ~callback_timer();

    // Arms the timer to call f(arg) after d (at once if d <= 0), then every
    // period if period > 0. The timer must not be armed already.
    void start(std::chrono::nanoseconds d, std::chrono::nanoseconds period = {});
    // Disarms it; true if it was armed and had not fired yet (for a periodic
    // timer: true if it was armed). Waits for a running callback to return.
    bool stop() noexcept;
    // stop() then start(d, period); returns what stop() returned.
    bool reset(std::chrono::nanoseconds d, std::chrono::nanoseconds period = {});

    // Timers armed through callback_timer in the whole process and not yet
    // fired (one-shot) or stopped: for leak checks in tests.
    static std::uint64_t armed() noexcept;

private:
    static void trampoline(void* self, std::int64_t now);
    // Storage for the runtime's timer, whose layout stays private to the
    // runtime (timer.cpp checks that it fits).
    alignas(8) unsigned char impl_[64];
    callback f_;
    void* arg_;
};

} // namespace rill
