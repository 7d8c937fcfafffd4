// The process-wide registry, with the built-in stages registered on its first
// use: a static library's static registrations would not run. The registry
// class itself (format/registry.cpp) only holds declarations; this is where
// the stages' functions, the running half, are put into it.
#include "stages/stages.hpp"

namespace rill::config {

registry& registry::global() {
    static registry& r = []() -> registry& {
        static registry g;
        stages::register_lines(g);
        stages::register_tcp(g);
        stages::register_generate(g);
        stages::register_grep(g);
        stages::register_split(g);
        stages::register_batch(g);
        stages::register_throttle(g);
        stages::register_count(g);
        stages::register_fail_every(g);
        return g;
    }();
    return r;
}

} // namespace rill::config
