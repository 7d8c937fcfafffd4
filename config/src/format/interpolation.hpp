// `${VAR}`, `${VAR:-default}` and `$$` in scalar values: the environment
// read into a topology file. A `$` followed by anything else is itself.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace rill::config {

using getenv_fn = std::function<std::optional<std::string>(std::string_view name)>;

struct interpolated {
    std::string text;
    std::string error{}; // non-empty: an unset variable without default, or a malformed ${
};

interpolated interpolate(std::string_view text, const getenv_fn& getenv);

} // namespace rill::config
