// The built-in stages (stages/builtin.cpp), registered by registry::global()
// on its first use: a static library's static registrations would not run.
#pragma once

#include <rill/config/registry.hpp>

namespace rill::config::detail {
void register_builtin_stages(registry& r);
} // namespace rill::config::detail
