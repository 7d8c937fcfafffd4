// grep: passes the lines a regular expression matches (or, inverted, those it
// does not); the others go to `rejects` when that is bound.
#include "stages/stages.hpp"

#include <regex>

namespace rill::config::stages {

namespace {
void grep(stage_io& io) {
    std::regex re(io.arg<std::string>("pattern"), std::regex::ECMAScript | std::regex::optimize);
    bool invert = io.arg<bool>("invert"), keep_rejects = io.bound("rejects");
    auto out = io.out<std::string>("out");
    auto rejects = io.out<std::string>("rejects");
    for (auto& line : io.in<std::string>("in")) {
        bool pass = std::regex_search(line, re) != invert;
        if (!pass && !keep_rejects) continue;
        if (!(pass ? out : rejects).send(std::move(line))) return;
    }
}
} // namespace

void register_grep(registry& r) {
    add(r, stage_def("grep", grep)
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
