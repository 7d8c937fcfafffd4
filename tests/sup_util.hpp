// Helpers shared by the supervisor tests: an event recorder, a log of what
// children did, and children that crash or return when told to.
#pragma once

#include "csp_util.hpp"

#include <rill/chan.hpp>
#include <rill/select.hpp>
#include <rill/supervisor.hpp>

#include <catch2/catch.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace sup_test {

// The supervisors' logger, registered before any supervisor so that the
// library uses it: quiet unless RILL_SUP_LOG is set, since tests fail on
// purpose by the thousand.
inline const std::shared_ptr<spdlog::logger> sup_logger = [] {
    auto l = spdlog::get("rill.supervisor");
    if (!l) l = spdlog::stderr_color_mt("rill.supervisor");
    l->set_level(std::getenv("RILL_SUP_LOG") ? spdlog::level::info : spdlog::level::off);
    return l;
}();

// A list of strings appended from any goroutine, for ordering checks.
class journal {
public:
    void add(std::string s) {
        std::lock_guard lk(mu_);
        lines_.push_back(std::move(s));
    }
    std::vector<std::string> lines() const {
        std::lock_guard lk(mu_);
        return lines_;
    }
    std::size_t count(const std::string& s) const {
        std::lock_guard lk(mu_);
        return static_cast<std::size_t>(std::count(lines_.begin(), lines_.end(), s));
    }
    // Waits until s has been added n times (an event announces nothing else).
    bool wait_count(const std::string& s, std::size_t n = 1) const {
        return rill_test::eventually([&] { return count(s) >= n; });
    }
    // The lines that start with prefix, in order.
    std::vector<std::string> with_prefix(const std::string& prefix) const {
        std::vector<std::string> out;
        for (auto& l : lines())
            if (l.rfind(prefix, 0) == 0) out.push_back(l);
        return out;
    }
    void clear() {
        std::lock_guard lk(mu_);
        lines_.clear();
    }

private:
    mutable std::mutex mu_;
    std::vector<std::string> lines_;
};

// Records events as "kind child" or, for exits, "exited child reason".
inline rill::event_hook recorder(journal& j) {
    return [&j](const rill::supervisor_event& e) {
        std::string s = std::string(rill::to_string(e.kind)) + " " + e.child;
        if (e.kind == rill::event_kind::exited) s += std::string(" ") + rill::to_string(e.reason);
        j.add(s);
    };
}

enum class cmd { exit_normal, panic, exit_shutdown };

// A child that logs "start id" and "stop id" (when cancelled), and otherwise
// does what it is told over its control channel: every instance (restarts
// included) listens on the same channel, so a send reaches the one running.
struct controlled {
    controlled(journal& j, std::string name) : ctl(0), log(&j), id(std::move(name)) {}
    rill::chan<cmd> ctl; // unbuffered: a send returns once a child took it
    journal* log;
    std::string id;
    rill::child_fn body() const {
        return [ctl = ctl, log = log, id = id](const rill::context& ctx) {
            log->add("start " + id);
            rill::notify_started(ctx);
            std::optional<cmd> c;
            rill::select(rill::on_recv(ctl, [&](std::optional<cmd> v) { c = v; }),
                         rill::on_recv(ctx.done(), [](auto) {}));
            if (!c) {
                log->add("stop " + id);
                return;
            }
            switch (*c) {
            case cmd::exit_normal:
                return;
            case cmd::panic:
                throw std::runtime_error("panic in " + id);
            case cmd::exit_shutdown:
                throw rill::shutdown_exit("done: " + id);
            }
        };
    }
};

inline rill::child_spec spec(const controlled& c, rill::restart r = rill::restart::permanent) {
    rill::child_spec s;
    s.id = c.id;
    s.start = c.body();
    s.restart = r;
    s.await_started = true; // so that "start id" is logged before the next child starts
    return s;
}

inline rill::supervisor_options
opts(journal& events, rill::strategy st = rill::strategy::one_for_one, int intensity = 100) {
    rill::supervisor_options o;
    o.name = "root";
    o.strategy = st;
    o.intensity = intensity;
    o.period = std::chrono::hours(1);
    o.on_event = recorder(events);
    return o;
}

// The which_children row of child id (FAIL if there is none).
inline rill::child_info info_of(const rill::detail::supervisor_base& s, const std::string& id) {
    for (auto& c : s.which_children())
        if (c.id == id) return c;
    FAIL("no child " << id);
    return {};
}
inline rill::child_state state_of(const rill::detail::supervisor_base& s, const std::string& id) {
    return info_of(s, id).state;
}
inline rill::child_kind which_kind(const rill::detail::supervisor_base& s, const std::string& id) {
    return info_of(s, id).kind;
}
inline int restarts_of(const rill::detail::supervisor_base& s, const std::string& id) {
    return info_of(s, id).restarts;
}

inline bool has_child(const rill::detail::supervisor_base& s, const std::string& id) {
    auto all = s.which_children();
    return std::any_of(all.begin(), all.end(), [&](auto& c) { return c.id == id; });
}

// The code of the supervisor_error f throws (FAIL if it throws none).
template <class F> rill::sup_errc error_of(F f) {
    try {
        f();
    } catch (const rill::supervisor_error& e) {
        return e.code();
    }
    FAIL("no supervisor_error");
    return rill::sup_errc::not_running;
}

// A list of expected lines.
inline std::vector<std::string> v(std::initializer_list<const char*> l) {
    return {l.begin(), l.end()};
}

// A child that starts once and fails at once, and whose every later start
// throws: its restarts fail for ever. `starts` counts its starts.
inline rill::child_spec restart_loop(std::string id, std::atomic<int>& starts) {
    return {.id = std::move(id),
            .start =
                [&starts](const rill::context& ctx) {
                    if (starts++ > 0) throw std::runtime_error("cannot restart");
                    rill::notify_started(ctx);
                    throw std::runtime_error("first failure");
                },
            .await_started = true};
}

// Options with the given auto_shutdown, and a significant spec for c.
inline rill::supervisor_options auto_opts(journal& events, rill::auto_shutdown a) {
    auto o = opts(events);
    o.auto_shutdown = a;
    return o;
}
inline rill::child_spec significant(const controlled& c, rill::restart r) {
    auto s = spec(c, r);
    s.significant = true;
    return s;
}

} // namespace sup_test
