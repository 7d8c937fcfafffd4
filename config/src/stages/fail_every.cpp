// fail_every: a fault injector for trying supervision out. It passes values
// on and throws on every n-th one it receives (counting from its start, so a
// restarted worker counts afresh); that value is lost, as a failing stage's
// value in hand is, and so is one whose send is cancelled: the runner counts
// and logs both (stage_io.hpp, "Values in hand").
#include "stages/stages.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace rill::config::stages {

namespace {
void fail_every(stage_io& io) {
    auto n = io.arg<std::int64_t>("n");
    auto in = io.in_any("in");
    auto out = io.out_any("out");
    box v(in.type());
    for (std::int64_t seen = 1; in.recv(v); ++seen) {
        if (seen % n == 0)
            throw std::runtime_error(
                fmt::format("fail_every: value {} of this run fails (n={})", seen, n));
        if (!out.send(v)) return;
    }
}
} // namespace

void register_fail_every(registry& r) {
    r.add(stage_def("fail_every", fail_every)
              .help("Passes values on, but throws on every n-th one (which is lost): a fault "
                    "injector for trying supervision and restarts out.")
              .input_any("in", "the values")
              .output_any("out", "the values that did not fail")
              .required<std::int64_t>("n", "fail on every n-th value")
              .min(1));
}

} // namespace rill::config::stages
