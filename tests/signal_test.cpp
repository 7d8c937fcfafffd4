// The runtime and signals: every runtime thread runs with the signal mask the
// runtime means it to have, whoever started it, and a program a goroutine
// forks and execs gets the process's original mask; a program's own signal
// handler is never preempted (moved to another thread half-way through); and
// a process exits cleanly with goroutines still running, however late the
// runtime's signal handlers run.
#include "preempt_storm.hpp"
#include "test_util.hpp"

#include "preempt.hpp"
#include "sched.hpp"

#include <rill/chan.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using rill_test::by_build;
using rill_test::maxprocs_scope;
using rill_test::watchdog;

namespace {

// ---- signal masks ----------------------------------------------------------------

// Masks as the kernel shows them in /proc: bit sig-1 for signal sig.
constexpr std::uint64_t bit(int sig) { return std::uint64_t{1} << (sig - 1); }

// The signals a fault raises: blocked, the kernel kills the process without
// running any handler (the runtime's stack-overflow report, a sanitizer's).
constexpr std::uint64_t fault_signals =
    bit(SIGSEGV) | bit(SIGBUS) | bit(SIGFPE) | bit(SIGILL) | bit(SIGTRAP) | bit(SIGSYS);

// The calling thread's mask.
std::uint64_t own_mask() {
    sigset_t s;
    pthread_sigmask(SIG_SETMASK, nullptr, &s);
    std::uint64_t out = 0;
    for (int sig = 1; sig <= 64; ++sig)
        if (sigismember(&s, sig) == 1) out |= bit(sig);
    return out;
}

// The SigBlk line of some /proc status text.
std::optional<std::uint64_t> blocked_signals_in(const std::string& status) {
    auto at = status.find("SigBlk:");
    if (at == std::string::npos) return std::nullopt;
    return std::stoull(status.substr(at + 7), nullptr, 16);
}

// Another thread's mask, or nothing if it is gone.
std::optional<std::uint64_t> blocked_signals(pid_t tid) {
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/status");
    return blocked_signals_in(std::string(std::istreambuf_iterator<char>(f), {}));
}

// Under a user-mode emulator (qemu-aarch64) /proc shows the emulator's own
// masks, not the emulated program's: see run_child for the test.
bool under_emulator() {
    return rill_test::detail::read_nul_separated("/proc/thread-self/cmdline").size() >
           rill_test::detail::read_nul_separated("/proc/self/cmdline").size();
}

std::set<pid_t> thread_ids() {
    std::set<pid_t> out;
    DIR* d = opendir("/proc/self/task");
    while (dirent* e = d ? readdir(d) : nullptr)
        if (e->d_name[0] != '.') out.insert(static_cast<pid_t>(std::atol(e->d_name)));
    if (d) closedir(d);
    return out;
}

std::string hex(std::uint64_t v) {
    std::ostringstream s;
    s << std::hex << v;
    return s.str();
}

__attribute__((noinline)) pid_t current_tid() {
    asm volatile("" ::: "memory");
    return gettid();
}

// Runs argv to its end from the calling goroutine (fork and exec, so that
// the child starts from this thread's state) and returns its output.
std::string run_program(std::vector<std::string> argv) {
    auto p = rill_test::spawn_process(argv[0], argv, {}, true);
    if (p.pid < 0) return "cannot start " + argv[0];
    int status = 0;
    while (waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::string out = rill_test::output_so_far(p);
    close(p.out);
    return out;
}

} // namespace

// ---- every runtime thread's mask ------------------------------------------------

// Runs in a fresh process with one processor (RILL_MAXPROCS=1), so that it
// knows which thread started which. The process's original mask blocks
// SIGUSR2 (and SIGURG too with RILL_TEST_BLOCK_SIGURG=1), as a program that
// waits for signals with sigwait would.
TEST_CASE("runtime thread signal masks (child process)", "[.]") {
    // Sanitizers start threads of their own on the first pthread_create, and
    // the watchdog is one: both exist before the census below.
    std::thread([] {}).join();
    watchdog dog("a goroutine on a thread that sysmon started was never preempted", 20s);
    sigset_t extra;
    sigemptyset(&extra);
    sigaddset(&extra, SIGUSR2);
    if (std::getenv("RILL_TEST_BLOCK_SIGURG")) sigaddset(&extra, SIGURG);
    REQUIRE(pthread_sigmask(SIG_BLOCK, &extra, nullptr) == 0);
    const std::uint64_t original = own_mask();
    REQUIRE((original & bit(SIGUSR2)) != 0);
    const bool see_other_threads = !under_emulator();
    if (!see_other_threads) WARN("under an emulator: /proc does not show the program's masks");

    const std::set<pid_t> plain = thread_ids();
    REQUIRE(rill::maxprocs() == 1); // starts the runtime: sysmon and the dump thread, no M yet
    std::set<pid_t> helpers;
    for (pid_t t : thread_ids())
        if (!plain.count(t)) helpers.insert(t);
    if (see_other_threads) CHECK(helpers.size() == 2);

    // What each kind of thread is meant to block: an M takes SIGURG
    // (preemption) and faults whatever the original mask says; sysmon and
    // the dump thread keep SIGURG and SIGQUIT off.
    const std::uint64_t m_mask = original & ~fault_signals & ~bit(SIGURG);
    const std::uint64_t helper_mask = (original & ~fault_signals) | bit(SIGURG) | bit(SIGQUIT);

    const bool async = rill::detail::async_preempt_enabled();
    pid_t main_tid = 0, other_tid = 0;
    std::uint64_t other_mask = 0;
    std::string exec_output;
    std::string census; // every runtime thread whose mask was wrong
    rill::run([&] {
        main_tid = current_tid();
        // The main goroutine blocks its thread with the only processor's work
        // queued behind it, so sysmon retakes the processor and starts a
        // second M for the other goroutine.
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        std::atomic<bool> stop{false};
        rill::wait_group wg;
        wg.add(1);
        rill::go([&] {
            other_tid = current_tid();
            other_mask = own_mask();
            // grep itself, not through /bin/sh: dash clears its mask at start.
            exec_output = run_program({"/bin/grep", "SigBlk", "/proc/self/status"});
            // Said now: the spin below hangs if the mask is wrong.
            std::cout << "thread started by sysmon blocks " << hex(other_mask) << " (want "
                      << hex(m_mask) << "); a program it runs, " << exec_output << " (want "
                      << hex(original) << ")" << std::endl;
            (void)!write(fds[1], "x", 1);
            // The main goroutine, back from its blocking call, waits for this
            // processor: a call-free loop gives it up only to SIGURG.
            while (!stop.load(std::memory_order_relaxed))
                if (!async) rill::preempt_point();
            wg.done();
        });
        char c = 0;
        CHECK(rill::blocking([&] { return read(fds[0], &c, 1); }) == 1);
        stop.store(true);
        wg.wait();
        close(fds[0]);
        close(fds[1]);

        // Churn: goroutines in and out of blocking calls on three processors,
        // so that sysmon and the Ms start more Ms.
        maxprocs_scope procs(3);
        rill::wait_group churn;
        constexpr int churners = 12;
        churn.add(churners);
        for (int i = 0; i < churners; ++i)
            rill::go([&] {
                for (int k = 0; k < 10; ++k) {
                    rill::blocking([] { usleep(300); });
                    rill::gosched();
                }
                churn.done();
            });
        churn.wait();
        CHECK(rill::stats().blocking_retakes > 0);
        if (!see_other_threads) return;
        // An M may still be starting (it sets its mask first thing).
        bool ok = rill_test::eventually([&] {
            census.clear();
            for (pid_t t : thread_ids()) {
                if (plain.count(t)) continue;
                auto mask = blocked_signals(t);
                std::uint64_t want = helpers.count(t) ? helper_mask : m_mask;
                if (mask && *mask != want)
                    census += (helpers.count(t) ? "helper " : "M ") + std::to_string(t) +
                              " blocks " + hex(*mask) + ", want " + hex(want) + "\n";
            }
            return census.empty();
        });
        CHECK(ok);
    });
    INFO("main goroutine's thread " << main_tid << ", the other's " << other_tid);
    CHECK(other_tid != main_tid);
    CHECK(other_mask == m_mask);
    if (!see_other_threads) return;
    CHECK(blocked_signals_in(exec_output) == original);
    INFO(census);
    CHECK(census.empty());
    CHECK(thread_ids().size() > plain.size() + helpers.size() + 2); // the churn started Ms
}

TEST_CASE("every runtime thread has the signal mask meant for it, whoever started it") {
    for (bool block_sigurg : {false, true}) {
        INFO("original mask blocks SIGURG: " << block_sigurg);
        auto r = rill_test::run_child(
            "runtime thread signal masks (child process)",
            {{"RILL_MAXPROCS", "1"}, {"RILL_TEST_BLOCK_SIGURG", block_sigurg ? "1" : ""}});
        INFO(r.output);
        CHECK(r.exited_with(0));
    }
}

// ---- a program's own signal handler -----------------------------------------------

namespace {

// Counts kept by the SIGUSR1 handler below.
std::atomic<long> handler_runs{0};     // every run
std::atomic<long> handler_in_g{0};     // runs that interrupted a goroutine
std::atomic<long> handler_moved{0};    // runs that ended on another thread
std::atomic<long> handler_overlaps{0}; // goroutines that ran inside a suspended run
// Call-free iterations per run: some tens of microseconds (ASan leaves a
// register loop alone).
constexpr long handler_spin = 50'000;

// Set while a run of the handler is under way on this thread.
thread_local std::atomic<bool> handler_active{false};

// Through a call the compiler cannot fold, since the goroutine calling it
// may have moved to another thread (the errno problem).
__attribute__((noinline)) std::atomic<bool>& this_thread_handler_active() {
    asm volatile("" ::: "memory");
    return handler_active;
}

// For the goroutines: counts a step run on a thread whose run of the handler
// has not finished, that is, a thread running goroutines from inside the
// handler (suspended on another goroutine's stack). No preemption between
// finding this thread's flag and reading it: on another thread by then, it
// would read the first one's while that one runs the handler.
void check_not_inside_handler() {
    rill::no_preempt np;
    if (this_thread_handler_active().load(std::memory_order_relaxed)) handler_overlaps.fetch_add(1);
}

// A handler like a program's own: no SA_ONSTACK, so it runs on the stack of
// the goroutine it interrupts, and a call-free loop long enough for SIGURG
// to land in it. Preempted there, the thread would go on running other
// goroutines inside the handler (the signal still blocked), and the handler
// might resume on another thread (and the code it interrupted, if the
// runtime's, on the wrong M).
void on_sigusr1(int) {
    int saved = errno;
    pid_t tid = current_tid();
    std::atomic<bool>& active = this_thread_handler_active();
    active.store(true, std::memory_order_relaxed);
    bool in_g = rill::in_goroutine();
    for (long i = 0; i < handler_spin; ++i)
        asm volatile("");
    active.store(false, std::memory_order_relaxed);
    if (current_tid() != tid) handler_moved.fetch_add(1);
    if (in_g) handler_in_g.fetch_add(1);
    handler_runs.fetch_add(1);
    errno = saved;
}

// A plain thread sending SIGUSR1 to every M running a goroutine, and now
// and then to the process, as fast as it can with a short pause.
class usr1_storm : rill_test::processor_storm {
public:
    usr1_storm()
        : processor_storm(
              20us,
              [](rill::detail::P* p) {
                  rill::detail::M* m = p->m.load(); // acquire: m->thread is set before
                  if (m) pthread_kill(m->thread, SIGUSR1);
              },
              [](unsigned round) {
                  if (round % 16 == 0) kill(getpid(), SIGUSR1);
              }) {}
};

} // namespace

TEST_CASE("a signal handler is never preempted, whatever the runtime is doing") {
    watchdog dog("the SIGUSR1 storm wedged the runtime", 60s);
    rill::maxprocs(); // starts the runtime
    const bool async = rill::detail::async_preempt_enabled();
    if (!async) WARN("asynchronous preemption is off: the handler cannot be preempted anyway");
    struct sigaction sa {};
    sa.sa_handler = on_sigusr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    struct sigaction old {};
    REQUIRE(sigaction(SIGUSR1, &sa, &old) == 0);
    handler_runs = handler_in_g = handler_moved = handler_overlaps = 0;

    const long target = by_build(4000, 2000, 300);
    rill::run([&] {
        maxprocs_scope procs(2);
        std::atomic<bool> stop{false};
        rill::wait_group wg;
        auto worker = [&](auto body) {
            wg.add(1);
            rill::go([&, body] {
                while (!stop.load(std::memory_order_relaxed))
                    body();
                wg.done();
            });
        };
        // Goroutines that keep the processors busy (call-free, where the
        // runtime can preempt them by signal), ...
        for (int i = 0; i < 2; ++i)
            worker([&] {
                for (int k = 0; k < 10'000; ++k)
                    asm volatile("");
                check_not_inside_handler();
                if (!async) rill::preempt_point();
            });
        // ... channel traffic, ...
        rill::chan<int> ping(0), pong(0);
        wg.add(2);
        rill::go([&] {
            while (!stop.load(std::memory_order_relaxed)) {
                ping.send(1);
                pong.recv();
                check_not_inside_handler();
            }
            ping.close();
            wg.done();
        });
        rill::go([&] {
            for (int v : ping)
                pong.send(v);
            wg.done();
        });
        // ... blocking calls and sleeps.
        worker([] {
            check_not_inside_handler();
            rill::blocking([] { usleep(50); });
        });
        worker([] {
            check_not_inside_handler();
            rill::sleep(50us);
        });
        worker([] {
            check_not_inside_handler();
            rill::gosched();
        });

        {
            rill_test::preempt_storm preempts;
            usr1_storm signals;
            while (handler_in_g.load() < target &&
                   handler_moved.load() + handler_overlaps.load() == 0)
                rill::sleep(1ms);
        }
        stop.store(true);
        wg.wait();
    });
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN; // drops any SIGUSR1 still pending
    sigaction(SIGUSR1, &ignore, nullptr);
    sigaction(SIGUSR1, &old, nullptr);
    INFO(handler_runs.load() << " handler runs, " << handler_in_g.load() << " in goroutines; "
                             << handler_moved.load() << " ended on another thread; "
                             << handler_overlaps.load()
                             << " goroutine steps ran inside a suspended run");
    CHECK(handler_moved.load() == 0);
    CHECK(handler_overlaps.load() == 0);
}

// ---- exit with goroutines running ---------------------------------------------------

namespace {

std::atomic<bool> exit_child_armed{false};
std::atomic<bool> exit_child_async{false};

// Runs after every static destructor: .fini_array runs from the C library's
// _dl_fini, which it registered with atexit before any constructor ran. In
// the exit child, it holds the process open until the goroutines still
// spinning have been preempted by signal a few more times, so that the
// SIGURG handler certainly runs after static destruction (in any program it
// may, but only now and then).
__attribute__((destructor)) void after_static_destruction() {
    if (!exit_child_armed.load()) return;
    long more = 0;
    if (exit_child_async.load()) {
        auto& count = rill::detail::sched.preempts_async; // sched is never destroyed
        const auto from = count.load();
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        while (count.load() < from + 5 && std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(1ms);
        more = static_cast<long>(count.load() - from);
    }
    char line[80];
    int n = std::snprintf(line, sizeof line, "preemptions after static destruction: %ld\n", more);
    (void)!write(STDOUT_FILENO, line, static_cast<std::size_t>(n));
}

// What the exit child's goroutines share: allocated once and never freed,
// as anything must be that goroutines use after main returns.
struct exit_child_state {
    rill::chan<int> c{1};
};
exit_child_state* exit_state = nullptr;

} // namespace

TEST_CASE("goroutines still running at exit (child process)", "[.]") {
    exit_state = new exit_child_state;
    rill::maxprocs(); // starts the runtime
    const bool async = rill::detail::async_preempt_enabled();
    exit_child_async = async;
    rill::run([async] {
        // Call-free loops on every processor and one more, preempted by
        // SIGURG (by preemption points where signals are off), ...
        for (int i = 0; i <= rill::maxprocs(); ++i)
            rill::go([async] {
                for (;;) {
                    asm volatile("");
                    if (!async) rill::preempt_point();
                }
            });
        // ... and goroutines in channel operations, sleeps and blocking calls.
        rill::go([] {
            for (;;) {
                exit_state->c.send(1);
                exit_state->c.recv();
            }
        });
        rill::go([] {
            for (;;)
                rill::sleep(100us);
        });
        rill::go([] {
            for (;;) {
                rill::blocking([] { usleep(100); });
            }
        });
        // Return once the spinners are being preempted.
        const auto until = rill::stats().preempts_async + (async ? 3 : 0);
        while (rill::stats().preempts_async < until)
            rill::sleep(1ms);
    });
    exit_child_armed = true;
}

TEST_CASE("a process exits cleanly with goroutines still running") {
    watchdog dog("the exit child hung", 60s);
    auto r = rill_test::run_child("goroutines still running at exit (child process)");
    INFO(r.output);
    CHECK(r.exited_with(0));
    for (const char* report : {"Sanitizer", "runtime error"})
        CHECK(r.output.find(report) == std::string::npos);
    rill::maxprocs();
    if (rill::detail::async_preempt_enabled())
        CHECK(r.output.find("preemptions after static destruction: 0") == std::string::npos);
    CHECK(r.output.find("preemptions after static destruction:") != std::string::npos);
}
