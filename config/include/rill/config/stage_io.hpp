// What a running stage sees: its context, its arguments and its ports.
//
// Contract for stage functions:
// - Loop over the input until it ends (`for (auto& v : in)` or recv() until
//   empty) and return: returning normally is how a stage finishes, and once
//   every worker writing to a channel has finished, the runner closes that
//   channel, so the stages downstream finish in turn. Never close a port.
// - An exception is a failure: the stage's supervisor restarts it (the values
//   it held are counted as lost, and logged with the exception); inputs and
//   outputs are kept, so nothing already in a channel is lost.
// - ctx() is cancelled when the stage must stop now (its supervisor stops it,
//   or the run is stopped hard); then recv() ends and send() returns false, and
//   the stage should return. A source (a stage without inputs) also sees ctx()
//   cancelled when a drain begins (SIGINT/SIGTERM): it should stop producing
//   and return, which counts as finishing, so everything downstream drains.
// - A drain stops a source taking in, not delivering: what it already took in
//   from outside (lines read, messages received) it passes on with
//   out_port::send_held, which a drain does not make fail; only a hard stop
//   (runner::stop(), the grace period running out, its supervisor stopping or
//   restarting it) does, and then the value is the stage's to account for.
// - A worker is a new call of the stage function after each restart; what it
//   must remember across restarts within the run (a position in its input, a
//   file it already truncated) lives in state<T>(). Each stage's help says
//   whether a restart resumes or starts over.
//
// Values in hand. Every value taken from an input port is counted until the
// stage has dealt with it, so that a run can say where each value went: the
// runner's report gives, per stage, the values received and those lost, and
// for every declared channel sent = taken + left.
// - A value received is in hand until the next recv on the same port object
//   (coming back for more means the stage has passed the last one on, or
//   dropped it on purpose, as a filter does), or until in.handled().
// - in.keep() keeps the value last received in hand past the next recv: a
//   stage that accumulates values (a partial batch, a write buffer) keeps
//   each, and calls io.release(n) once it has passed n of them on.
// - Whatever is in hand when the stage function ends, however it ends (an
//   exception, a cancelled send after a sibling's restart or a hard stop, or
//   a plain return), is counted as lost for the stage and logged with its
//   id: the value whose send was cancelled, a batch never sent.
// So a 1:1 stage or a filter written as a loop over recv needs nothing more;
// only a stage that holds values across receives calls keep and release.
// Sources are outside this: what a source produced but could not send never
// entered a channel (sources that can resume do; see each stage).
#pragma once

#include <rill/chan.hpp>
#include <rill/config/registry.hpp>
#include <rill/csp/context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

namespace rill::config {

// One value of a type known only at run time (generic stages). Values of up
// to 256 bytes live inside the box, larger ones on the heap.
class box {
public:
    explicit box(const type_desc& t);
    box(const box&) = delete;
    box& operator=(const box&) = delete;
    ~box();
    const type_desc& type() const noexcept { return *t_; }
    bool has_value() const noexcept { return full_; }
    void reset() noexcept;
    // Storage for the value; construct into it (when empty) then call filled().
    void* storage() noexcept { return p_; }
    const void* storage() const noexcept { return p_; }
    void filled() noexcept { full_ = true; }
    template <class T> T& as() { return *std::launder(reinterpret_cast<T*>(p_)); }
    // Copies other's value into this (empty) box; the type must be copyable.
    void copy_from(const box& other);
    // fmt's rendering; std::logic_error if the type has no to_string.
    std::string to_string() const;

private:
    const type_desc* t_;
    bool full_ = false;
    void* p_; // buf_ or a heap block
    alignas(std::max_align_t) unsigned char buf_[256];
};

namespace detail {
// A port as the runner binds it: one channel (fan-in and fan-out are done by
// the runner's forwarders around it), retained for the whole run.
struct port_core {
    std::string name;
    rill::detail::chan_core* c = nullptr;
    const type_desc* type = nullptr;
    // Counts the values sent on c when c is a declared channel (the runner's
    // channel_stats::sent); null for the runner's own channels.
    std::atomic<std::uint64_t>* sent = nullptr;
    // False for an optional port the topology left unbound (an input that is
    // at its end at once, an output whose values are discarded).
    bool bound = true;
};
struct stage_binding {
    const stage_decl* decl = nullptr;
    const stage_spec* spec = nullptr;
    std::vector<port_core> inputs, outputs;
};

// recv from c unless done fires first; true when *dst was constructed.
bool port_recv(rill::detail::chan_core* c, rill::detail::chan_core* done, void* dst);
// port_recv that also gives up at deadline (steady-clock nanoseconds):
// value (*dst constructed), ended (closed and drained, or done) or timeout.
enum class recv_status { value, ended, timeout };
recv_status port_recv_until(rill::detail::chan_core* c, rill::detail::chan_core* done, void* dst,
                            std::int64_t deadline);
// send *src on c unless done fires first; true when sent (moved from).
bool port_send(rill::detail::chan_core* c, rill::detail::chan_core* done, void* src);
// port_send on p's channel, counting the value in p.sent.
bool port_send(const port_core& p, rill::detail::chan_core* done, void* src);
// The id of one worker of a stage, as supervisors and logs show it: the
// stage id when it has one worker, else "id[worker]".
std::string worker_id(const stage_decl& d, int worker);

// What one worker keeps across its restarts within a run (stage_io::state):
// one object, of the type the stage first asks for, made on first use. The
// runner owns it; only the worker's one running call touches it, so it needs
// no lock.
class worker_memory {
public:
    // std::logic_error (naming id) when asked for another type than before.
    template <class T> T& get(const std::string& id) {
        if (!value_) {
            value_ = std::make_shared<T>();
            type_ = typeid(T);
        } else if (type_ != std::type_index(typeid(T))) {
            wrong_type(id, typeid(T));
        }
        return *static_cast<T*>(value_.get());
    }

private:
    [[noreturn]] void wrong_type(const std::string& id, const std::type_info& asked) const;
    std::shared_ptr<void> value_;
    std::type_index type_ = typeid(void);
};

// One run of one worker's stage function: the values taken from its inputs
// and, of those, the ones still in hand (see "Values in hand" above). Its
// ports update it from whichever goroutines the stage uses them in; the
// runner reads it on the worker's goroutine once the stage function has
// ended, so a stage that uses its input ports from goroutines of its own
// joins them before it returns (the join orders their counts before that
// read).
struct hand {
    std::atomic<std::int64_t> held{0};
    std::atomic<std::uint64_t> received{0};
};

// What both kinds of input port share: the value last received, in hand
// until handled. One port object is used by one goroutine at a time.
class in_hand {
public:
    // The value last received is dealt with (recv does this first).
    void handled() noexcept {
        if (current_) h_->held.fetch_sub(1, std::memory_order_relaxed);
        current_ = false;
    }
    // The value last received stays in hand past the next recv, until the
    // stage calls stage_io::release for it.
    void keep() noexcept { current_ = false; }

protected:
    explicit in_hand(hand& h) noexcept : h_(&h) {}
    void took() noexcept {
        h_->received.fetch_add(1, std::memory_order_relaxed);
        h_->held.fetch_add(1, std::memory_order_relaxed);
        current_ = true;
    }

private:
    hand* h_;
    bool current_ = false;
};
} // namespace detail

template <class T> class in_port : public detail::in_hand {
public:
    in_port(const detail::port_core& p, receiver<std::monostate> done, detail::hand& h)
        : in_hand(h), c_(p.c), done_(std::move(done)) {}
    // The next value (the one before it handled); empty once the input is
    // closed and drained, or ctx is cancelled.
    std::optional<T> recv() {
        bool timed_out;
        return recv_until(std::chrono::steady_clock::time_point::max(), timed_out);
    }
    // recv, giving up at deadline: then empty with *timed_out set (batching
    // and windows need both at once).
    std::optional<T> recv_until(std::chrono::steady_clock::time_point deadline, bool& timed_out) {
        handled();
        alignas(T) unsigned char buf[sizeof(T)];
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch());
        auto st = detail::port_recv_until(c_, done_.core(), buf, ns.count());
        timed_out = st == detail::recv_status::timeout;
        if (st != detail::recv_status::value) return std::nullopt;
        took();
        T* p = std::launder(reinterpret_cast<T*>(buf));
        std::optional<T> v(std::move(*p));
        p->~T();
        return v;
    }
    // Values waiting in the input now: a sink flushes its output when none are.
    std::size_t buffered() const noexcept { return rill::detail::chan_len(c_); }
    class iterator {
    public:
        explicit iterator(in_port* p) : p_(p) { ++*this; }
        iterator() = default;
        T& operator*() { return *cur_; }
        iterator& operator++() {
            cur_ = p_->recv();
            return *this;
        }
        bool operator==(const iterator& o) const { return !cur_ && !o.cur_; }

    private:
        in_port* p_ = nullptr;
        std::optional<T> cur_;
    };
    iterator begin() { return iterator(this); }
    iterator end() { return {}; }

private:
    rill::detail::chan_core* c_;
    receiver<std::monostate> done_;
};

template <class T> class out_port {
public:
    out_port(const detail::port_core& p, receiver<std::monostate> done,
             receiver<std::monostate> stopped)
        : p_(&p), done_(std::move(done)), stopped_(std::move(stopped)) {}
    // Blocks until the value is taken; false (value dropped) once ctx is
    // cancelled: the value it came from stays in hand, so it counts as lost
    // when the stage then returns.
    bool send(T v) { return detail::port_send(*p_, done_.core(), &v); }
    // Sends a value the stage already took in from outside, which a drain must
    // not lose: as send, but a drain (which cancels a source's ctx) does not
    // make it fail, only a hard stop does. On false v is still the caller's
    // (moved from only when sent).
    bool send_held(T& v) { return detail::port_send(*p_, stopped_.core(), &v); }

private:
    const detail::port_core* p_;
    receiver<std::monostate> done_, stopped_;
};

class any_in_port : public detail::in_hand {
public:
    any_in_port(const detail::port_core& p, receiver<std::monostate> done, detail::hand& h)
        : in_hand(h), p_(&p), done_(std::move(done)) {}
    const type_desc& type() const noexcept { return *p_->type; }
    // Fills the (empty) box, the value before it handled; false once the
    // input is closed and drained or ctx is cancelled. std::logic_error if
    // the box holds another type.
    bool recv(box& b);
    // As recv, giving up at deadline with *timed_out set.
    bool recv_until(box& b, std::chrono::steady_clock::time_point deadline, bool& timed_out);
    std::size_t buffered() const noexcept { return rill::detail::chan_len(p_->c); }

private:
    const detail::port_core* p_;
    receiver<std::monostate> done_;
};

class any_out_port {
public:
    any_out_port(const detail::port_core& p, receiver<std::monostate> done)
        : p_(&p), done_(std::move(done)) {}
    const type_desc& type() const noexcept { return *p_->type; }
    // Moves the box's value out (leaving it empty); false once ctx is
    // cancelled (the value stays in the box). std::logic_error if the box is
    // empty or holds another type.
    bool send(box& b);

private:
    const detail::port_core* p_;
    receiver<std::monostate> done_;
};

class stage_io {
public:
    // ctx: cancelled by a drain (sources) and by a hard stop; stopped: by a
    // hard stop only (send_held); memory: the worker's, for state(); h: the
    // run's count of values in hand, which the runner reads once the stage
    // function has ended.
    stage_io(context ctx, context stopped, const detail::stage_binding& b, int worker,
             detail::worker_memory& memory, detail::hand& h);

    const context& ctx() const noexcept { return ctx_; }
    // The stage's id, with "[i]" for worker i of a pool: "parse[2]".
    const std::string& id() const noexcept { return id_; }
    int worker() const noexcept { return worker_; }
    int workers() const noexcept { return b_->decl->workers; }
    const stage_decl& decl() const noexcept { return *b_->decl; }

    // The argument's value; std::logic_error if the stage declared no such
    // argument or A is not its type.
    template <class A> const A& arg(std::string_view name) const {
        auto it = b_->decl->args.find(std::string(name));
        if (it == b_->decl->args.end() || !std::holds_alternative<A>(it->second)) bad_arg(name);
        return std::get<A>(it->second);
    }

    // Typed ports; std::logic_error if the stage declared no such port or T
    // is not the port's type.
    template <class T> in_port<T> in(std::string_view port) const {
        return in_port<T>(input(port, &typeid(T)), ctx_.done(), *hand_);
    }
    template <class T> out_port<T> out(std::string_view port) const {
        return out_port<T>(output(port, &typeid(T)), ctx_.done(), stopped_.done());
    }
    any_in_port in_any(std::string_view port) const;
    any_out_port out_any(std::string_view port) const;
    // Whether an (optional) port is bound to a channel: a stage may skip
    // work whose results nobody reads.
    bool bound(std::string_view port) const;
    // n values the stage kept (in_port::keep) have been passed on, or
    // written out: they are no longer in hand.
    void release(std::size_t n) const noexcept {
        hand_->held.fetch_sub(static_cast<std::int64_t>(n), std::memory_order_relaxed);
    }

    // This worker's state for the run: a T made (value-initialised) on the
    // worker's first call, handed unchanged to each call after a restart
    // (its own failure, or its supervisor restarting it with its siblings),
    // destroyed when the run ends. Only this worker uses it (each worker of a
    // pool has its own). std::logic_error if an earlier call asked for another
    // type.
    template <class T> T& state() { return memory_->get<T>(id_); }

private:
    [[noreturn]] void bad_arg(std::string_view name) const;
    const detail::port_core& input(std::string_view port, const std::type_info* t) const;
    const detail::port_core& output(std::string_view port, const std::type_info* t) const;
    context ctx_, stopped_;
    const detail::stage_binding* b_;
    int worker_;
    std::string id_;
    detail::worker_memory* memory_;
    detail::hand* hand_;
};

} // namespace rill::config
