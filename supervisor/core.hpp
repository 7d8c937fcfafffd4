// The supervisor's engine, shared by supervisor and dynamic_supervisor: a
// goroutine owning the children table, fed child exits and operations over
// channels. Private to the supervisor layer.
#pragma once

#include "child_table.hpp"

#include <rill/chan.hpp>
#include <rill/csp/context.hpp>
#include <rill/supervisor/errors.hpp>
#include <rill/supervisor/options.hpp>
#include <rill/sync.hpp>

#include <spdlog/fwd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace rill::detail {

using steady = std::chrono::steady_clock;
using signal_chan = chan<std::monostate>;

// One run of a child: what its goroutine and the supervisor share.
struct instance {
    std::string name; // the goroutine's name: the child's path
    // The record this is the current run of, or null once the supervisor has
    // forgotten it (stopped, abandoned, replaced, erased): an exit message
    // of a forgotten run is stale. Only the supervisor's goroutine touches it.
    child_rec* owner = nullptr;
    // What the child's goroutine takes when it begins (the supervisor sets
    // them before spawning it): the start function to run and its context.
    child_fn body;
    context ctx;
    cancel_func cancel;
    signal_chan finished{0}; // closed by the child's goroutine once reason is set
    // notify_started's signal: made only for a child whose start is awaited
    // (a nil channel otherwise, on which notify_started does nothing).
    signal_chan started;
    std::atomic<bool> stop_requested{false};
    exit_reason reason = exit_reason::normal;
    std::exception_ptr error;
    std::string what;
    steady::time_point since;
};

// What a child's context carries (read by notify_started, supervision_path).
struct child_token {
    signal_chan started;
    std::string path;
};

struct exit_msg {
    std::shared_ptr<instance> inst;
};
// An operation for the supervisor's goroutine (sup_core::call). It lives in
// the caller's frame: ops_ is unbuffered, so once the send completes the
// supervisor has it, and it always runs it and closes done before it looks
// at another message or ends.
struct op_msg {
    const std::function<void()>& fn;
    std::exception_ptr err; // what fn threw
    signal_chan done{0};
};

enum class start_outcome { started, ignored, failed };

spdlog::logger& sup_log();
const context_key<child_token>& child_token_key();
void check_spec(const std::string& sup, const child_spec& spec, auto_shutdown as);
// Every spec, and that no two share an id.
void check_specs(const std::string& sup, const std::vector<child_spec>& specs, auto_shutdown as);
void check_options(const supervisor_options& o, bool dynamic);
child_spec with_defaults(child_spec s);

class sup_core : public std::enable_shared_from_this<sup_core> {
public:
    sup_core(supervisor_options opts, std::vector<child_spec> specs, bool dynamic,
             child_spec tmpl = {});
    ~sup_core();

    void start(const context& parent);
    sup_exit stop();
    sup_exit wait();
    bool running() const;
    std::string path() const;
    // The view's lines for this supervisor, indented by depth.
    void render(std::string& out, int depth, bool try_only = false) const;

    // Runs fn on the supervisor's goroutine and rethrows what it throws.
    void call(std::function<void()> fn);

    // Operations; run only on the supervisor's goroutine (through call).
    bool op_start_child(child_spec spec);
    void op_terminate_child(const std::string& id);
    bool op_restart_child(const std::string& id);
    void op_delete_child(const std::string& id);
    std::optional<std::uint64_t> op_start_dynamic(child_fn body);
    void op_terminate_dynamic(std::uint64_t ref);

    // Answered on the supervisor's goroutine between two of its steps while
    // it runs (never mid-restart: OTP's calls see the same), from the table
    // as it was left otherwise. which_child: by id, or by ref when dynamic.
    std::vector<child_info> which_children();
    child_counts count_children();
    child_info which_child(const std::string& id, std::uint64_t ref = 0);
    // A static child's spec (a temporary child's start is empty once it
    // runs), or a dynamic supervisor's template.
    child_spec get_childspec(const std::string& id);

private:
    void run(sender<std::exception_ptr> init);
    void loop();
    void finish(sup_exit why);
    bool handle_message_or_due(bool due_now, std::optional<steady::time_point> next_due);
    void handle_exit(const std::shared_ptr<instance>& inst);
    void handle_ops(op_msg& op);
    void run_due();

    start_outcome start_instance(child_rec& c, event_kind on_success);
    // Cancels c's running instance and waits for its end (terminate_instance
    // does both; at shutdown a dynamic supervisor cancels every child first):
    // cancel_instance returns the deadline, its shutdown time from now;
    // await_end waits until the end or the deadline, then forgets the
    // instance and reports it exited or abandoned.
    void terminate_instance(child_rec& c);
    steady::time_point cancel_instance(child_rec& c);
    void await_end(child_rec& c, steady::time_point deadline);
    void terminate_all();
    void decide_restart(child_rec& c);
    bool add_restart();
    void give_up(child_rec& c);
    void apply_strategy(child_rec& c);
    void restart_range(child_rec& failed);
    void count_restart(child_rec& c);
    void retry_later(child_rec& c);
    void check_auto_shutdown(const std::string& name, bool significant);
    void shutdown_self(sup_exit why);

    void erase(child_rec& c);
    // A child that has ended and will not restart: a temporary or dynamic
    // one is forgotten (true), another kept, stopped (OTP's del_child).
    bool forget_or_stop(child_rec& c);
    // fn's result, computed where the table is consistent (see which_children).
    template <class F> auto consistent(F fn);
    child_info info_of(const child_rec& c) const;
    void set_due(child_rec& c, steady::time_point t);
    void clear_due(child_rec& c);
    void set_state(child_rec& c, child_state s);
    void emit(event_kind k, const child_rec& c, const instance* inst = nullptr,
              std::chrono::nanoseconds delay = {});
    std::chrono::nanoseconds shutdown_of(const child_spec& s) const;

    supervisor_options opts_;
    bool dynamic_;
    child_spec tmpl_;
    std::string path_;

    // The children in start order; the goroutine is the only writer and takes
    // mu_ for every change, so that readers on other threads (the view) see
    // a whole table. Goroutines read it too: a rill::mutex (see rill/sync.hpp).
    mutable rill::mutex mu_;
    child_table children_;
    std::deque<steady::time_point> restarts_;
    // The pending restarts, soonest first (each child's `due` is its key).
    std::set<std::pair<steady::time_point, child_rec*>> due_;
    std::atomic<std::uint64_t> loop_goroutine_{0}; // the supervisor's goroutine id
    std::uint64_t next_ref_ = 0;
    std::uint64_t rng_;

    context ctx_;
    cancel_func cancel_;
    chan<exit_msg> exits_{1024};
    chan<op_msg*> ops_{0};
    signal_chan exited_{0}; // closed when the supervisor has ended
    std::atomic<bool> started_{false};
    std::atomic<bool> running_{false};
    std::atomic<sup_exit> why_{sup_exit::stopped};
    std::optional<sup_exit> exiting_; // set by the loop to leave it
    std::exception_ptr last_start_error_;
};

// The registry behind the live view and the dump section.
void register_core(sup_core* c);
void unregister_core(sup_core* c);

} // namespace rill::detail
