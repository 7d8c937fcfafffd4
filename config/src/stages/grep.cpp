// grep: passes the lines a regular expression matches (or, inverted, those it
// does not); the others go to `rejects` when that is bound.
#include "stages/line_matcher.hpp"
#include "stages/stages.hpp"

namespace rill::config::stages {

namespace {
void grep(stage_io& io) {
    line_matcher matcher(io.arg<std::string>("pattern"));
    bool invert = io.arg<bool>("invert"), keep_rejects = io.bound("rejects");
    auto out = io.out<std::string>("out");
    auto rejects = io.out<std::string>("rejects");
    for (auto& line : io.in<std::string>("in")) {
        bool pass = matcher.matches(line) != invert;
        if (!pass && !keep_rejects) continue;
        if (!(pass ? out : rejects).send(std::move(line))) return;
    }
}
} // namespace

void register_grep(registry& r) {
    r.add(stage_def("grep", grep)
              .help("Passes the lines that match a regular expression (ECMAScript, anywhere in "
                    "the line); with invert, those that do not.")
              .input<std::string>("in", "the lines")
              .output<std::string>("out", "the lines that pass")
              .output<std::string>("rejects", "the lines that do not pass")
              .optional()
              .regex_arg("pattern", std::nullopt, "the regular expression")
              .arg<bool>("invert", false, "pass the lines that do not match"));
}

} // namespace rill::config::stages
