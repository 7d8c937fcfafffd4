#include "run/run_command.hpp"
#include "format/scalars.hpp"
#include "format/topology_index.hpp"
#include "run/json_log.hpp"
#include "run/run_metrics.hpp"
#include "run/service_notify.hpp"
#include "run/supervision_text.hpp"

#include <rill/chan.hpp>
#include <rill/config/loader.hpp>
#include <rill/config/runner.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/sync.hpp>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <pthread.h>
#include <string>
#include <thread>

namespace rill::config {
namespace {

std::shared_ptr<spdlog::logger> log() {
    static auto l = [] {
        auto existing = spdlog::get("rill.config");
        return existing ? existing : spdlog::stderr_color_mt("rill.config");
    }();
    return l;
}

sigset_t drain_signals() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    return s;
}

// Takes SIGINT and SIGTERM for the run: they are blocked in the thread that
// constructs it (and so in every thread started after, the runtime's
// included), and a thread of its own waits for them with sigwait. The first
// drains the attached runner, the second stops it; signals that come before
// a runner is attached are applied when it is.
class signal_watch {
public:
    signal_watch(std::chrono::nanoseconds grace, detail::service_notifier& notify)
        : grace_(grace), notify_(notify) {
        sigset_t s = drain_signals();
        pthread_sigmask(SIG_BLOCK, &s, nullptr);
        thread_ = std::thread([this] { loop(); });
    }
    signal_watch(const signal_watch&) = delete;
    signal_watch& operator=(const signal_watch&) = delete;
    ~signal_watch() {
        {
            std::lock_guard lk(mu_);
            done_ = true;
        }
        // Blocked everywhere, so it stays pending for this thread's sigwait.
        pthread_kill(thread_.native_handle(), SIGTERM);
        thread_.join();
    }

    void attach(runner& r) {
        std::lock_guard lk(mu_);
        r_ = &r;
        if (seen_ >= 1) act(1);
        if (seen_ >= 2) act(2);
    }
    void detach() {
        std::lock_guard lk(mu_);
        r_ = nullptr;
    }

private:
    void loop() {
        sigset_t s = drain_signals();
        for (;;) {
            int sig = 0;
            if (sigwait(&s, &sig) != 0) continue;
            std::lock_guard lk(mu_);
            if (done_) return;
            ++seen_;
            log()->info("{} received", sig == SIGINT ? "SIGINT" : "SIGTERM");
            if (r_ && seen_ <= 2) act(seen_);
        }
    }
    // The nth signal's effect; mu_ held.
    void act(int nth) {
        if (nth == 1) {
            log()->info("draining: sources stopped, waiting up to {} for channels to empty",
                        scalars::format_duration(grace_));
            notify_.send("STOPPING=1\nSTATUS=draining (up to " + scalars::format_duration(grace_) +
                         ")");
            r_->drain();
        } else {
            log()->warn("stopping: every stage is cancelled (a second signal came before the "
                        "drain finished)");
            notify_.send("STATUS=stopping every stage");
            r_->stop();
        }
    }

    std::chrono::nanoseconds grace_;
    detail::service_notifier& notify_;
    // A rill::mutex: the run's goroutine parks on it rather than blocking its thread.
    rill::mutex mu_;
    runner* r_ = nullptr; // guarded by mu_
    int seen_ = 0;        // guarded by mu_
    bool done_ = false;   // guarded by mu_
    std::thread thread_;
};

// Keeps a runner attached to the signal watch for a scope.
struct attachment {
    signal_watch& w;
    attachment(signal_watch& watch, runner& r) : w(watch) { w.attach(r); }
    attachment(const attachment&) = delete;
    attachment& operator=(const attachment&) = delete;
    ~attachment() { w.detach(); }
};

// The supervision tree the run starts, one supervisor a line, children in
// start order: what restarts what, and how often before giving up.
void log_tree(const detail::topology_index& topo, const supervisor_decl& d,
              const std::string& parent) {
    auto path = parent.empty() ? d.id : parent + "/" + d.id;
    std::string children;
    for (const auto& c : d.children) {
        children += children.empty() ? "" : ", ";
        const auto* s = c.kind == child_ref::stage ? topo.stage(c.id) : nullptr;
        if (c.kind == child_ref::supervisor)
            children += "supervisor " + c.id;
        else if (s && s->workers > 1)
            children += fmt::format("{} ({} x{})", c.id, s->stage, s->workers);
        else if (s)
            children += fmt::format("{} ({})", c.id, s->stage);
    }
    log()->info("supervisor {} ({}): {}", path, detail::describe_limits(d), children);
    for (const auto& c : d.children)
        if (c.kind == child_ref::supervisor) log_tree(topo, *topo.supervisor(c.id), path);
}

// Pings systemd's watchdog every period from a goroutine, until stop closes:
// if the scheduler stops running goroutines, the pings stop with it.
void ping_watchdog(detail::service_notifier& notify, std::chrono::microseconds period,
                   receiver<std::monostate> stop) {
    for (bool stopped = false; !stopped;) {
        notify.send("WATCHDOG=1");
        rill::select(rill::on_recv(stop, [&](auto) { stopped = true; }),
                     rill::on_timeout(period, [] {}));
    }
}

run_result run_supervised(const topology& topo, const run_command_options& opts,
                          signal_watch& watch, detail::service_notifier& notify) {
    runner r(topo, {.grace = opts.grace});
    attachment a(watch, r);
    // Before the stages start, so that probes hear "starting" meanwhile;
    // closed (at the end of this scope) before r is destroyed.
    std::optional<admin::server> http;
    try {
        if (opts.http) http.emplace(detail::run_admin_options(r, topo, *opts.http));
    } catch (const std::exception& e) {
        return {
            run_outcome::start_failed, fmt::format("--http {}: {}", *opts.http, e.what()), {}, {}};
    }
    try {
        r.start();
    } catch (const std::exception& e) {
        return {run_outcome::start_failed, e.what(), {}, {}};
    }
    notify.send(fmt::format("READY=1\nSTATUS=running: {} stages, {} channels", topo.stages.size(),
                            topo.channels.size()));
    chan<std::monostate> stop_pings(0), pings_done(0);
    if (auto period = notify.watchdog_period())
        rill::go([&notify, p = *period, stop = stop_pings.rx(), done = pings_done]() mutable {
            ping_watchdog(notify, p, stop);
            done.close();
        });
    else
        pings_done.close();
    auto res = r.wait();
    stop_pings.close();
    (void)pings_done.recv();
    return res;
}

// The run's accounting, as run_result has it: per channel what was sent and
// left, per stage that takes values what it received and lost (the message
// sums the losses of a run that did not end by itself), so that sent =
// delivered + left + lost can be checked from the log.
void report(const std::string& file, const run_result& res) {
    std::string channels, stages;
    std::uint64_t left = 0, lost = 0;
    for (const auto& c : res.channels) {
        channels += fmt::format("{}{} sent {}, left {}", channels.empty() ? "" : "; ", c.name,
                                c.sent, c.left);
        left += c.left;
    }
    for (const auto& s : res.stages) {
        if (s.received == 0 && s.lost == 0) continue;
        stages += fmt::format("{}{} received {}, lost {}", stages.empty() ? "" : "; ", s.id,
                              s.received, s.lost);
        lost += s.lost;
    }
    auto warn_if = [](bool bad) { return bad ? spdlog::level::warn : spdlog::level::info; };
    if (!channels.empty()) log()->log(warn_if(left > 0), "channels: {}", channels);
    if (!stages.empty()) log()->log(warn_if(lost > 0), "stages: {}", stages);
    // The message says what happened in words (and may itself say "gave up"):
    // the outcome's name then only labels it, for scripts that grep the log.
    auto level = res.exit_code() == 0 ? spdlog::level::info : spdlog::level::err;
    if (res.message.empty())
        log()->log(level, "{}: {} (exit status {})", file, to_string(res.outcome), res.exit_code());
    else
        log()->log(level, "{}: {} ({}, exit status {})", file, res.message, to_string(res.outcome),
                   res.exit_code());
}

} // namespace

int run_command(const std::string& file, const run_command_options& opts) {
    if (opts.log_level) spdlog::set_level(*opts.log_level);
    // Every logger, those made later included.
    if (opts.json_logs) spdlog::set_formatter(std::make_unique<detail::json_log_formatter>());
    load_result loaded = load_file(file);
    for (const auto& d : loaded.errors) {
        if (opts.json_logs)
            log()->error("{}", format(d));
        else
            std::cerr << format(d) << '\n';
    }
    if (!loaded.topo) return 1;
    const topology& topo = *loaded.topo;
    // Read by the runtime once, when it starts: nothing may have started it yet.
    if (topo.runtime.stack_reserve)
        setenv("RILL_STACK_RESERVE", std::to_string(topo.runtime.stack_reserve->bytes).c_str(), 1);

    log()->info("running {}: {} stages, {} channels", file, topo.stages.size(),
                topo.channels.size());
    log_tree(detail::topology_index(topo), topo.supervisors.front(), "");
    detail::service_notifier notify;
    signal_watch watch(opts.grace.value_or(topo.runtime.grace), notify);
    run_result res{run_outcome::start_failed, {}, {}, {}};
    try {
        res = rill::run([&] { return run_supervised(topo, opts, watch, notify); });
    } catch (const std::exception& e) {
        res = {run_outcome::start_failed, e.what(), {}, {}};
    }
    report(file, res);
    notify.send(fmt::format("STATUS={} (exit status {})", to_string(res.outcome), res.exit_code()));
    return res.exit_code();
}

} // namespace rill::config
