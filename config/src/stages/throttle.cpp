// throttle: passes values at most `rate` per second on average, with bursts of
// up to `burst` (a token bucket).
#include "stages/stages.hpp"

namespace rill::config::stages {

namespace {
void throttle(stage_io& io) {
    auto rate = io.arg<double>("rate");
    auto burst = static_cast<double>(io.arg<std::int64_t>("burst"));
    auto in = io.in_any("in");
    auto out = io.out_any("out");
    using clock = std::chrono::steady_clock;
    double tokens = burst;
    auto last = clock::now();
    box v(in.type());
    while (in.recv(v)) {
        auto now = clock::now();
        tokens = std::min(burst, tokens + std::chrono::duration<double>(now - last).count() * rate);
        last = now;
        if (tokens < 1) {
            auto wait = std::chrono::duration<double>((1 - tokens) / rate);
            if (!pause(io.ctx(), std::chrono::duration_cast<std::chrono::nanoseconds>(wait)))
                return;
            tokens = 1;
            last = clock::now();
        }
        tokens -= 1;
        if (!out.send(v)) return;
    }
}
} // namespace

void register_throttle(registry& r) {
    r.add(stage_def("throttle", throttle)
              .help("Passes values on at most rate per second on average, letting bursts of up "
                    "to burst through at once.")
              .input_any("in", "the values")
              .output_any("out", "the same values, paced")
              .required<double>("rate", "values per second")
              .min(1e-9)
              .arg<std::int64_t>("burst", 1, "values let through at once after a quiet time")
              .min(1));
}

} // namespace rill::config::stages
