// One test run: the sub-topology of the targets with a feeding stage per
// input channel and a collecting stage per output channel, run by the
// runner on a registry of its own (the process's stages and those two), and
// stopped at the test's timeout.
#include "test/test_run.hpp"

#include "format/scalars.hpp"

#include <rill/chan.hpp>
#include <rill/config/record_fields.hpp>
#include <rill/config/registry.hpp>
#include <rill/config/runner.hpp>
#include <rill/config/stage_io.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <variant>

namespace rill::config::testing {
namespace {

// Their names cannot clash with a registered stage's: the registry is the
// test's own, and these names hold a character stage names do not use.
constexpr std::string_view feed_stage = "test:feed", collect_stage = "test:collect";

std::string as_text(const box& b) {
    if (b.type().to_string) return b.to_string();
    std::string out;
    b.type().encode(b.storage(), out);
    return out;
}

void feed(stage_io& io) {
    auto out = io.out_any("out");
    for (const auto& text : io.arg<std::vector<std::string>>("values")) {
        box b(out.type());
        out.type().decode(text, b.storage()); // checked when the file was read
        b.filled();
        if (!out.send(b)) return;
    }
}

// Closed, once, when a collecting stage has kept max_values_kept values:
// the run is then stopped (run_bounded).
struct overflow_signal {
    chan<std::monostate> c{0};
    std::atomic<bool> closed{false};
    void raise() {
        if (!closed.exchange(true)) c.close();
    }
};

// The process's stages and the test's two; `seen` and `overflow` must
// outlive the run.
void make_registry(registry& r, outputs_seen& seen, overflow_signal& overflow) {
    for (const stage_spec* s : registry::global().all())
        r.add(*s);
    r.add(stage_def(std::string(feed_stage), feed)
              .output_any("out")
              .arg<std::vector<std::string>>("values", {}));
    // Each collecting stage writes only its own channel's entry, made before
    // the run: no two goroutines touch one vector, and wait() orders the
    // writes before the checks.
    r.add(stage_def(std::string(collect_stage),
                    [&seen, &overflow](stage_io& io) {
                        auto& values = seen.at(io.arg<std::string>("channel"));
                        auto in = io.in_any("in");
                        const record_desc* rec = find_record_fields(in.type());
                        for (box b(in.type()); in.recv(b); b.reset()) {
                            if (values.texts.size() == max_values_kept) {
                                values.overflowed = true;
                                overflow.raise();
                                return;
                            }
                            values.texts.push_back(as_text(b));
                            if (rec) values.fields.push_back(rec->values(b.storage()));
                        }
                    })
              .input_any("in")
              .arg<std::string>("channel", ""));
}

const supervisor_decl* parent_of(const topology& t, const std::string& stage) {
    for (const auto& s : t.supervisors)
        for (const auto& c : s.children)
            if (c.kind == child_ref::stage && c.id == stage) return &s;
    return &t.supervisors.front();
}

// The targets, fed and collected: see test_run.hpp.
topology sub_topology(const test_file& f, const test_case& t, outputs_seen& seen) {
    const topology& whole = f.topo;
    std::set<std::string> inner_in, inner_out; // channels the targets read, write
    topology sub;
    sub.file = whole.file;
    sub.runtime = whole.runtime;
    for (const auto& id : t.target) {
        const stage_decl& s = *whole.find_stage(id);
        sub.stages.push_back(s);
        for (const auto& b : s.inputs)
            inner_in.insert(b.channels.begin(), b.channels.end());
        for (const auto& b : s.outputs)
            inner_out.insert(b.channels.begin(), b.channels.end());
    }
    auto values_for = [&](const std::string& ch) {
        std::vector<std::string> out;
        for (const auto& in : t.inputs)
            if (in.channel == ch)
                for (const auto& v : in.values)
                    out.push_back(v.text);
        return out;
    };
    for (const auto& c : whole.channels) {
        bool read = inner_in.count(c.name), written = inner_out.count(c.name);
        if (!read && !written) continue;
        sub.channels.push_back(c);
        stage_decl end;
        end.type_param = c.type;
        end.restart = rill::restart::transient;
        if (read && !written) {
            end.id = "test input " + c.name;
            end.stage = feed_stage;
            end.outputs = {{"out", {c.name}}};
            end.args = {{"values", values_for(c.name)}};
        } else if (written && !read) {
            end.id = "test output " + c.name;
            end.stage = collect_stage;
            end.inputs = {{"in", {c.name}}};
            end.args = {{"channel", c.name}};
            seen[c.name];
        } else {
            continue; // between two targets
        }
        sub.stages.push_back(std::move(end));
    }
    supervisor_decl root = *parent_of(whole, t.target.front());
    root.id = "test";
    root.backoff.reset(); // a test must not wait out restart delays
    root.restart = rill::restart::permanent;
    root.children.clear();
    for (const auto& s : sub.stages)
        root.children.push_back({child_ref::stage, s.id});
    sub.supervisors = {std::move(root)};
    return sub;
}

// Runs r until it ends, or stops it when `timeout` passes or `overflow` is
// raised; true if the timeout stopped it.
bool run_bounded(runner& r, std::chrono::nanoseconds timeout, overflow_signal& overflow,
                 run_result& res) {
    chan<std::monostate> finished(0), watcher_done(0);
    std::atomic<bool> timed_out{false};
    rill::go([&r, &timed_out, timeout, end = finished.rx(), full = overflow.c.rx(),
              done = watcher_done]() mutable {
        rill::select(rill::on_recv(end, [](auto) {}), rill::on_recv(full, [&](auto) { r.stop(); }),
                     rill::on_timeout(timeout, [&] {
                         timed_out = true;
                         r.stop();
                     }));
        done.close();
    });
    res = r.wait();
    finished.close();
    (void)watcher_done.recv();
    return timed_out && res.outcome == run_outcome::stopped;
}

} // namespace

std::vector<diagnostic> run_test(const test_file& f, const test_case& t) {
    outputs_seen seen;
    topology sub = sub_topology(f, t, seen);
    registry stages;
    overflow_signal overflow;
    make_registry(stages, seen, overflow);
    std::vector<diagnostic> failures;
    run_result res{run_outcome::start_failed, {}, {}, {}};
    {
        runner r(sub, {.stages = &stages});
        try {
            r.start();
        } catch (const std::exception& e) {
            return {{t.at, fmt::format("the stages failed to start: {}", e.what())}};
        }
        bool timed_out = run_bounded(r, t.timeout, overflow, res);
        for (const auto& [channel, values] : seen)
            if (values.overflowed)
                return {{t.at, fmt::format("more than {} values came out of '{}': a test keeps at "
                                           "most {} (is a target a source without end?)",
                                           max_values_kept, channel, max_values_kept)}};
        if (timed_out)
            return {{t.at, fmt::format("timed out after {}: a target stage never ended (does it "
                                       "wait for an input the test does not close, or is it a "
                                       "source without end?)",
                                       scalars::format_duration(t.timeout))}};
    }
    if (res.outcome != run_outcome::completed)
        failures.push_back(
            {t.at, fmt::format("the run ended with {}: {}", to_string(res.outcome), res.message)});
    for (const auto& x : t.outputs) {
        auto more = check(x, seen.at(x.channel));
        failures.insert(failures.end(), more.begin(), more.end());
    }
    return failures;
}

} // namespace rill::config::testing
