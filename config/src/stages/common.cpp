#include "stages/stages.hpp"

#include <rill/select.hpp>

namespace rill::config::stages {

bool pause(const context& ctx, std::chrono::nanoseconds d) {
    bool done = false;
    rill::select(rill::on_recv(ctx.done(), [&](std::optional<std::monostate>) { done = true; }),
                 rill::on_timeout(d, [] {}));
    return !done;
}

void append_line(std::string& out, box& v) {
    if (v.type().cpp == typeid(std::string))
        out += v.as<std::string>();
    else
        out += v.to_string();
    out += '\n';
}

} // namespace rill::config::stages
