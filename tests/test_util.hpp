// Helpers shared by the runtime tests: workload sizes per sanitizer build, a
// scoped processor count, waiting for runtime counters to settle, and running
// a hidden test case in a child process (for behaviour that ends the process,
// or that needs a runtime started under conditions of its own), and running
// other programs.
#pragma once

#include <rill/runtime.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace rill_test {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool under_tsan = true;
#else
inline constexpr bool under_tsan = false;
#endif
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool under_asan = true;
#else
inline constexpr bool under_asan = false;
#endif

// A workload size for this build: TSan supports only a few thousand live
// fibers, and ASan makes every goroutine several times dearer.
constexpr int by_build(int normal, int asan, int tsan) {
    return under_tsan ? tsan : under_asan ? asan : normal;
}

// Sets the processor count for a scope and restores the previous one.
class maxprocs_scope {
public:
    explicit maxprocs_scope(int n) : prev_(rill::set_maxprocs(n)) {}
    maxprocs_scope(const maxprocs_scope&) = delete;
    maxprocs_scope& operator=(const maxprocs_scope&) = delete;
    ~maxprocs_scope() { rill::set_maxprocs(prev_); }

private:
    int prev_;
};

// Yields until pred() holds, for runtime state that no event announces (a
// goroutine's exit finishes after the last thing it can signal). The limit
// only turns a bug into a failure instead of a hang; returns pred().
template <class Pred> bool eventually(Pred pred) {
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!pred() && std::chrono::steady_clock::now() < give_up)
        rill::gosched(); // std::this_thread::yield on a plain thread
    return pred();
}

// Polls pred() every 5 ms (sleeping the thread) until it holds, for state
// another process shows (its output, an endpoint's answer). The limit only
// turns a hang into a failure; returns pred().
template <class Pred> bool soon(Pred pred) {
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!pred() && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return pred();
}

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Runs first() and second() at once, each on a plain thread of its own, and
// returns once both have. For the memory-ordering tests: one writes a plain
// (non-atomic) payload before an operation, the other reads it after the
// operation that should come after, so under TSan a missing happens-before
// edge is reported as a data race on the payload. Plain threads, because
// nothing else orders them once started, whereas goroutines sharing a thread
// are ordered by every switch (the runtime tells TSan of switches as
// synchronising). Only the calling thread may make Catch2 assertions: the
// two report what they saw through variables read after this returns.
template <class First, class Second> void on_two_threads(First first, Second second) {
    std::thread a(std::move(first));
    std::thread b(std::move(second));
    a.join();
    b.join();
}

// The send-before-receive check of the memory-ordering tests: on one
// thread, for i in 0..n-1, writes payload[i] and then send(i); on another,
// n times, k = recv() and reads payload[k]. Returns how many payloads read
// wrong (under TSan a missing edge from send to receive is a race first).
template <class Send, class Recv> int payloads_wrong_after_send(int n, Send send, Recv recv) {
    std::vector<int> payload(static_cast<std::size_t>(n));
    int wrong = 0;
    on_two_threads(
        [&] {
            for (int i = 0; i < n; ++i) {
                payload[i] = i + 1;
                send(i);
            }
        },
        [&] {
            for (int i = 0; i < n; ++i) {
                int k = recv();
                if (payload[k] != k + 1) ++wrong;
            }
        });
    return wrong;
}

// Ends the process with a message if it is still alive after `limit`: for
// tests whose failure is a hang (a goroutine starved for ever), so that
// they fail promptly and say why instead of waiting for ctest's timeout.
class watchdog {
public:
    watchdog(std::string what, std::chrono::seconds limit)
        : thread_([this, what = std::move(what), limit] {
              std::unique_lock lk(mu_);
              if (!cv_.wait_for(lk, limit, [this] { return done_; })) {
                  std::cerr << "watchdog: " << what << ": still running after " << limit.count()
                            << " s" << std::endl;
                  std::_Exit(3);
              }
          }) {}
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
    ~watchdog() {
        {
            std::lock_guard lk(mu_);
            done_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

struct child_result {
    int status = 0;     // as waitpid reports it
    std::string output; // stdout and stderr, interleaved as written
    bool exited_with(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
    bool failed() const { return !exited_with(0); }
};

// In a child process: names the calling goroutine in the output, for
// names_goroutine to look for in reports about it.
inline void announce_goroutine() {
    std::cout << "announced: goroutine " << rill::goroutine_id() << std::endl;
}

// Whether one line of a child's output holds every one of `parts` and names
// the goroutine that announced itself, as "goroutine <id>".
inline bool names_goroutine(const child_result& r, std::vector<std::string> parts) {
    const std::string mark = "announced: ";
    auto at = r.output.find(mark);
    if (at == std::string::npos) return false;
    at += mark.size();
    // The trailing space keeps goroutine 1 from matching goroutine 12.
    parts.push_back(r.output.substr(at, r.output.find('\n', at) - at) + " ");
    for (std::size_t line = 0; line < r.output.size();) {
        std::size_t end = std::min(r.output.find('\n', line), r.output.size());
        auto text = std::string_view(r.output).substr(line, end - line);
        if (text.find(mark) == std::string_view::npos &&
            std::all_of(parts.begin(), parts.end(),
                        [&](const std::string& p) { return text.find(p) != text.npos; }))
            return true;
        line = end + 1;
    }
    return false;
}

namespace detail {
inline std::vector<std::string> read_nul_separated(const char* path) {
    std::ifstream f(path, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<std::string> out;
    for (std::size_t at = 0; at < all.size();) {
        std::size_t end = all.find('\0', at);
        if (end == std::string::npos) end = all.size();
        out.push_back(all.substr(at, end - at));
        at = end + 1;
    }
    return out;
}
} // namespace detail

// A program started by start_process, its stdout and stderr both going to
// one memfd that the parent can read while it runs (output_so_far).
struct process {
    pid_t pid = -1;
    int out = -1;
};

// Everything the process has written so far.
inline std::string output_so_far(const process& p) {
    std::string all;
    char buf[4096];
    ssize_t n;
    for (off_t at = 0; (n = pread(p.out, buf, sizeof buf, at)) > 0; at += n)
        all.append(buf, static_cast<std::size_t>(n));
    return all;
}

// As start_process, without Catch2 assertions (only the test's own thread may
// make them): pid is -1 when the process could not be started. With
// die_with_parent the kernel kills the process (SIGKILL) when the thread that
// called this ends, so also when the test process dies of a signal: Linux's
// parent-death signal follows the thread that forked, not the process.
inline process spawn_process(const std::string& exe, std::vector<std::string> args,
                             const std::map<std::string, std::string>& env, bool die_with_parent) {
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
        std::string kv(*e);
        if (!env.count(kv.substr(0, kv.find('=')))) envs.push_back(kv);
    }
    for (const auto& [k, v] : env)
        if (!v.empty()) envs.push_back(k + "=" + v);
    // Built before fork: the child of a multithreaded process may only make
    // async-signal-safe calls until it execs.
    std::vector<char*> argv, envp;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envs)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    process p;
    p.out = memfd_create("rill-test-child", 0);
    if (p.out < 0) return p;
    const pid_t parent = getpid();
    p.pid = fork();
    if (p.pid < 0) {
        close(p.out);
        p.out = -1;
        return p;
    }
    if (p.pid == 0) {
        // The parent's check: it may have died before prctl took effect.
        if (die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent))
            _exit(127);
        dup2(p.out, STDOUT_FILENO);
        dup2(p.out, STDERR_FILENO);
        execve(exe.c_str(), argv.data(), envp.data());
        static const char msg[] = "rill_test::start_process: execve failed\n";
        (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
        _exit(127);
    }
    return p;
}

// Starts exe with args (args[0] is its argv[0]) and this process's
// environment, with `env` added to (or, for an empty value, removed from) it.
inline process start_process(const std::string& exe, std::vector<std::string> args,
                             const std::map<std::string, std::string>& env = {}) {
    auto p = spawn_process(exe, std::move(args), env, false);
    REQUIRE(p.pid >= 0);
    return p;
}

// Waits for the process to end and collects its status and output.
inline child_result wait_process(process p) {
    child_result r;
    while (waitpid(p.pid, &r.status, 0) < 0)
        REQUIRE(errno == EINTR);
    r.output = output_so_far(p);
    close(p.out);
    return r;
}

// Runs the hidden test case `test_name` (tag it [.]) in a new process,
// started the way this one was, with `env` added to (or, for an empty value,
// removed from) the environment. /proc/self/cmdline holds this program's
// arguments, /proc/thread-self/cmdline those the kernel started: under a
// user-mode emulator (qemu-aarch64 -L ... prog args) the emulator and its
// options come first and /proc/thread-self/exe is the emulator, so the child
// runs under it too.
inline child_result run_child(const std::string& test_name,
                              const std::map<std::string, std::string>& env = {}) {
    auto started = detail::read_nul_separated("/proc/thread-self/cmdline");
    auto own = detail::read_nul_separated("/proc/self/cmdline");
    REQUIRE(!own.empty());
    REQUIRE(started.size() >= own.size());
    std::vector<std::string> args(started.begin(),
                                  started.end() - static_cast<std::ptrdiff_t>(own.size() - 1));
    args.push_back(test_name);
    char exe[4096];
    ssize_t n = readlink("/proc/thread-self/exe", exe, sizeof exe - 1);
    REQUIRE(n > 0);
    exe[n] = '\0';
    // Killed with this process: a child that hangs must not outlive a
    // watchdog that ends the test.
    auto p = spawn_process(exe, std::move(args), env, true);
    REQUIRE(p.pid >= 0);
    return wait_process(p);
}

} // namespace rill_test
