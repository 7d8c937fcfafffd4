// Helpers shared by the config layer's run tests: quiet stage and supervisor
// logs, topologies built by hand (declared arguments filled with their
// defaults, as the loader fills them), and running one to its end.
#pragma once

#include "sup_util.hpp"

#include <rill/config/runner.hpp>
#include <rill/config/stage_io.hpp>
#include <rill/runtime.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace config_test {

namespace cfg = rill::config;

inline const std::shared_ptr<spdlog::logger> stage_logger = [] {
    auto l = spdlog::get("rill.stage");
    if (!l) l = spdlog::stderr_color_mt("rill.stage");
    l->set_level(std::getenv("RILL_SUP_LOG") ? spdlog::level::info : spdlog::level::off);
    return l;
}();

inline cfg::channel_decl chan(std::string name, std::string type = "int",
                              std::size_t capacity = 4) {
    return {std::move(name), std::move(type), capacity};
}

inline cfg::stage_decl stage(std::string id, std::string name, std::vector<cfg::port_binding> in,
                             std::vector<cfg::port_binding> out,
                             std::map<std::string, cfg::arg_value> args = {}, int workers = 1) {
    cfg::stage_decl d{std::move(id), std::move(name), std::move(in), std::move(out), workers};
    for (auto& a : cfg::registry::global().find(d.stage)->args) {
        auto given = args.find(a.name);
        if (given == args.end() && !a.default_value)
            throw std::logic_error("test stage " + d.id + ": argument " + a.name + " is required");
        d.args[a.name] = given != args.end() ? given->second : *a.default_value;
    }
    return d;
}

inline cfg::supervisor_decl sup(std::string id, rill::strategy s, int intensity,
                                std::vector<cfg::child_ref> children) {
    cfg::supervisor_decl d;
    d.id = std::move(id);
    d.strategy = s;
    d.intensity = intensity;
    d.period = std::chrono::hours(1); // restarts never age out during a test
    d.backoff.reset();                // restarts at once: tests restart thousands of times
    d.children = std::move(children);
    return d;
}

inline cfg::child_ref st(std::string id) { return {cfg::child_ref::stage, std::move(id)}; }
inline cfg::child_ref su(std::string id) { return {cfg::child_ref::supervisor, std::move(id)}; }

inline const cfg::channel_stats& stats(const cfg::run_result& r, const std::string& name) {
    for (auto& c : r.channels)
        if (c.name == name) return c;
    throw std::logic_error("no channel " + name);
}

// Runs t to its end inside the runtime, calling during(runner&) after start.
template <class F> cfg::run_result run(const cfg::topology& t, F during, cfg::run_options o = {}) {
    rill_test::watchdog wd("config run test", std::chrono::seconds(60));
    return rill::run([&] {
        cfg::runner r(t, o);
        r.start();
        during(r);
        return r.wait();
    });
}
inline cfg::run_result run(const cfg::topology& t) {
    return run(t, [](cfg::runner&) {});
}

} // namespace config_test
