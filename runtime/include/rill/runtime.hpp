// rill runtime: goroutines on an M:N scheduler.
//
// Contract: run(f) starts the runtime (once per process), runs f as the main
// goroutine, blocks the calling thread until f returns, and hands back f's
// result or rethrows its exception. go(f) spawns a goroutine; it may be called
// from a goroutine or from any OS thread (it starts the runtime if needed).
// An exception escaping any goroutine other than run's goes to the panic
// handler (default: log through spdlog, exit status 2, as Go does).
// thread_local storage is per OS thread, not per goroutine: a goroutine may
// move between threads whenever it blocks.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iosfwd>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace rill {

struct go_options {
    // Shown in panics, stack-overflow reports and goroutine dumps.
    std::string_view name{};
    // Upper bound of the goroutine's stack in bytes (0: the runtime default,
    // RILL_STACK_RESERVE or 256 KiB). Memory is committed page by page.
    std::size_t stack_reserve = 0;
};

struct panic_info {
    std::uint64_t goroutine_id;
    std::string goroutine_name;
    std::exception_ptr error;
    std::string what; // error's what(), or a description for non-std exceptions
};

using panic_handler = std::function<void(const panic_info&)>;

// Replaces the process-wide handler for exceptions escaping goroutines and
// returns the previous one. The handler runs on the panicking goroutine.
panic_handler set_panic_handler(panic_handler h);

namespace detail {
// Type-erased goroutine body, stored inline in the goroutine when small.
class go_func {
public:
    static constexpr std::size_t inline_size = 48;
    go_func() = default;
    template <class F> explicit go_func(F&& f) {
        using D = std::decay_t<F>;
        if constexpr (sizeof(D) <= inline_size && alignof(D) <= alignof(std::max_align_t) &&
                      std::is_nothrow_move_constructible_v<D>) {
            new (buf_) D(std::forward<F>(f));
            ops_ = &inline_ops<D>;
        } else {
            *reinterpret_cast<D**>(buf_) = new D(std::forward<F>(f));
            ops_ = &heap_ops<D>;
        }
    }
    go_func(go_func&& o) noexcept : ops_(o.ops_) {
        if (ops_) ops_->relocate(buf_, o.buf_);
        o.ops_ = nullptr;
    }
    go_func& operator=(go_func&& o) noexcept {
        if (this != &o) {
            reset();
            ops_ = o.ops_;
            if (ops_) ops_->relocate(buf_, o.buf_);
            o.ops_ = nullptr;
        }
        return *this;
    }
    go_func(const go_func&) = delete;
    go_func& operator=(const go_func&) = delete;
    ~go_func() { reset(); }
    void operator()() { ops_->invoke(buf_); }
    void reset() noexcept {
        if (ops_) ops_->destroy(buf_);
        ops_ = nullptr;
    }
    explicit operator bool() const noexcept { return ops_ != nullptr; }

private:
    struct ops {
        void (*invoke)(void*);
        void (*relocate)(void* dst, void* src) noexcept;
        void (*destroy)(void*) noexcept;
    };
    template <class D>
    static constexpr ops inline_ops{[](void* p) { (*static_cast<D*>(p))(); },
                                    [](void* dst, void* src) noexcept {
                                        new (dst) D(std::move(*static_cast<D*>(src)));
                                        static_cast<D*>(src)->~D();
                                    },
                                    [](void* p) noexcept { static_cast<D*>(p)->~D(); }};
    template <class D> static constexpr ops heap_ops{
        [](void* p) { (**static_cast<D**>(p))(); },
        [](void* dst, void* src) noexcept { *static_cast<D**>(dst) = *static_cast<D**>(src); },
        [](void* p) noexcept { delete *static_cast<D**>(p); }};
    alignas(std::max_align_t) unsigned char buf_[inline_size];
    const ops* ops_ = nullptr;
};

void spawn(go_func&& f, const go_options& opts);
// Hands the calling goroutine's processor over for a blocking call (Go's
// entersyscall); false, doing nothing, outside a goroutine or when nested.
bool enter_blocking() noexcept;
// Takes a processor back (Go's exitsyscall), waiting for one if need be.
void exit_blocking() noexcept;
// Runs f as a goroutine and blocks the calling OS thread until it returns.
// Exceptions escaping f are returned, not handed to the panic handler.
std::exception_ptr run_main(go_func&& f);
} // namespace detail

// Spawns f as a new goroutine. The callable is moved into the goroutine.
template <class F> void go(F&& f, const go_options& opts = {}) {
    detail::spawn(detail::go_func(std::forward<F>(f)), opts);
}

// Runs f as the main goroutine and returns its result (rethrowing its
// exception). May be called again after it returns; the runtime stays up.
// Must not be called from inside a goroutine.
template <class F> std::invoke_result_t<F&> run(F&& f) {
    using R = std::invoke_result_t<F&>;
    if constexpr (std::is_void_v<R>) {
        auto ep = detail::run_main(detail::go_func(std::forward<F>(f)));
        if (ep) std::rethrow_exception(ep);
    } else {
        std::optional<R> result;
        auto ep = detail::run_main(detail::go_func(
            [&result, fn = std::forward<F>(f)]() mutable { result.emplace(fn()); }));
        if (ep) std::rethrow_exception(ep);
        return std::move(*result);
    }
}

// Runs f, which may block its OS thread (a blocking system call, a library
// that waits), and returns what f returns. While f runs, the goroutine's
// processor may be handed to another thread, so other goroutines keep running
// on every processor; afterwards the goroutine takes a processor back, waiting
// for one if all are busy. Inside f the goroutine behaves like a plain thread:
// channel operations, sleeps and locks block the thread, not the goroutine.
// On a plain thread, or nested, it just calls f.
template <class F> decltype(auto) blocking(F&& f) {
    struct leave {
        bool entered;
        ~leave() {
            if (entered) detail::exit_blocking();
        }
    } l{detail::enter_blocking()};
    return std::forward<F>(f)();
}

// Yields the processor; the goroutine stays runnable. On a plain thread: std::this_thread::yield.
void gosched();

// Parks the goroutine (or blocks the plain thread) for at least d.
void sleep(std::chrono::nanoseconds d);
void sleep_until(std::chrono::steady_clock::time_point t);

// The current goroutine's id (1, 2, ...) and name; 0 and "" on a plain thread.
std::uint64_t goroutine_id() noexcept;
std::string_view goroutine_name() noexcept;
bool in_goroutine() noexcept;

// Wires the calling goroutine to its current OS thread until as many
// unlock_os_thread calls (Go's runtime.LockOSThread): it runs only there, and
// the thread runs nothing else, so thread_local state and thread-affine
// libraries see one thread. A locked goroutine is never preempted
// asynchronously. No-ops on a plain thread. A goroutine that exits locked
// releases its thread.
void lock_os_thread();
void unlock_os_thread();

// A cooperative preemption point: yields if the runtime has asked this
// goroutine to give up its processor (it ran for over 10 ms). Channel
// operations, spawning and gosched are preemption points too; a loop that
// reaches none of them is preempted by signal where that is safe (see README).
void preempt_point();

// While alive, the current goroutine is not preempted (neither by signal nor
// at preemption points); it may still block. Nestable.
class no_preempt {
public:
    no_preempt() noexcept;
    ~no_preempt();
    no_preempt(const no_preempt&) = delete;
    no_preempt& operator=(const no_preempt&) = delete;
};

// Writes every goroutine (id, name, state, wait reason, how long it has
// waited) to out, as SIGQUIT does to stderr; the program goes on.
void dump_goroutines(std::ostream& out);

// Adds a section that every goroutine dump prints after the goroutines (for
// upper layers: a supervisor tree, say). f runs on the thread that dumps (a
// runtime thread for SIGQUIT) and must not block for long. Returns a handle
// for remove_dump_section; once that returns, f is not running nor called.
std::uint64_t add_dump_section(std::function<void(std::ostream&)> f);
void remove_dump_section(std::uint64_t handle);

// Number of processors (Ps) running goroutines. Initially RILL_MAXPROCS, else
// GOMAXPROCS, else the number of CPUs. set_maxprocs returns the previous value.
// Once it has lowered the count, no goroutine starts or resumes on a surplus
// processor; goroutines running there (the caller, say) go on until they next
// block or yield. Unlike Go's, it does not stop the world.
int maxprocs() noexcept;
int set_maxprocs(int n);

// Counters for tests and monitoring.
struct runtime_stats {
    std::uint64_t goroutines_live;
    std::uint64_t goroutines_created;
    std::uint64_t threads; // Ms
    std::uint64_t steals;
    std::uint64_t parks;
    std::uint64_t processors;       // Ps (maxprocs)
    std::uint64_t slices_ended;     // time slices sysmon ended (10 ms run, or a timer overdue)
    std::uint64_t preempts_async;   // goroutines stopped by SIGURG at a safe point
    std::uint64_t preempts_coop;    // goroutines that yielded at a preemption point when asked
    std::uint64_t blocking_retakes; // Ps sysmon took from goroutines in blocking calls
    std::uint64_t netpoll_wakeups;  // goroutines readied by I/O readiness
    std::uint64_t stacks_guarded;   // live stacks protected by a guard page
    std::uint64_t stacks_unguarded; // live stacks past the map-count budget (canary-checked)
};
runtime_stats stats() noexcept;

} // namespace rill
