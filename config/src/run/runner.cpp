// The runner: the topology's channels, its stages' ports bound to them (with
// the forwarders of forwarders.hpp around fan-in, fan-out and unbound
// outputs), and one supervised child per stage worker under the supervisors
// the file nests. Which workers have finished, which are running and under
// which cancel_func lives in one table under a mutex: a worker's end decides
// whether its outputs close, and drain/stop cancel what runs.
#include "run/forwarders.hpp"
#include "run/run_state.hpp"
#include "run/stage_log.hpp"

#include <rill/config/runner.hpp>
#include <rill/csp/pipeline.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace rill::config {

const char* to_string(run_outcome o) noexcept {
    switch (o) {
    case run_outcome::completed:
        return "completed";
    case run_outcome::drained:
        return "drained";
    case run_outcome::drain_timeout:
        return "drain_timeout";
    case run_outcome::stopped:
        return "stopped";
    case run_outcome::gave_up:
        return "gave_up";
    case run_outcome::start_failed:
        return "start_failed";
    }
    return "?";
}

int run_result::exit_code() const noexcept {
    switch (outcome) {
    case run_outcome::completed:
    case run_outcome::drained:
        return 0;
    case run_outcome::gave_up:
        return 3;
    case run_outcome::drain_timeout:
        return 4;
    case run_outcome::stopped:
        return 5;
    case run_outcome::start_failed:
        return 6;
    }
    return 1;
}

namespace detail {

void signal::fire() {
    if (!fired_.exchange(true, std::memory_order_acq_rel)) ch_.close();
}

} // namespace detail

using detail::run_state;
using detail::stage_run;
using detail::worker_phase;

void run_state::run_worker(const std::shared_ptr<run_state>& self, stage_run& s, int w,
                           const context& child) {
    // A drain cancels ctx alone (a source stops taking in); a hard stop
    // cancels stopped too, ending send_held.
    auto [stopped, stop] = rill::with_cancel(child);
    auto [ctx, cancel] = rill::with_cancel(stopped);
    detail::hand h;
    if (!self->begin_worker(s, w, cancel, stop, h)) return idle_after_finish(s, child);
    bool finished = false;
    try {
        stage_io io(ctx, stopped, s.binding, w, s.workers[w].memory, h);
        s.spec->fn(io);
        finished = !child.is_done();
    } catch (const context_canceled&) {
        // A stage may end by throwing its context's cause: when the runner
        // (drain, stop) cancelled it and its supervisor did not, it finished.
        if (!ctx.is_done()) {
            self->fail_worker(s, w, std::current_exception(), child, h);
            throw;
        }
        if (child.is_done()) {
            self->end_worker(s, w, false, h);
            throw;
        }
        finished = true;
    } catch (...) {
        self->fail_worker(s, w, std::current_exception(), child, h);
        throw;
    }
    self->end_worker(s, w, finished, h);
    if (finished) idle_after_finish(s, child);
}

// A permanent child that returns is restarted at once, which for a finished
// stage would only count towards intensity; so it stays until stopped.
void run_state::idle_after_finish(const stage_run& s, const context& child) {
    if (s.decl->restart == rill::restart::permanent) child.done().recv();
}

bool run_state::begin_worker(stage_run& s, int w, const cancel_func& cancel,
                             const cancel_func& stop, const hand& h) {
    std::lock_guard lk(mu_);
    auto& ws = s.workers[w];
    // A one_for_all or rest_for_one restart also starts finished workers again.
    if (ws.phase == worker_phase::finished) return false;
    ws.phase = worker_phase::running;
    ws.current = &h;
    ws.cancel = cancel;
    ws.stop = stop;
    if (stopping_)
        stop();
    else if (draining_ && s.spec->is_source())
        cancel();
    return true;
}

std::uint64_t run_state::settle_locked(stage_run& s, int w, const hand& h) {
    auto received = h.received.load(std::memory_order_relaxed);
    s.received.fetch_add(received, std::memory_order_relaxed);
    s.workers[w].received += received;
    s.workers[w].current = nullptr;
    auto held = h.held.load(std::memory_order_relaxed);
    if (held <= 0) return 0; // a stage that released more than it kept holds nothing
    s.lost += static_cast<std::uint64_t>(held);
    return static_cast<std::uint64_t>(held);
}

std::string run_state::loss_line_locked(stage_run& s, bool force) {
    auto now = std::chrono::steady_clock::now();
    if (s.unlogged == 0 || (!force && now < s.next_loss_log)) return {};
    s.next_loss_log = now + std::chrono::seconds(1);
    auto n = std::exchange(s.unlogged, 0);
    return fmt::format("stage {} ({}) stopped holding {} value{} it had taken: lost ({} so far)",
                       s.decl->id, s.decl->stage, n, n == 1 ? "" : "s", s.lost);
}

void run_state::end_worker(stage_run& s, int w, bool finished, const hand& h) {
    std::string line;
    {
        std::lock_guard lk(mu_);
        s.unlogged += settle_locked(s, w, h);
        line = loss_line_locked(s, false);
        s.workers[w].cancel = {};
        s.workers[w].stop = {};
        if (finished)
            finish_locked(s, w);
        else
            s.workers[w].phase = worker_phase::waiting;
    }
    if (!line.empty()) detail::stage_log().warn("{}", line);
}

void run_state::fail_worker(stage_run& s, int w, const std::exception_ptr& e, const context& child,
                            const hand& h) {
    auto what = rill::describe_exception(e);
    auto id = detail::worker_id(*s.decl, w);
    std::uint64_t lost = 0;
    {
        std::lock_guard lk(mu_);
        // Logged with the failure itself, which is logged every time.
        lost = settle_locked(s, w, h);
        auto& ws = s.workers[w];
        ws.cancel = {};
        ws.stop = {};
        ws.phase = worker_phase::failed;
        ++ws.failures;
        ws.last_error = what;
        last_failures_[supervision_path(child)] = {++failure_seq_, id, what};
        // Never restarted: as far as its outputs go, it has finished.
        if (s.decl->restart == rill::restart::temporary) finish_locked(s, w);
    }
    std::string held =
        lost == 0 ? "" : fmt::format("; {} value{} in hand lost", lost, lost == 1 ? "" : "s");
    detail::stage_log().warn("stage {} ({}) failed: {}{}", id, s.decl->stage, what, held);
}

void run_state::finish_locked(stage_run& s, int w) {
    s.workers[w].phase = worker_phase::finished;
    if (--s.unfinished > 0) return;
    for (auto& p : s.binding.outputs)
        rill::detail::chan_close(p.c);
    if (--unfinished_stages_ == 0) finished_.fire();
}

void run_state::cancel_locked(bool sources_only) {
    for (auto& s : stages_) {
        if (sources_only && !s.spec->is_source()) continue;
        for (auto& ws : s.workers)
            if (ws.cancel) (sources_only ? ws.cancel : ws.stop)();
    }
}

void run_state::drain() {
    {
        std::lock_guard lk(mu_);
        if (!draining_) {
            draining_ = true;
            drain_began_ = std::chrono::steady_clock::now();
            cancel_locked(true);
        }
    }
    // After drain_began_ is set: wait() reads it as soon as this fires.
    drain_requested_.fire();
}

// The supervisors' events tell the runner what its worker table cannot: that
// a supervisor gave up. The root giving up ends the run; so does a nested one
// its parent will not restart (transient: a supervisor that gave up ends with
// reason shutdown; temporary: never), since its stages stopped unfinished and
// the channels they write would never close.
void run_state::on_event(const supervisor_decl& d, const supervisor_event& e) {
    if (e.kind == event_kind::restarted) count_restart(d);
    if (e.kind != event_kind::intensity_exceeded) return;
    {
        std::lock_guard lk(mu_);
        supervision_[&d].gave_up = true;
    }
    bool root = &d == &root_decl();
    if (!root && d.restart == rill::restart::permanent) return; // its parent decides
    auto culprit = e.supervisor + "/" + e.child;
    std::lock_guard lk(mu_);
    if (gave_up_.fired()) return; // the first to give up is the story
    // The child itself, or the stage under it (a nested supervisor) that failed last.
    const detail::failure* last = nullptr;
    for (auto& [path, f] : last_failures_)
        if ((path == culprit || path.rfind(culprit + "/", 0) == 0) && (!last || f.seq > last->seq))
            last = &f;
    gave_up_message_ = fmt::format("supervisor {} gave up", e.supervisor);
    if (!root)
        gave_up_message_ +=
            fmt::format(" and is not restarted (restart: {})", to_string(d.restart));
    gave_up_message_ += fmt::format(": child {} failed more than {} times in {}", e.child,
                                    d.intensity, scalars::format_duration(d.period));
    if (last) gave_up_message_ += fmt::format("; last failure: stage {}: {}", last->id, last->what);
    gave_up_.fire();
}

supervisor_options run_state::options_of(const supervisor_decl& d) {
    supervisor_options o;
    o.name = d.id;
    o.strategy = d.strategy;
    o.intensity = d.intensity;
    o.period = d.period;
    o.backoff = d.backoff;
    o.on_event = [this, &d](const supervisor_event& e) { on_event(d, e); };
    return o;
}

std::vector<child_spec> run_state::children_of(const std::shared_ptr<run_state>& self,
                                               const supervisor_decl& d) {
    std::vector<child_spec> out;
    for (auto& c : d.children) {
        if (c.kind == child_ref::supervisor) {
            const supervisor_decl* nested = supervisor_at_.at(c.id);
            out.push_back(supervisor_child(nested->id, options_of(*nested),
                                           children_of(self, *nested), nested->restart));
            continue;
        }
        auto& s = stage(c.id);
        for (int w = 0; w < s.decl->workers; ++w) {
            child_spec spec;
            spec.id = detail::worker_id(*s.decl, w);
            spec.start = [self, sp = &s, w](const context& ctx) { run_worker(self, *sp, w, ctx); };
            spec.restart = s.decl->restart;
            spec.shutdown = s.decl->shutdown;
            out.push_back(std::move(spec));
        }
    }
    return out;
}

void run_state::start(const std::shared_ptr<run_state>& self) {
    if (root_) throw std::logic_error("rill::config::runner: start() called twice");
    if (topo_.runtime.processors) rill::set_maxprocs(*topo_.runtime.processors);
    for (auto& f : forwarders_)
        f();
    root_.emplace(options_of(root_decl()), children_of(self, root_decl()));
    dump_section_ = rill::add_dump_section([this](std::ostream& out) { out << render(true); });
    try {
        root_->start();
    } catch (const std::exception& e) {
        result_ = teardown(run_outcome::start_failed, e.what());
        throw;
    }
    std::lock_guard lk(mu_);
    all_started_ = true;
}

run_result run_state::wait() {
    if (result_) return *result_;
    if (!root_) throw std::logic_error("rill::config::runner: wait() before start()");
    bool drain_seen = false;
    for (;;) {
        auto drain_rx = drain_seen ? receiver<std::monostate>() : drain_requested_.rx();
        auto grace_left = std::chrono::nanoseconds::max();
        if (drain_seen) {
            std::lock_guard lk(mu_);
            grace_left = drain_began_ + grace_ - std::chrono::steady_clock::now();
        }
        bool timed_out = false;
        auto ignore = [](std::optional<std::monostate>) {};
        int chosen = rill::select(
            rill::on_recv(finished_.rx(), ignore), rill::on_recv(gave_up_.rx(), ignore),
            rill::on_recv(stop_requested_.rx(), ignore), rill::on_recv(drain_rx, ignore),
            rill::on_timeout(grace_left, [&] { timed_out = true; }));
        if (finished_.fired())
            return teardown(drain_seen || drain_requested_.fired() ? run_outcome::drained
                                                                   : run_outcome::completed,
                            "");
        if (gave_up_.fired()) {
            std::string message;
            {
                std::lock_guard lk(mu_);
                message = gave_up_message_;
            }
            return teardown(run_outcome::gave_up, message);
        }
        if (stop_requested_.fired())
            return teardown(run_outcome::stopped, "every stage was cancelled");
        if (timed_out)
            return teardown(run_outcome::drain_timeout,
                            fmt::format("the pipeline did not drain within the grace period of {}",
                                        scalars::format_duration(grace_)));
        drain_seen = drain_seen || chosen == 3;
    }
}

run_result run_state::teardown(run_outcome outcome, std::string message) {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
        cancel_locked(false);
    }
    if (root_) root_->stop();
    stop_forwarders_.fire();
    forwarders_group_.wait();
    rill::remove_dump_section(dump_section_);
    run_result r{outcome, std::move(message), {}, {}};
    std::uint64_t left_total = 0, lost_total = 0;
    for (auto& ch : channels_) {
        auto left = rill::detail::chan_len(ch.c.get());
        left_total += left;
        r.channels.push_back({ch.decl->name, ch.sent.load(std::memory_order_relaxed), left});
    }
    // Every worker and forwarder has ended: the counts are final.
    std::vector<std::string> lines;
    {
        std::lock_guard lk(mu_);
        for (auto& s : stages_) {
            auto forwarding = s.lost_forwarding.load(std::memory_order_relaxed);
            for (auto* c : s.forwarded)
                forwarding += rill::detail::chan_len(c);
            s.lost += forwarding;
            s.unlogged += forwarding;
            if (auto line = loss_line_locked(s, true); !line.empty()) lines.push_back(line);
            lost_total += s.lost;
            r.stages.push_back({s.decl->id, s.received.load(std::memory_order_relaxed), s.lost});
        }
    }
    for (auto& line : lines)
        detail::stage_log().warn("{}", line);
    if (outcome != run_outcome::completed && outcome != run_outcome::drained) {
        if (lost_total > 0)
            r.message += fmt::format("; {} values left in channels and {} held by stages were lost",
                                     left_total, lost_total);
        else if (left_total > 0)
            r.message += fmt::format("; {} values left in channels were lost", left_total);
    }
    // The children's closures hold this state: dropping the root breaks the cycle.
    root_.reset();
    std::lock_guard lk(mu_);
    result_ = r;
    return r;
}

runner::runner(const topology& t, run_options opts)
    : impl_(std::make_shared<detail::run_state>(t, opts)) {}

runner::~runner() {
    stop();
    if (impl_->started()) impl_->wait();
}

void runner::start() { impl_->start(impl_); }
void runner::drain() { impl_->drain(); }
void runner::stop() { impl_->stop(); }
run_result runner::wait() { return impl_->wait(); }
std::string runner::view() const { return impl_->render(false); }

run_snapshot runner::snapshot() const { return impl_->snapshot(); }

} // namespace rill::config
