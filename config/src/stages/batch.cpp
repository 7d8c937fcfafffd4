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
    // The lines of the batch are kept in hand until it is sent: a batch whose
    // send is cancelled counts them all as lost.
    std::vector<std::string> lines;
    auto send_batch = [&] {
        auto n = lines.size();
        if (!out.send(std::exchange(lines, {}))) return false;
        io.release(n);
        return true;
    };
    auto due = std::chrono::steady_clock::time_point::max();
    for (;;) {
        bool timed_out = false;
        auto line = in.recv_until(due, timed_out);
        if (line) {
            in.keep();
            if (lines.empty()) due = std::chrono::steady_clock::now() + max_wait;
            lines.push_back(std::move(*line));
            if (lines.size() < size) continue;
        } else if (!timed_out) {
            break;
        }
        if (!send_batch()) return;
        due = std::chrono::steady_clock::time_point::max();
    }
    if (!lines.empty()) send_batch();
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
