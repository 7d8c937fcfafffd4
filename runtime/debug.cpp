// Goroutine dumps and SIGQUIT (mirrors Go's runtime/traceback.go). See
// debug.hpp. The dump reads the goroutines without stopping them: each line
// is a consistent enough snapshot for a person, not for a program.
#include "debug.hpp"

#include "g.hpp"
#include "log.hpp"
#include "sched.hpp"
#include "signals.hpp"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

namespace rill::detail {

namespace {

int quit_fd = -1;

// Dump sections of upper layers. A plain mutex: dumps are rare, and the
// sections run outside any goroutine's hot path.
struct sections_t {
    std::mutex mu;
    std::uint64_t next = 1;
    std::map<std::uint64_t, std::function<void(std::ostream&)>> fns;
};
sections_t& sections() {
    static auto* s = new sections_t; // outlives static destruction: dumps may come late
    return *s;
}
std::atomic<unsigned long> dumps_written{0};

void on_sigquit(int) {
    int saved = errno;
    std::uint64_t one = 1;
    (void)!write(quit_fd, &one, sizeof one);
    errno = saved;
}

} // namespace

void debug_init() {
    quit_fd = eventfd(0, EFD_CLOEXEC);
    if (quit_fd < 0) {
        runtime_log().warn("rill: no SIGQUIT goroutine dump (eventfd: {})", std::strerror(errno));
        return;
    }
    bool started = start_thread(
        [](void*) -> void* {
            // SIGQUIT wakes this thread through quit_fd; SIGURG is for the Ms.
            signals_thread_start(thread_kind::helper);
            for (;;) {
                std::uint64_t v;
                if (read(quit_fd, &v, sizeof v) != sizeof v) continue;
                std::ostringstream out;
                rill::dump_goroutines(out);
                std::string s = out.str();
                (void)!write(STDERR_FILENO, s.data(), s.size());
                dumps_written.fetch_add(1);
            }
        },
        nullptr, "the SIGQUIT goroutine-dump thread", false);
    if (!started) return;
    struct sigaction sa {};
    sa.sa_handler = on_sigquit;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, nullptr);
}

unsigned long quit_dumps_written() noexcept { return dumps_written.load(); }

} // namespace rill::detail

namespace rill {

void dump_goroutines(std::ostream& out) {
    using namespace detail;
    std::vector<G*> gs;
    sched.allglock.lock();
    gs = sched.allgs;
    sched.allglock.unlock();
    std::int64_t now = coarse_nanotime();
    auto st = stats();
    out << "rill: " << st.goroutines_live << " goroutines, " << st.processors << " processors, "
        << st.threads << " threads\n";
    for (G* g : gs) {
        gstatus s = g->status.load(std::memory_order_acquire);
        if (s == gstatus::idle || s == gstatus::dead) continue;
        out << "goroutine " << g->id;
        if (!g->name.empty()) out << " \"" << g->name << '"';
        out << " [";
        wait_reason why = g->reason.load(std::memory_order_relaxed);
        std::int64_t waited_ms = (now - g->wait_since.load(std::memory_order_relaxed)) / 1'000'000;
        if (s == gstatus::running && why == wait_reason::blocking_call) {
            out << "blocking call, " << waited_ms << " ms";
        } else {
            out << to_string(s);
            if (s == gstatus::waiting) out << ", " << to_string(why) << ", " << waited_ms << " ms";
        }
        if (g->lockedm.load(std::memory_order_relaxed)) out << ", locked to thread";
        out << "]\n";
    }
    std::lock_guard lk(sections().mu);
    for (auto& [handle, f] : sections().fns)
        f(out);
}

std::uint64_t add_dump_section(std::function<void(std::ostream&)> f) {
    std::lock_guard lk(detail::sections().mu);
    std::uint64_t id = detail::sections().next++;
    detail::sections().fns.emplace(id, std::move(f));
    return id;
}

void remove_dump_section(std::uint64_t handle) {
    std::lock_guard lk(detail::sections().mu);
    detail::sections().fns.erase(handle);
}

} // namespace rill
