// Helpers shared by the CSP layer's tests: goroutine leak checks.
#pragma once

#include "test_util.hpp"

#include <rill/runtime.hpp>
#include <rill/timer.hpp>

#include <cstdint>

namespace csp_test {

inline std::uint64_t live() { return rill::stats().goroutines_live; }

// Whether the live goroutines and armed timers come back to what they were:
// an exiting goroutine's bookkeeping finishes after it signals, hence eventually.
struct leak_check {
    std::uint64_t goroutines = live();
    std::uint64_t timers = rill::callback_timer::armed();
    bool clean() const {
        bool ok = rill_test::eventually(
            [&] { return live() == goroutines && rill::callback_timer::armed() == timers; });
        if (!ok)
            UNSCOPED_INFO("goroutines " << goroutines << " -> " << live() << ", armed timers "
                                        << timers << " -> " << rill::callback_timer::armed());
        return ok;
    }
};

} // namespace csp_test
