// The state of one run (runner.hpp's implementation): the declared channels
// with their counters, every stage's ports as bound for the run, each
// worker's phase, and the signals wait() selects on.
//
// Invariants (under mu_): a worker's cancel_funcs are set exactly while its
// stage function runs; a stage's outputs are closed once all its workers are
// finished, and finished_ fires once every stage is; after stopping_ is set
// every worker that starts is stopped at once (sources cancelled already at
// draining_).
#pragma once

#include "format/scalars.hpp"

#include <rill/config/runner.hpp>
#include <rill/config/stage_io.hpp>
#include <rill/supervisor.hpp>
#include <rill/sync.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rill::config::detail {

// A channel that is closed once, from any goroutine or thread, to announce
// something that stays true.
class signal {
public:
    void fire();
    bool fired() const noexcept { return fired_.load(std::memory_order_acquire); }
    receiver<std::monostate> rx() const { return ch_.rx(); }
    rill::detail::chan_core* core() const noexcept { return ch_.core(); }

private:
    chan<std::monostate> ch_{0};
    std::atomic<bool> fired_{false};
};

// One reference to a channel core, released with it.
class chan_ref {
public:
    explicit chan_ref(rill::detail::chan_core* c) noexcept : c_(c) {}
    chan_ref(chan_ref&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    chan_ref(const chan_ref&) = delete;
    chan_ref& operator=(const chan_ref&) = delete;
    ~chan_ref() {
        if (c_) rill::detail::chan_release(c_);
    }
    rill::detail::chan_core* get() const noexcept { return c_; }

private:
    rill::detail::chan_core* c_;
};

enum class worker_phase {
    waiting,  // not started yet, or stopped by its supervisor
    running,  // its stage function runs
    failed,   // it threw; its supervisor decides what happens next
    finished, // it returned by itself: it is never run again
};
const char* to_string(worker_phase p) noexcept;

struct worker_state {
    worker_phase phase = worker_phase::waiting;
    cancel_func cancel; // the stage's ctx(): a drain (sources) cancels it
    cancel_func stop;   // ctx() and what send_held waits on: a hard stop
    int failures = 0;
    std::string last_error;
    // The run in progress's counts (on its goroutine's stack), for a live
    // snapshot; null between runs. received: the runs that ended.
    const hand* current = nullptr;
    std::uint64_t received = 0;
    worker_memory memory; // touched by the worker alone, without mu_
};

struct stage_run {
    // A constructor, not aggregate initialisation: the atomics cannot be moved.
    stage_run(const stage_decl& d, const stage_spec& s)
        : decl(&d), spec(&s), binding{&d, &s, {}, {}}, workers(d.workers), unfinished(d.workers) {}
    const stage_decl* decl;
    const stage_spec* spec;
    stage_binding binding;
    std::vector<worker_state> workers;
    int unfinished; // workers not finished
    // Values taken from its inputs, over every run of every worker.
    std::atomic<std::uint64_t> received{0};
    // Values its fan-in and fan-out forwarders held when they were stopped.
    std::atomic<std::uint64_t> lost_forwarding{0};
    // The runner's own channels around its ports (fan-in merges, fan-out
    // copies): what is left in them at the end is lost with the stage.
    std::vector<rill::detail::chan_core*> forwarded;
    // Under run_state::mu_: values in hand when one of its runs ended (all
    // of them), those not yet logged, and when a line may next be logged.
    std::uint64_t lost = 0, unlogged = 0;
    std::chrono::steady_clock::time_point next_loss_log{};
};

struct declared_channel {
    // A constructor, not aggregate initialisation, for emplace_back: clang
    // before 16 has no parenthesised aggregate initialisation.
    declared_channel(const channel_decl* d, chan_ref ch) : decl(d), c(std::move(ch)) {}
    const channel_decl* decl;
    chan_ref c;
    std::atomic<std::uint64_t> sent{0};
};

struct failure {
    std::uint64_t seq; // orders failures
    std::string id;    // the worker's id
    std::string what;
};

class run_state {
public:
    // Creates the channels and binds every port; std::invalid_argument when
    // the topology does not fit the registry (the loader reports that with
    // positions; this guards topologies built by hand).
    run_state(const topology& t, const run_options& opts);
    run_state(const run_state&) = delete;
    run_state& operator=(const run_state&) = delete;

    void start(const std::shared_ptr<run_state>& self);
    void drain();
    void stop() { stop_requested_.fire(); }
    run_result wait();
    bool started() const noexcept { return root_.has_value() || result_.has_value(); }
    // try_only: for the goroutine dump, which must not wait for the lock.
    std::string render(bool try_only) const;
    run_snapshot snapshot() const;

private:
    static void run_worker(const std::shared_ptr<run_state>& self, stage_run& s, int w,
                           const context& child);
    static void idle_after_finish(const stage_run& s, const context& child);
    bool begin_worker(stage_run& s, int w, const cancel_func& cancel, const cancel_func& stop,
                      const hand& h);
    void end_worker(stage_run& s, int w, bool finished, const hand& h);
    void fail_worker(stage_run& s, int w, const std::exception_ptr& e, const context& child,
                     const hand& h);
    // Counts what h received for s and its worker w, and what it still holds
    // as lost (mu_ held); the number lost, for the caller to log.
    static std::uint64_t settle_locked(stage_run& s, int w, const hand& h);
    // The line that logs s's lost values not yet logged, if any, unless s
    // had one less than a second ago (force: at the end of the run), so that
    // a restart storm does not flood the log; mu_ held, logged after.
    static std::string loss_line_locked(stage_run& s, bool force);
    void finish_locked(stage_run& s, int w);
    void cancel_locked(bool sources_only);
    // d: the supervisor whose hook reports e (topo_ outlives every supervisor).
    void on_event(const supervisor_decl& d, const supervisor_event& e);
    run_result teardown(run_outcome outcome, std::string message);

    supervisor_options options_of(const supervisor_decl& d);
    std::vector<child_spec> children_of(const std::shared_ptr<run_state>& self,
                                        const supervisor_decl& d);
    const supervisor_decl& root_decl() const { return topo_.supervisors.front(); }
    stage_run& stage(const std::string& id);

    // Binding (run_bindings.cpp).
    declared_channel& channel(const std::string& name);
    rill::detail::chan_core* own_channel(const type_desc& t, std::size_t capacity);
    // The channels bound to a port, checked against its type; capacity: the largest.
    std::vector<declared_channel*> channels_of(const stage_decl& d, const port_spec& ps,
                                               const port_binding& b, const type_desc& t,
                                               std::size_t& capacity);
    port_core bind_input(const stage_decl& d, const port_spec& ps, const type_desc& t);
    port_core bind_output(const stage_decl& d, const port_spec& ps, const type_desc& t);
    void render_supervisor(std::string& out, const supervisor_decl& d, int depth) const;
    // For snapshot(): a supervisor's restarts (and those within its period).
    void count_restart(const supervisor_decl& d);
    void snapshot_supervisor(run_snapshot& out, const supervisor_decl& d) const;
    std::string state_locked() const;

    topology topo_;
    const registry* reg_;
    std::chrono::nanoseconds grace_;
    std::deque<declared_channel> channels_; // deques: stable addresses
    std::deque<stage_run> stages_;
    // By name and id, for binding and for the supervisors' children.
    std::unordered_map<std::string_view, declared_channel*> channel_at_;
    std::unordered_map<std::string_view, stage_run*> stage_at_;
    std::unordered_map<std::string_view, const supervisor_decl*> supervisor_at_;
    std::vector<chan_ref> own_channels_;            // fan-in, fan-out, discard, unbound inputs
    std::vector<std::function<void()>> forwarders_; // spawned by start()
    rill::wait_group forwarders_group_;

    signal finished_, gave_up_, drain_requested_, stop_requested_, stop_forwarders_;

    // A rill::mutex: a goroutine preempted while holding a std::mutex leaves
    // the goroutines that then wait for it blocking their threads, which
    // under a restart storm took every processor, the holder's turn included.
    mutable rill::mutex mu_;
    bool draining_ = false, stopping_ = false;
    bool all_started_ = false; // the root supervisor started every child
    std::chrono::steady_clock::time_point drain_began_{};
    int unfinished_stages_ = 0;
    std::map<std::string, failure> last_failures_; // by supervision path
    std::uint64_t failure_seq_ = 0;
    std::string gave_up_message_;
    struct supervision_counts {
        std::uint64_t restarts = 0;
        std::deque<std::chrono::steady_clock::time_point> recent; // within the period
        bool gave_up = false;
    };
    std::map<const supervisor_decl*, supervision_counts> supervision_;

    std::optional<rill::supervisor> root_;
    std::uint64_t dump_section_ = 0;
    std::optional<run_result> result_;
};

} // namespace rill::config::detail
