// The live view: a registry of running supervisors, rendered as a tree by
// path, printed in every goroutine dump and by supervision_tree().
#include "core.hpp"

#include <rill/runtime.hpp>
#include <rill/supervisor/supervisor.hpp>

#include <algorithm>
#include <ostream>

namespace rill::detail {

namespace {
// Taken by goroutines that start and stop supervisors (see rill/sync.hpp).
rill::mutex& registry_mu() {
    static auto* mu = new rill::mutex;
    return *mu;
}
std::vector<sup_core*>& registry() {
    static auto* r = new std::vector<sup_core*>;
    return *r;
}

// try_only: for the dump, which runs on a runtime thread and must not wait
// for a supervisor's goroutine (it could be preempted while holding its lock).
std::string render_all(bool try_only) {
    std::unique_lock lk(registry_mu(), std::defer_lock);
    if (!try_only)
        lk.lock();
    else if (!lk.try_lock())
        return "busy (supervisors are starting or stopping)\n";
    std::vector<std::pair<std::string, sup_core*>> all;
    for (auto* c : registry())
        all.emplace_back(c->path(), c);
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out;
    for (auto& [path, c] : all)
        c->render(out, static_cast<int>(std::count(path.begin(), path.end(), '/')), try_only);
    return out;
}
} // namespace

void register_core(sup_core* c) {
    // The dump section lives for the rest of the process: once added, it
    // prints whatever is registered at the time of the dump.
    static const auto section = add_dump_section([](std::ostream& out) {
        auto text = render_all(true);
        if (text.empty()) return;
        out << "supervisors:\n" << text;
    });
    (void)section;
    std::lock_guard lk(registry_mu());
    registry().push_back(c);
}

void unregister_core(sup_core* c) {
    std::lock_guard lk(registry_mu());
    auto& r = registry();
    r.erase(std::remove(r.begin(), r.end(), c), r.end());
}

void sup_core::render(std::string& out, int depth, bool try_only) const {
    std::string pad(static_cast<std::size_t>(depth) * 2, ' ');
    std::unique_lock lk(mu_, std::defer_lock);
    if (!try_only) {
        lk.lock();
    } else if (!lk.try_lock()) {
        out += pad + "supervisor " + path_ + ": busy (its table is being changed)\n";
        return;
    }
    out += pad + "supervisor " + path_ + " (" +
           (dynamic_ ? std::string("dynamic") : std::string(to_string(opts_.strategy))) + ", " +
           std::to_string(opts_.intensity) + " restarts in " +
           std::to_string(
               std::chrono::duration_cast<std::chrono::milliseconds>(opts_.period).count()) +
           " ms) " + (running_ ? "running" : "stopped") + ", " + std::to_string(children_.size()) +
           " children\n";
    for (const auto& c : children_)
        out += pad + "  " + c.name + "  " + to_string(c.spec.kind) + " " +
               to_string(c.spec.restart) + " " + to_string(c.state) +
               " restarts=" + std::to_string(c.restarts) + "\n";
}

} // namespace rill::detail

namespace rill {
std::string supervision_tree() { return detail::render_all(false); }
} // namespace rill
