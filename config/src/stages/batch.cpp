// batch: groups lines into batches of `size`, sending a smaller one when the
// first line of a batch has waited max_wait, and the rest at the end.
#include "stages/stages.hpp"

namespace rill::config::stages {

namespace {
void batch(stage_io& io) {
    auto size = static_cast<std::size_t>(io.arg<std::int64_t>("size"));
    auto max_wait = io.arg<std::chrono::nanoseconds>("max_wait");
    auto in = io.in<std::string>("in");
    auto out = io.out<std::vector<std::string>>("out");
    std::vector<std::string> lines;
    auto due = std::chrono::steady_clock::time_point::max();
    for (;;) {
        bool timed_out = false;
        auto line = in.recv_until(due, timed_out);
        if (line) {
            if (lines.empty()) due = std::chrono::steady_clock::now() + max_wait;
            lines.push_back(std::move(*line));
            if (lines.size() < size) continue;
        } else if (!timed_out) {
            break;
        }
        if (!out.send(std::exchange(lines, {}))) return;
        due = std::chrono::steady_clock::time_point::max();
    }
    if (!lines.empty()) out.send(std::move(lines));
}
} // namespace

void register_batch(registry& r) {
    r.add(stage_def("batch", batch)
              .help("Groups lines into batches (type lines) of up to size lines; a batch is sent "
                    "when full, when its first line has waited max_wait, or at the end.")
              .input<std::string>("in", "the lines")
              .output<std::vector<std::string>>("out", "the batches")
              .required<std::int64_t>("size", "lines per batch")
              .min(1)
              .arg<std::chrono::nanoseconds>("max_wait", std::chrono::seconds(1),
                                             "the longest a line waits for its batch to fill")
              .min(0));
}

} // namespace rill::config::stages
