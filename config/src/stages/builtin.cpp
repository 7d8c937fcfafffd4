// Registers the built-in stages (registry::global() calls this once).
#include "builtin_stages.hpp"
#include "stages/stages.hpp"

void rill::config::detail::register_builtin_stages(registry& r) {
    stages::register_lines(r);
    stages::register_tcp(r);
    stages::register_generate(r);
    stages::register_grep(r);
    stages::register_split(r);
    stages::register_batch(r);
    stages::register_throttle(r);
    stages::register_count(r);
    stages::register_fail_every(r);
    stages::register_nats(r);
}
