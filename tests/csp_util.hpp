// Helpers shared by the CSP layer's tests: goroutine leak checks.
#pragma once

#include "test_util.hpp"

#include <rill/runtime.hpp>
#include <rill/timer.hpp>

#include <chrono>
#include <cstdint>

namespace csp_test {

inline std::uint64_t live() { return rill::stats().goroutines_live; }

// Whether the live goroutines and armed timers come back to what they were:
// an exiting goroutine's bookkeeping finishes after it signals, hence eventually.
// The baseline is taken once goroutines that an earlier test let finish have
// gone (their exit's bookkeeping lags behind what they signalled): the
// tests run inside rill::run, where only the main goroutine should remain.
struct leak_check {
    leak_check() {
        auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (live() > 1 && std::chrono::steady_clock::now() < give_up)
            rill::gosched();
        goroutines = live();
        timers = rill::callback_timer::armed();
    }
    std::uint64_t goroutines;
    std::uint64_t timers;
    bool clean() const {
        // stats() sums per-processor counters without stopping them, so one
        // reading can match by chance while goroutines come and go (a chain
        // of context-release goroutines, say): the match must hold for
        // several readings in a row.
        auto back = [&] { return live() == goroutines && rill::callback_timer::armed() == timers; };
        bool ok = rill_test::eventually([&] {
            for (int i = 0; i < 3; ++i, rill::gosched())
                if (!back()) return false;
            return true;
        });
        if (!ok)
            UNSCOPED_INFO("goroutines " << goroutines << " -> " << live() << ", armed timers "
                                        << timers << " -> " << rill::callback_timer::armed());
        return ok;
    }
};

} // namespace csp_test
