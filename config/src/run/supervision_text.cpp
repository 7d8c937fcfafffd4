#include "run/supervision_text.hpp"

#include "format/scalars.hpp"

#include <fmt/format.h>

namespace rill::config::detail {

std::string describe_limits(const supervisor_decl& d) {
    auto out = fmt::format("{}, at most {} restarts in {}, ", rill::to_string(d.strategy),
                           d.intensity, scalars::format_duration(d.period));
    if (!d.backoff) return out + "restarts at once";
    const auto& b = *d.backoff;
    return out + fmt::format("backoff {} to {} (x{})", scalars::format_duration(b.initial),
                             scalars::format_duration(b.max), scalars::format_number(b.factor));
}

} // namespace rill::config::detail
