#include "builtin_stages.hpp"

// Placeholder until the built-in stages land (yaml-runner branch).
void rill::config::detail::register_builtin_stages(registry&) {}
