// The operations on a running supervisor (OTP's start_child, terminate_child,
// restart_child, delete_child, which_children, count_children), each run on
// the supervisor's goroutine through sup_core::call.
#include "core.hpp"

#include <rill/runtime.hpp>
#include <rill/supervisor/errors.hpp>

namespace rill::detail {

namespace {
[[noreturn]] void fail(sup_errc code, const std::string& sup, const std::string& id) {
    throw supervisor_error(code, sup + ": child '" + id + "': " + to_string(code));
}
} // namespace

bool sup_core::op_start_child(child_spec spec) {
    check_spec(path_, spec, opts_.auto_shutdown);
    // OTP's handle_start_child: already_started only for a running child; a
    // stopped one, or one in a restart loop, is already_present.
    if (auto* old = children_.find(spec.id))
        fail(old->state == child_state::running ? sup_errc::already_started
                                                : sup_errc::already_present,
             path_, spec.id);
    child_rec rec;
    rec.name = spec.id;
    rec.spec = with_defaults(std::move(spec));
    child_rec* added;
    {
        std::lock_guard lk(mu_);
        added = &children_.push_back(std::move(rec));
    }
    auto& c = *added;
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
    auto* c = children_.find(id);
    if (!c) fail(sup_errc::not_found, path_, id);
    clear_due(*c);
    c->count_again = false;
    if (c->inst) terminate_instance(*c);
    forget_or_stop(*c);
}

bool sup_core::op_restart_child(const std::string& id) {
    auto* c = children_.find(id);
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
    auto* c = children_.find(id);
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
    child_rec rec;
    rec.spec = tmpl_;
    if (body) rec.spec.start = std::move(body);
    rec.ref = ++next_ref_;
    rec.name = tmpl_.id + "#" + std::to_string(rec.ref);
    child_rec* added;
    {
        std::lock_guard lk(mu_);
        added = &children_.push_back(std::move(rec));
    }
    auto& c = *added;
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
    auto* c = children_.find_ref(ref);
    // OTP returns ok for a child that has ended already; a ref never given
    // out is not found.
    if (!c && ref >= 1 && ref <= next_ref_) return;
    if (!c) fail(sup_errc::not_found, path_, tmpl_.id + "#" + std::to_string(ref));
    if (c->inst) terminate_instance(*c);
    erase(*c);
}

template <class F> auto sup_core::consistent(F fn) {
    if (running_ && goroutine_id() != loop_goroutine_) {
        std::optional<decltype(fn())> result;
        try {
            call([&] { result.emplace(fn()); });
            return std::move(*result);
        } catch (const supervisor_error& e) {
            if (e.code() != sup_errc::not_running) throw;
        }
    }
    // Not running (so not changing), or asked from its own goroutine (an
    // event hook), which is between steps by definition.
    std::lock_guard lk(mu_);
    return fn();
}

child_info sup_core::info_of(const child_rec& c) const {
    return {dynamic_ ? c.name : c.spec.id, c.ref, c.state, c.spec.kind, c.spec.restart, c.restarts};
}

std::vector<child_info> sup_core::which_children() {
    return consistent([&] {
        std::vector<child_info> out;
        out.reserve(children_.size());
        for (const auto& c : children_)
            out.push_back(info_of(c));
        return out;
    });
}

child_info sup_core::which_child(const std::string& id, std::uint64_t ref) {
    return consistent([&] {
        const child_rec* c = dynamic_ ? children_.find_ref(ref) : children_.find(id);
        if (!c)
            fail(sup_errc::not_found, path_, dynamic_ ? tmpl_.id + "#" + std::to_string(ref) : id);
        return info_of(*c);
    });
}

child_spec sup_core::get_childspec(const std::string& id) {
    return consistent([&] {
        if (dynamic_) return tmpl_;
        const child_rec* c = children_.find(id);
        if (!c) fail(sup_errc::not_found, path_, id);
        return c->spec;
    });
}

child_counts sup_core::count_children() {
    return consistent([&] {
        child_counts n;
        for (const auto& c : children_) {
            if (c.state == child_state::running) ++n.active;
            if (c.spec.kind == child_kind::supervisor)
                ++n.supervisors;
            else
                ++n.workers;
        }
        // A dynamic supervisor has one spec, its template (OTP's
        // simple_one_for_one counts it so).
        n.specs = dynamic_ ? 1 : children_.size();
        return n;
    });
}

} // namespace rill::detail
