#include "core.hpp"

#include <rill/runtime.hpp>
#include <rill/select.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

namespace rill::detail {

namespace {

// Runs a child's start function and records how it ended (see
// child_spec.hpp). Each kind is caught where it is thrown: rethrowing to
// classify would double the cost of every panic. A function of its own, so
// that a panic's unwinding reads only its small tables, not run_child's.
[[gnu::noinline]] void run_body(instance& inst, const child_fn& body, const context& ctx) {
    auto failed = [&](exit_reason r, const char* what) {
        inst.reason = r;
        inst.error = std::current_exception();
        inst.what = what;
    };
    try {
        body(ctx);
        inst.reason = inst.stop_requested ? exit_reason::shutdown : exit_reason::normal;
    } catch (const shutdown_exit& e) {
        failed(exit_reason::shutdown, e.what());
    } catch (const context_canceled& e) {
        failed(inst.stop_requested ? exit_reason::shutdown : exit_reason::abnormal, e.what());
    } catch (const std::exception& e) {
        failed(exit_reason::abnormal, e.what());
    } catch (...) {
        failed(exit_reason::abnormal, "non-standard exception");
    }
}

// The body of a child's goroutine: runs the child and tells the supervisor
// how it ended, unless the supervisor has ended.
void run_child(const std::shared_ptr<instance>& inst, sender<exit_msg> exits,
               receiver<std::monostate> sup_exited) {
    {
        child_fn body = std::move(inst->body);
        context ctx = std::move(inst->ctx);
        run_body(*inst, body, ctx);
        // Its captures are released before anyone hears it ended: once
        // stop() returns, a stopped child holds nothing.
    }
    inst->finished.close();
    // An abandoned child may end after its supervisor: then nobody listens.
    select(on_send(exits, exit_msg{inst}, [] {}), on_recv(sup_exited, [](auto) {}));
}

} // namespace

sup_core::sup_core(supervisor_options opts, std::vector<child_spec> specs, bool dynamic,
                   child_spec tmpl)
    : opts_(std::move(opts)), dynamic_(dynamic), tmpl_(std::move(tmpl)), path_(opts_.name),
      rng_(std::random_device{}()) {
    sup_log(); // created before any goroutine logs
    check_options(opts_, dynamic_);
    if (dynamic_) {
        check_spec(opts_.name, tmpl_, opts_.auto_shutdown);
        tmpl_ = with_defaults(std::move(tmpl_));
    }
    check_specs(opts_.name, specs, opts_.auto_shutdown);
    for (auto& s : specs) {
        child_rec c;
        c.name = s.id;
        c.spec = with_defaults(std::move(s));
        children_.push_back(std::move(c));
    }
}

sup_core::~sup_core() { unregister_core(this); }

std::string sup_core::path() const { return path_; }
bool sup_core::running() const { return running_; }

void sup_core::start(const context& parent) {
    if (started_.exchange(true))
        throw supervisor_error(sup_errc::running, path_ + ": already started");
    if (auto p = supervision_path(parent); !p.empty()) path_ = p;
    std::tie(ctx_, cancel_) = with_cancel(parent);
    register_core(this);
    chan<std::exception_ptr> init(1);
    rill::go([self = shared_from_this(), tx = init.tx()] { self->run(tx); }, {.name = path_});
    auto err = init.recv();
    if (err && *err) {
        (void)exited_.recv();
        std::rethrow_exception(*err);
    }
}

void sup_core::run(sender<std::exception_ptr> init) {
    loop_goroutine_ = goroutine_id();
    for (auto it = children_.begin(); it != children_.end();) {
        auto& c = *it++;
        switch (start_instance(c, event_kind::started)) {
        case start_outcome::started:
            break;
        case start_outcome::ignored:
            if (c.spec.restart == restart::temporary) erase(c);
            break;
        case start_outcome::failed: {
            terminate_all();
            sup_log().error("supervisor {}: start of child {} failed; started children stopped",
                            path_, c.name);
            finish(sup_exit::start_failed);
            init.send(std::make_exception_ptr(supervisor_error(
                sup_errc::start_failed, path_ + ": child '" + c.name + "' failed to start",
                last_start_error_)));
            return;
        }
        }
    }
    running_ = true;
    init.send(nullptr);
    loop();
}

void sup_core::loop() {
    int served_while_due = 0;
    while (!exiting_) {
        auto now = steady::now();
        std::optional<steady::time_point> next_due;
        if (!due_.empty()) next_due = due_.begin()->first;
        bool due_now = next_due && *next_due <= now;
        // Messages first, so that a child failing to restart cannot starve
        // stop requests; but pending restarts get their turn every few.
        if (due_now && served_while_due >= 16) {
            served_while_due = 0;
            run_due();
            continue;
        }
        if (handle_message_or_due(due_now, next_due)) {
            if (due_now) ++served_while_due;
        } else {
            served_while_due = 0;
            run_due();
        }
    }
    finish(*exiting_);
}

// Waits for one message (an exit, an operation, cancellation) and handles
// it; false if instead a pending restart is due.
bool sup_core::handle_message_or_due(bool due_now, std::optional<steady::time_point> next_due) {
    bool got = true;
    auto on_exit = [&](std::optional<exit_msg> m) {
        if (m) handle_exit(m->inst);
    };
    auto on_op = [&](std::optional<op_msg*> op) {
        if (op && *op) handle_ops(**op);
    };
    auto on_done = [&](std::optional<std::monostate>) { shutdown_self(sup_exit::stopped); };
    if (due_now)
        select(on_recv(exits_, on_exit), on_recv(ops_, on_op), on_recv(ctx_.done(), on_done),
               on_default([&] { got = false; }));
    else if (next_due)
        select(on_recv(exits_, on_exit), on_recv(ops_, on_op), on_recv(ctx_.done(), on_done),
               on_timeout(*next_due - steady::now(), [&] { got = false; }));
    else
        select(on_recv(exits_, on_exit), on_recv(ops_, on_op), on_recv(ctx_.done(), on_done));
    return got;
}

void sup_core::run_due() {
    auto now = steady::now();
    // Restarts may reshape the queue (a failed start is due again later than
    // now): take the soonest each time.
    while (!exiting_ && !due_.empty() && due_.begin()->first <= now) {
        child_rec& c = *due_.begin()->second;
        clear_due(c);
        if (c.count_again) {
            c.count_again = false;
            if (!add_restart()) {
                give_up(c);
                return;
            }
        }
        apply_strategy(c);
    }
}

void sup_core::handle_ops(op_msg& op) {
    try {
        op.fn();
    } catch (...) {
        op.err = std::current_exception();
    }
    op.done.close();
}

void sup_core::call(std::function<void()> fn) {
    op_msg op{fn};
    bool sent = false;
    if (started_) select(on_send(ops_, &op, [&] { sent = true; }), on_recv(exited_, [](auto) {}));
    if (!sent) throw supervisor_error(sup_errc::not_running, path_ + ": not running");
    (void)op.done.recv();
    if (op.err) std::rethrow_exception(op.err);
}

sup_exit sup_core::stop() {
    if (!started_) return why_;
    cancel_();
    return wait();
}

sup_exit sup_core::wait() {
    if (!started_) return why_;
    (void)exited_.recv();
    return why_;
}

void sup_core::finish(sup_exit why) {
    why_ = why;
    running_ = false;
    unregister_core(this);
    sup_log().debug("supervisor {}: exited ({})", path_, to_string(why));
    exited_.close();
}

void sup_core::shutdown_self(sup_exit why) {
    terminate_all();
    exiting_ = why;
}

void sup_core::terminate_all() {
    for (auto& c : children_)
        clear_due(c);
    if (!dynamic_) {
        for (auto it = children_.end(); it != children_.begin();) {
            auto& c = *--it;
            if (c.inst) terminate_instance(c);
            if (c.state != child_state::stopped) set_state(c, child_state::stopped);
        }
        return;
    }
    // Dynamic children stop in parallel: cancel all, then wait with one
    // deadline per child.
    std::vector<std::pair<child_rec*, steady::time_point>> waiting;
    for (auto& c : children_)
        if (c.inst) waiting.emplace_back(&c, cancel_instance(c));
    for (auto& [c, deadline] : waiting)
        await_end(*c, deadline);
    std::lock_guard lk(mu_);
    children_.clear();
}

std::chrono::nanoseconds sup_core::shutdown_of(const child_spec& s) const { return s.shutdown; }

steady::time_point sup_core::cancel_instance(child_rec& c) {
    c.inst->stop_requested = true;
    c.inst->cancel();
    auto d = shutdown_of(c.spec);
    return d == shutdown_infinity ? steady::time_point::max() : steady::now() + d;
}

void sup_core::await_end(child_rec& c, steady::time_point deadline) {
    auto inst = c.inst;
    bool ended = inst->finished.closed();
    if (!ended && deadline == steady::time_point::max()) {
        (void)inst->finished.recv();
        ended = true;
    } else if (auto left = deadline - steady::now(); !ended && left.count() > 0) {
        select(on_recv(inst->finished, [&](auto) { ended = true; }), on_timeout(left, [] {}));
    }
    {
        std::lock_guard lk(mu_);
        inst->owner = nullptr;
        c.inst.reset();
        c.state = child_state::stopped;
    }
    // An abandoned child's fields are still its own: read them only once it ended.
    emit(ended ? event_kind::exited : event_kind::abandoned, c, ended ? inst.get() : nullptr);
}

void sup_core::terminate_instance(child_rec& c) { await_end(c, cancel_instance(c)); }

start_outcome sup_core::start_instance(child_rec& c, event_kind on_success) {
    auto inst = std::make_shared<instance>();
    inst->owner = &c;
    inst->name = path_ + "/" + c.name;
    inst->since = steady::now();
    // The child's context: its own cancellation over its token. A restart
    // costs a few allocations less where the token is the record's.
    context token_ctx = c.token_ctx;
    if (c.spec.await_started) {
        inst->started = signal_chan(1);
        token_ctx =
            with_value(background(), child_token_key(), child_token{inst->started, inst->name});
    } else if (!token_ctx.value(child_token_key())) {
        token_ctx = c.token_ctx =
            with_value(background(), child_token_key(), child_token{{}, inst->name});
    }
    std::tie(inst->ctx, inst->cancel) = with_cancel(token_ctx);
    {
        std::lock_guard lk(mu_);
        c.inst = inst;
        c.last_start = inst->since;
    }
    // A temporary child never starts again: its goroutine takes the one copy
    // of its start function (OTP keeps no start arguments for it either).
    inst->body = c.spec.restart == restart::temporary ? std::move(c.spec.start) : c.spec.start;
    rill::go([inst, tx = exits_.tx(), rx = exited_.rx()] { run_child(inst, tx, rx); },
             {.name = inst->name});
    bool started = !c.spec.await_started;
    if (!started) {
        bool cancelled = false;
        select(on_recv(inst->started, [&](auto) { started = true; }),
               on_recv(inst->finished, [](auto) {}),
               on_recv(ctx_.done(), [&](auto) { cancelled = true; }));
        // A child that signalled and then ended at once has started.
        if (!started && inst->started.try_recv()) started = true;
        if (cancelled && !started) {
            terminate_instance(c);
            last_start_error_ = std::make_exception_ptr(
                supervisor_error(sup_errc::not_running, path_ + ": stopping"));
            emit(event_kind::start_failed, c);
            return start_outcome::failed;
        }
    }
    if (started) {
        set_state(c, child_state::running);
        emit(on_success, c);
        return start_outcome::started;
    }
    // It ended before starting: its exit message, when it comes, is stale.
    {
        std::lock_guard lk(mu_);
        inst->owner = nullptr;
        c.inst.reset();
        c.state = child_state::stopped;
    }
    if (inst->reason == exit_reason::normal) {
        sup_log().info("supervisor {}: child {} ignored its start", path_, c.name);
        return start_outcome::ignored;
    }
    last_start_error_ = inst->error;
    emit(event_kind::start_failed, c, inst.get());
    return start_outcome::failed;
}

void sup_core::handle_exit(const std::shared_ptr<instance>& inst) {
    if (!inst->owner) return; // already stopped, abandoned or replaced
    auto& c = *inst->owner;
    {
        std::lock_guard lk(mu_);
        inst->owner = nullptr;
        c.inst.reset();
    }
    emit(event_kind::exited, c, inst.get());
    bool again = c.spec.restart == restart::permanent ||
                 (c.spec.restart == restart::transient && inst->reason == exit_reason::abnormal);
    if (again) {
        decide_restart(c);
        return;
    }
    bool significant = c.spec.significant;
    auto name = c.name;
    forget_or_stop(c);
    check_auto_shutdown(name, significant);
}

// OTP's do_auto_shutdown: only for a significant child that ended by itself.
void sup_core::check_auto_shutdown(const std::string& name, bool significant) {
    if (!significant || opts_.auto_shutdown == auto_shutdown::never) return;
    if (opts_.auto_shutdown == auto_shutdown::all_significant &&
        std::any_of(children_.begin(), children_.end(), [](const child_rec& c) {
            return c.spec.significant && c.state != child_state::stopped;
        }))
        return;
    child_rec last;
    last.name = name;
    emit(event_kind::auto_shutdown, last);
    shutdown_self(sup_exit::auto_shutdown);
}

// OTP's add_restart: keep the restarts of the last period, add this one, and
// report whether at most `intensity` remain.
bool sup_core::add_restart() {
    auto now = steady::now();
    while (!restarts_.empty() && restarts_.front() < now - opts_.period)
        restarts_.pop_front();
    restarts_.push_back(now);
    return restarts_.size() <= static_cast<std::size_t>(opts_.intensity);
}

void sup_core::give_up(child_rec& c) {
    emit(event_kind::intensity_exceeded, c);
    forget_or_stop(c);
    shutdown_self(sup_exit::intensity_exceeded);
}

void sup_core::decide_restart(child_rec& c) {
    if (!add_restart()) {
        give_up(c);
        return;
    }
    if (!opts_.backoff) {
        apply_strategy(c);
        return;
    }
    auto now = steady::now();
    if (now - c.last_start >= opts_.backoff->reset_after) c.backoff_attempt = 0;
    ++c.backoff_attempt;
    rng_ = rng_ * 6364136223846793005ULL + 1442695040888963407ULL;
    auto delay = opts_.backoff->delay(c.backoff_attempt, rng_);
    set_state(c, child_state::restarting);
    set_due(c, now + delay);
    emit(event_kind::restart_scheduled, c, nullptr, delay);
}

// A failed restart is retried from the loop (OTP's try_again_restart), after
// the messages that are waiting, and counts towards intensity again.
void sup_core::apply_strategy(child_rec& c) {
    if (dynamic_ || opts_.strategy == strategy::one_for_one) {
        switch (start_instance(c, event_kind::restarted)) {
        case start_outcome::started:
            count_restart(c);
            break;
        case start_outcome::ignored:
            if (dynamic_) erase(c);
            break;
        case start_outcome::failed:
            retry_later(c);
            break;
        }
        return;
    }
    restart_range(c);
}

void sup_core::count_restart(child_rec& c) {
    std::lock_guard lk(mu_);
    ++c.restarts;
}

// OTP's try_again_restart: the failed child's restart is tried again from the
// loop, through its strategy, and counts towards intensity once more.
void sup_core::retry_later(child_rec& c) {
    set_state(c, child_state::restarting);
    set_due(c, steady::now());
    c.count_again = true;
}

// one_for_all / rest_for_one: stop every child, or `failed` and those
// started after it, in reverse order (temporary ones are then forgotten),
// then start them again in order.
void sup_core::restart_range(child_rec& failed) {
    auto first =
        opts_.strategy == strategy::one_for_all ? children_.begin() : children_.position(failed);
    std::vector<child_rec*> range;
    for (auto it = first; it != children_.end(); ++it)
        range.push_back(&*it);
    for (auto r = range.rbegin(); r != range.rend(); ++r) {
        auto& c = **r;
        clear_due(c);
        c.count_again = false;
        if (c.inst) terminate_instance(c);
        if (forget_or_stop(c)) *r = nullptr;
    }
    for (child_rec* c : range) {
        if (!c) continue;
        switch (start_instance(*c, event_kind::restarted)) {
        case start_outcome::started:
            count_restart(*c);
            break;
        case start_outcome::ignored:
            break;
        case start_outcome::failed:
            retry_later(*c);
            return;
        }
    }
}

void sup_core::set_due(child_rec& c, steady::time_point t) {
    clear_due(c);
    c.due = t;
    due_.emplace(t, &c);
}

void sup_core::clear_due(child_rec& c) {
    if (c.due) due_.erase({*c.due, &c});
    c.due.reset();
}

void sup_core::erase(child_rec& c) {
    clear_due(c);
    std::lock_guard lk(mu_);
    if (c.inst) c.inst->owner = nullptr;
    children_.erase(c);
}

bool sup_core::forget_or_stop(child_rec& c) {
    if (dynamic_ || c.spec.restart == restart::temporary) {
        erase(c);
        return true;
    }
    set_state(c, child_state::stopped);
    return false;
}

void sup_core::set_state(child_rec& c, child_state s) {
    std::lock_guard lk(mu_);
    c.state = s;
}

// inst: the instance whose exit this reports, once it has ended (its fields
// are the child goroutine's until then).
void sup_core::emit(event_kind k, const child_rec& c, const instance* inst,
                    std::chrono::nanoseconds delay) {
    auto reason = inst ? inst->reason : exit_reason::normal;
    const std::string none;
    const std::string& what = inst ? inst->what : none;
    auto ms = [](std::chrono::nanoseconds d) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    auto& log = sup_log();
    switch (k) {
    case event_kind::started:
        log.debug("supervisor {}: child {} started", path_, c.name);
        break;
    case event_kind::restarted:
        log.info("supervisor {}: child {} restarted (restarts {})", path_, c.name, c.restarts + 1);
        break;
    case event_kind::exited:
        if (reason == exit_reason::abnormal)
            log.warn("supervisor {}: child {} exited abnormally: {}", path_, c.name, what);
        else
            log.debug("supervisor {}: child {} exited ({})", path_, c.name, to_string(reason));
        break;
    case event_kind::start_failed:
        log.error("supervisor {}: child {} failed to start: {}", path_, c.name, what);
        break;
    case event_kind::restart_scheduled:
        log.info("supervisor {}: child {} restarts in {} us", path_, c.name,
                 std::chrono::duration_cast<std::chrono::microseconds>(delay).count());
        break;
    case event_kind::abandoned:
        log.error("supervisor {}: child {} ignored cancellation for {} ms and is abandoned", path_,
                  c.name, ms(c.spec.shutdown));
        break;
    case event_kind::intensity_exceeded:
        log.error("supervisor {}: child {}: more than {} restarts in {} ms; shutting down", path_,
                  c.name, opts_.intensity, ms(opts_.period));
        break;
    case event_kind::auto_shutdown:
        log.info("supervisor {}: significant child {} ended; auto_shutdown {}", path_, c.name,
                 to_string(opts_.auto_shutdown));
        break;
    }
    if (!opts_.on_event) return; // events cost strings: only for a hook
    supervisor_event e;
    e.kind = k;
    e.supervisor = path_;
    e.child = c.name;
    e.reason = reason;
    e.restarts = c.restarts;
    e.delay = delay;
    if (inst) {
        e.error = inst->error;
        e.what = inst->what;
    }
    try {
        opts_.on_event(e);
    } catch (const std::exception& x) {
        log.error("supervisor {}: event hook threw: {}", path_, x.what());
    } catch (...) {
        log.error("supervisor {}: event hook threw", path_);
    }
}

} // namespace rill::detail
