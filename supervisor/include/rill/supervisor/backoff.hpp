// Restart backoff (beyond OTP, which restarts at once): the n-th consecutive
// restart of a child waits initial * factor^(n-1), capped at max, spread by
// +-jitter (a fraction) so that children failing together do not restart in
// lockstep. A child that ran for reset_after before failing starts over at
// initial. The delay is spent without blocking the supervisor: operations and
// stop requests are served meanwhile, and the child shows as "restarting".
// Restarts still count towards intensity when they are decided.
#pragma once

#include <chrono>
#include <cstdint>

namespace rill {

struct backoff {
    std::chrono::nanoseconds initial = std::chrono::milliseconds(10);
    std::chrono::nanoseconds max = std::chrono::seconds(5);
    double factor = 2.0;
    double jitter = 0.1; // 0 .. 1
    std::chrono::nanoseconds reset_after = std::chrono::seconds(10);

    // The delay before consecutive restart number attempt (1, 2, ...); random
    // is a uniformly distributed 64-bit value for the jitter.
    std::chrono::nanoseconds delay(int attempt, std::uint64_t random) const noexcept;
};

} // namespace rill
