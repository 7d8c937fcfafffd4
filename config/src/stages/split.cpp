// split: each line cut into fields at a regular expression, one value per field.
#include "stages/stages.hpp"

#include <regex>

namespace rill::config::stages {

namespace {
void split(stage_io& io) {
    std::regex sep(io.arg<std::string>("pattern"), std::regex::ECMAScript | std::regex::optimize);
    bool keep_empty = io.arg<bool>("keep_empty");
    auto out = io.out<std::string>("out");
    for (auto& line : io.in<std::string>("in")) {
        for (std::sregex_token_iterator it(line.begin(), line.end(), sep, -1), end; it != end;
             ++it) {
            if (it->length() == 0 && !keep_empty) continue;
            if (!out.send(it->str())) return;
        }
    }
}
} // namespace

void register_split(registry& r) {
    add(r, stage_def("split", split)
               .help("Splits each line at a separator (a regular expression) and sends the fields "
                     "one by one.")
               .input<std::string>("in", "the lines")
               .output<std::string>("out", "the fields")
               .regex_arg("pattern", "\\s+", "the separator")
               .arg<bool>("keep_empty", false, "also send empty fields"));
}

} // namespace rill::config::stages
