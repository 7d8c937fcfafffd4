// A supervised long-running service: a client sends requests ("add 2 3")
// over a channel, two handlers answer them, and a stats worker counts the
// answers. A handler panics on bad input (it throws); its supervisor restarts
// it and the service goes on. The tree, printed at the end with its restart
// counts, is what SIGQUIT would print too:
//
//   root (one_for_one)
//   ├── stats            worker: prints the answers so far every 500 ms
//   └── handlers         supervisor (one_for_one, 10 restarts in 1 s)
//       ├── handler-1    worker: parses and answers requests
//       └── handler-2
//
// docs/supervisors.md ("The service example") walks through it. It ends by itself
// after about three seconds.
//
//   ./service        prints requests, answers, panics and restarts as they happen
#include <rill/csp.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/supervisor.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace {

std::mutex out_mu; // handlers, stats and hooks print from several goroutines
template <class... T> void say(const T&... parts) {
    std::lock_guard lk(out_mu);
    ((std::cout << parts), ...) << std::endl;
}

// "add A B" -> A + B; anything else is bad input, and the handler panics.
long answer(const std::string& request) {
    std::istringstream in(request);
    std::string op;
    long a = 0, b = 0;
    if (!(in >> op >> a >> b) || op != "add")
        throw std::invalid_argument("bad input '" + request + "'");
    return a + b;
}

// A handler: answers requests until its context is cancelled. No try/catch:
// a bad request's exception ends the handler, and its supervisor restarts it.
rill::child_spec handler(std::string id, rill::receiver<std::string> requests,
                         rill::sender<long> answers) {
    return {.id = id, .start = [id, requests, answers](const rill::context& ctx) mutable {
                say("  ", id, " up");
                for (;;) {
                    std::optional<std::string> req;
                    bool stop = false;
                    rill::select(rill::on_recv(requests, [&](auto r) { req = std::move(r); }),
                                 rill::on_recv(ctx.done(), [&](auto) { stop = true; }));
                    if (stop || !req) return; // cancelled, or no more requests
                    long a = answer(*req);
                    say("  ", id, ": ", *req, " = ", a);
                    answers.send(a);
                }
            }};
}

// Counts the answers and prints the count every 500 ms.
rill::child_spec stats(rill::receiver<long> answers) {
    return {.id = "stats", .start = [answers](const rill::context& ctx) {
                long count = 0, total = 0;
                auto every = rill::tick(500ms);
                for (bool stop = false; !stop;)
                    rill::select(rill::on_recv(answers,
                                               [&](std::optional<long> a) {
                                                   if (a) ++count, total += *a;
                                               }),
                                 rill::on_recv(
                                     every.c(),
                                     [&](auto) { say("stats: ", count, " answers, sum ", total); }),
                                 rill::on_recv(ctx.done(), [&](auto) { stop = true; }));
                say("stats: final ", count, " answers, sum ", total);
            }};
}

// Prints what the supervisors do (they also log it through spdlog).
void on_event(const rill::supervisor_event& e) {
    switch (e.kind) {
    case rill::event_kind::exited:
        if (e.reason == rill::exit_reason::abnormal)
            say("! ", e.supervisor, ": ", e.child, " panicked: ", e.what);
        break;
    case rill::event_kind::restarted:
        say("! ", e.supervisor, ": ", e.child, " restarted (", e.restarts + 1, " so far)");
        break;
    case rill::event_kind::intensity_exceeded:
        say("! ", e.supervisor, ": too many restarts, giving up");
        break;
    default:
        break;
    }
}

} // namespace

int main() {
    // The event hook prints what matters here; keep the supervisors' own log
    // (a logger registered under this name before any supervisor is theirs) quiet.
    spdlog::stderr_color_mt("rill.supervisor")->set_level(spdlog::level::err);
    rill::run([] {
        rill::chan<std::string> requests(0);
        rill::chan<long> answers(16);

        rill::supervisor_options handler_opts{
            .name = "handlers", .intensity = 10, .period = 1s, .on_event = on_event};
        rill::supervisor root(
            {.name = "root", .intensity = 3, .period = 5s, .on_event = on_event},
            {stats(answers.rx()),
             rill::supervisor_child("handlers", handler_opts,
                                    {handler("handler-1", requests.rx(), answers.tx()),
                                     handler("handler-2", requests.rx(), answers.tx())})});
        root.start();
        say("service up:\n", rill::supervision_tree());

        // The client: a request every 50 ms for about 2.5 s, one in five bad.
        const std::array<const char*, 5> script{"add 1 2", "add 40 2", "hello?", "add -5 5",
                                                "add 7 x"};
        auto every = rill::tick(50ms);
        for (int i = 0; i < 50; ++i) {
            (void)every.c().recv();
            std::string req = script[static_cast<std::size_t>(i) % script.size()];
            requests.send(req);
        }

        say("\nthe tree before stopping:\n", rill::supervision_tree());
        root.stop();
        say("service stopped: ", rill::to_string(root.wait()));
    });
}
