// The operations on a running supervisor (OTP's start_child, terminate_child,
// restart_child, delete_child, which_children, count_children), each run on
// the supervisor's goroutine through sup_core::call.
#include "core.hpp"

#include <rill/supervisor/errors.hpp>

namespace rill::detail {

namespace {
[[noreturn]] void fail(sup_errc code, const std::string& sup, const std::string& id) {
    throw supervisor_error(code, sup + ": child '" + id + "': " + to_string(code));
}
} // namespace

bool sup_core::op_start_child(child_spec spec) {
    check_spec(path_, spec, opts_.auto_shutdown);
    if (auto* old = find(spec.id))
        fail(old->state == child_state::stopped ? sup_errc::already_present
                                                : sup_errc::already_started,
             path_, spec.id);
    auto rec = std::make_unique<child_rec>();
    rec->name = spec.id;
    rec->spec = with_defaults(std::move(spec));
    auto& c = *rec;
    {
        std::lock_guard lk(mu_);
        children_.push_back(std::move(rec));
    }
    switch (start_instance(c, event_kind::started)) {
    case start_outcome::started:
        return true;
    case start_outcome::ignored:
        if (c.spec.restart == restart::temporary) erase(c);
        return false;
    case start_outcome::failed:
        break;
    }
    auto id = c.name;
    erase(c);
    throw supervisor_error(sup_errc::start_failed, path_ + ": child '" + id + "' failed to start",
                           last_start_error_);
}

void sup_core::op_terminate_child(const std::string& id) {
    auto* c = find(id);
    if (!c) fail(sup_errc::not_found, path_, id);
    clear_due(*c);
    c->count_again = false;
    if (c->inst) terminate_instance(*c);
    if (c->spec.restart == restart::temporary)
        erase(*c);
    else
        set_state(*c, child_state::stopped);
}

bool sup_core::op_restart_child(const std::string& id) {
    auto* c = find(id);
    if (!c) fail(sup_errc::not_found, path_, id);
    if (c->state == child_state::running) fail(sup_errc::running, path_, id);
    if (c->state == child_state::restarting) fail(sup_errc::restarting, path_, id);
    switch (start_instance(*c, event_kind::started)) {
    case start_outcome::started:
        return true;
    case start_outcome::ignored:
        return false;
    case start_outcome::failed:
        break;
    }
    throw supervisor_error(sup_errc::start_failed, path_ + ": child '" + id + "' failed to start",
                           last_start_error_);
}

void sup_core::op_delete_child(const std::string& id) {
    auto* c = find(id);
    if (!c) fail(sup_errc::not_found, path_, id);
    if (c->state == child_state::running) fail(sup_errc::running, path_, id);
    if (c->state == child_state::restarting) fail(sup_errc::restarting, path_, id);
    erase(*c);
}

std::optional<std::uint64_t> sup_core::op_start_dynamic(child_fn body) {
    if (opts_.max_children && children_.size() >= *opts_.max_children)
        throw supervisor_error(sup_errc::max_children, path_ + ": " +
                                                           std::to_string(*opts_.max_children) +
                                                           " children already (max_children)");
    auto rec = std::make_unique<child_rec>();
    rec->spec = tmpl_;
    if (body) rec->spec.start = std::move(body);
    rec->ref = ++next_ref_;
    rec->name = tmpl_.id + "#" + std::to_string(rec->ref);
    auto& c = *rec;
    {
        std::lock_guard lk(mu_);
        children_.push_back(std::move(rec));
    }
    auto ref = c.ref;
    auto outcome = start_instance(c, event_kind::started);
    if (outcome == start_outcome::started) return ref;
    auto name = c.name;
    erase(c);
    if (outcome == start_outcome::ignored) return std::nullopt;
    throw supervisor_error(sup_errc::start_failed, path_ + ": child '" + name + "' failed to start",
                           last_start_error_);
}

void sup_core::op_terminate_dynamic(std::uint64_t ref) {
    auto* c = find_ref(ref);
    if (!c) fail(sup_errc::not_found, path_, tmpl_.id + "#" + std::to_string(ref));
    if (c->inst) terminate_instance(*c);
    erase(*c);
}

std::vector<child_info> sup_core::which_children() const {
    std::lock_guard lk(mu_);
    std::vector<child_info> out;
    out.reserve(children_.size());
    for (const auto& c : children_)
        out.push_back({dynamic_ ? c->name : c->spec.id, c->ref, c->state, c->spec.kind,
                       c->spec.restart, c->restarts});
    return out;
}

child_counts sup_core::count_children() const {
    std::lock_guard lk(mu_);
    child_counts n;
    for (const auto& c : children_) {
        ++n.specs;
        if (c->state == child_state::running) ++n.active;
        if (c->spec.kind == child_kind::supervisor)
            ++n.supervisors;
        else
            ++n.workers;
    }
    return n;
}

} // namespace rill::detail
