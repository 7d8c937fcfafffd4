// count: counts values per time window and reports "count=N total=M" at the
// end of every window, and once more at the end of the input.
#include "stages/stages.hpp"

#include <fmt/format.h>

namespace rill::config::stages {

namespace {
void count(stage_io& io) {
    auto every = io.arg<std::chrono::nanoseconds>("every");
    auto in = io.in_any("in");
    auto out = io.out<std::string>("out");
    box v(in.type());
    std::uint64_t window = 0, total = 0;
    auto report = [&] { return out.send(fmt::format("count={} total={}", window, total)); };
    auto due = std::chrono::steady_clock::now() + every;
    for (;;) {
        bool timed_out = false;
        if (in.recv_until(v, due, timed_out)) {
            v.reset();
            ++window, ++total;
            continue;
        }
        if (!timed_out) break;
        if (!report()) return;
        window = 0;
        due += every;
    }
    report();
}
} // namespace

void register_count(registry& r) {
    add(r,
        stage_def("count", count)
            .help("Counts the values it receives; at the end of every window sends "
                  "\"count=N total=M\" (N: in that window, M: so far), and once more at the end.")
            .input_any("in", "the values to count (dropped)")
            .output<std::string>("out", "the reports")
            .arg<std::chrono::nanoseconds>("every", std::chrono::seconds(1), "the window")
            .min(1e-6));
}

} // namespace rill::config::stages
