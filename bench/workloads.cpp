// The rill side of the rill-versus-Go benchmark suite; bench/go/main.go does
// the same work in Go, and bench/run.sh runs both and compares them.
//
// Usage: bench_workloads WORKLOAD N. Runs one workload of size N inside
// rill::run and prints one line "WORKLOAD value unit" (lower is better for
// every workload). Each workload verifies its own result (checksums, counts);
// a failed check is reported on stderr with exit status 1. Only the workload
// is timed, not the runtime's start-up, and every workload joins the
// goroutines it started before it returns.
#include <rill/chan.hpp>
#include <rill/csp.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/supervisor.hpp>
#include <rill/sync.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using i64 = std::int64_t;
using steady = std::chrono::steady_clock;

struct result {
    double value;
    const char* unit;
};

void check_eq(i64 got, i64 want, const char* what) {
    if (got != want)
        throw std::runtime_error(std::string(what) + ": got " + std::to_string(got) + ", want " +
                                 std::to_string(want));
}

double ns_since(steady::time_point t0) {
    return std::chrono::duration<double, std::nano>(steady::now() - t0).count();
}

// Sum of 0 .. n-1: what every checksum-verified workload must arrive at.
i64 triangle(i64 n) { return n * (n - 1) / 2; }

// Spawns f as a goroutine counted by wg, so that the workload can join it.
template <class F> void go_counted(rill::wait_group& wg, F f) {
    wg.add(1);
    rill::go([&wg, f = std::move(f)]() mutable {
        f();
        wg.done();
    });
}

// splitmix64, also written out in bench/go/main.go, so that both sides draw
// the same sleep durations from the same seed.
struct splitmix64 {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
};

void skynet_node(rill::sender<i64> out, i64 num, i64 size) {
    if (size == 1) {
        out.send(num);
        return;
    }
    rill::chan<i64> rc(0);
    i64 sub = size / 10;
    for (i64 i = 0; i < 10; ++i)
        rill::go([tx = rc.tx(), num = num + i * sub, sub] { skynet_node(tx, num, sub); });
    i64 sum = 0;
    for (int i = 0; i < 10; ++i)
        sum += *rc.recv();
    out.send(sum);
}

// A 10-ary tree of goroutines with n leaves (a power of ten); each node sums
// its children's numbers received over an unbuffered channel.
result skynet(i64 n) {
    i64 leaves = 1;
    while (leaves < n)
        leaves *= 10;
    check_eq(n, leaves, "skynet size must be a power of 10");
    auto t0 = steady::now();
    rill::chan<i64> c(0);
    rill::go([tx = c.tx(), n] { skynet_node(tx, 0, n); });
    i64 total = *c.recv();
    double ns = ns_since(t0);
    check_eq(total, triangle(n), "skynet total");
    return {ns / 1e6, "ms"};
}

result spawn(i64 n) {
    auto t0 = steady::now();
    rill::wait_group wg;
    wg.add(n);
    for (i64 i = 0; i < n; ++i)
        rill::go([&wg] { wg.done(); });
    wg.wait();
    return {ns_since(t0) / 1e6, "ms"};
}

result pingpong(i64 n) {
    rill::chan<i64> ping(0), pong(0);
    rill::wait_group wg;
    go_counted(wg, [rx = ping.rx(), tx = pong.tx()]() mutable {
        for (i64 v : rx)
            tx.send(v);
    });
    auto t0 = steady::now();
    i64 sum = 0;
    for (i64 i = 0; i < n; ++i) {
        ping.send(i);
        sum += *pong.recv();
    }
    double ns = ns_since(t0);
    ping.close();
    wg.wait();
    check_eq(sum, triangle(n), "pingpong checksum");
    return {ns / static_cast<double>(n), "ns/roundtrip"};
}

// producers goroutines send 0 .. n-1 between them into one channel of
// capacity 1024, consumers goroutines drain it; ns per item.
result producers_consumers(i64 n, int producers, int consumers) {
    rill::chan<i64> c(1024);
    rill::wait_group sent, drained;
    std::atomic<i64> sum{0};
    auto t0 = steady::now();
    for (int p = 0; p < producers; ++p)
        go_counted(sent, [tx = c.tx(), p, producers, n]() mutable {
            for (i64 v = p; v < n; v += producers)
                tx.send(v);
        });
    for (int q = 0; q < consumers; ++q)
        go_counted(drained, [rx = c.rx(), &sum] {
            i64 local = 0;
            for (i64 v : rx)
                local += v;
            sum += local;
        });
    sent.wait();
    c.close();
    drained.wait();
    double ns = ns_since(t0);
    check_eq(sum.load(), triangle(n), "channel checksum");
    return {ns / static_cast<double>(n), "ns/item"};
}

result spsc(i64 n) { return producers_consumers(n, 1, 1); }
result mpmc(i64 n) { return producers_consumers(n, 4, 4); }

// Two producers feed two buffered channels; one consumer selects over both,
// dropping each channel (making it nil) once it is closed, as Go code does.
result select2(i64 n) {
    rill::chan<i64> a(1024), b(1024);
    rill::wait_group wg;
    auto t0 = steady::now();
    go_counted(wg, [tx = a.tx(), n]() mutable {
        for (i64 v = 0; v < n; v += 2)
            tx.send(v);
        tx.close();
    });
    go_counted(wg, [tx = b.tx(), n]() mutable {
        for (i64 v = 1; v < n; v += 2)
            tx.send(v);
        tx.close();
    });
    i64 sum = 0;
    auto take = [&sum](rill::chan<i64>& c) {
        return [&sum, &c](std::optional<i64> v) {
            if (v)
                sum += *v;
            else
                c = rill::chan<i64>();
        };
    };
    while (!a.is_nil() || !b.is_nil())
        rill::select(rill::on_recv(a, take(a)), rill::on_recv(b, take(b)));
    double ns = ns_since(t0);
    wg.wait();
    check_eq(sum, triangle(n), "select checksum");
    return {ns / static_cast<double>(n), "ns/item"};
}

// The classic thread-ring: 503 goroutines in a ring of unbuffered channels
// pass a token that counts down; whoever receives 0 reports its number.
result ring(i64 hops) {
    constexpr int size = 503;
    std::vector<rill::chan<i64>> links;
    for (int i = 0; i < size; ++i)
        links.emplace_back(0);
    rill::chan<i64> winner(0);
    rill::wait_group wg;
    for (int i = 0; i < size; ++i)
        go_counted(wg, [in = links[i].rx(), out = links[(i + 1) % size].tx(), done = winner.tx(),
                        id = i + 1]() mutable {
            for (i64 token : in) {
                if (token == 0)
                    done.send(id);
                else
                    out.send(token - 1);
            }
        });
    auto t0 = steady::now();
    links[0].send(hops);
    i64 id = *winner.recv();
    double ns = ns_since(t0);
    for (auto& link : links)
        link.close();
    wg.wait();
    check_eq(id, hops % size + 1, "ring winner");
    return {ns / static_cast<double>(hops), "ns/hop"};
}

// 8 goroutines each increment a shared counter m times under one mutex.
result mutex(i64 m) {
    constexpr int workers = 8;
    rill::mutex mu;
    i64 counter = 0;
    rill::wait_group wg;
    auto t0 = steady::now();
    for (int w = 0; w < workers; ++w)
        go_counted(wg, [&mu, &counter, m] {
            for (i64 i = 0; i < m; ++i) {
                std::lock_guard<rill::mutex> g(mu);
                ++counter;
            }
        });
    wg.wait();
    double ns = ns_since(t0);
    check_eq(counter, workers * m, "mutex counter");
    return {ns / static_cast<double>(workers * m), "ns/lock"};
}

i64 resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    i64 size = 0, resident = 0;
    if (!(statm >> size >> resident)) throw std::runtime_error("cannot read /proc/self/statm");
    return resident * sysconf(_SC_PAGESIZE);
}

// Starts n goroutines that each park on a channel receive, calls
// while_parked() once every one has started (and so owns its stack), then
// releases and joins them.
template <class F> void parked_burst(i64 n, F while_parked) {
    rill::chan<int> release(0);
    rill::wait_group started, exited;
    started.add(n);
    for (i64 i = 0; i < n; ++i)
        go_counted(exited, [&started, &release] {
            started.done();
            release.recv();
        });
    started.wait();
    while_parked();
    release.close();
    exited.wait();
}

// Resident memory per goroutine parked on a channel receive.
result rss(i64 n) {
    i64 before = resident_bytes(), after = 0;
    parked_burst(n, [&] { after = resident_bytes(); });
    return {static_cast<double>(after - before) / 1024.0 / static_cast<double>(n), "KiB/goroutine"};
}

// Resident memory (MiB, above the level before) that a burst of n parked
// goroutines still holds once they have all been joined: right after the
// join, or after a second of quiet (the main goroutine sleeping, nothing
// else running), by when a runtime that gives memory back should have.
result burst(i64 n, bool quiet) {
    i64 before = resident_bytes();
    parked_burst(n, [] {});
    if (quiet) rill::sleep(std::chrono::seconds(1));
    return {static_cast<double>(resident_bytes() - before) / (1024.0 * 1024.0), "MiB"};
}

result joined(i64 n) { return burst(n, false); }

// Time (ms) until n new goroutines have all started and parked on a channel
// receive, in a fresh process: mostly the first touch of fresh stacks.
result parked(i64 n) {
    auto t0 = steady::now();
    double ns = 0;
    parked_burst(n, [&] { ns = ns_since(t0); });
    return {ns / 1e6, "ms"};
}
result quiet(i64 n) { return burst(n, true); }

// n goroutines each sleep 0-99 ms; the worst lateness (wake - intended) in ms.
result timers(i64 n) {
    std::vector<i64> late_ns(static_cast<std::size_t>(n));
    splitmix64 rng{42};
    rill::wait_group wg;
    for (auto& late : late_ns) {
        std::chrono::nanoseconds d = std::chrono::milliseconds(rng.next() % 100);
        go_counted(wg, [&late, d] {
            auto t0 = steady::now();
            rill::sleep(d);
            late = (steady::now() - t0 - d).count();
        });
    }
    wg.wait();
    auto [earliest, worst] = std::minmax_element(late_ns.begin(), late_ns.end());
    if (*earliest < 0) throw std::runtime_error("a sleep ended early");
    return {static_cast<double>(*worst) / 1e6, "ms"};
}

// One goroutine per processor spins in a call-free loop while another wakes
// every 1 ms for n ticks: the worst lateness of a tick in ms. Only
// preemption gives the ticker a processor.
result preempt(i64 n) {
    std::atomic<bool> stop{false};
    rill::wait_group spinners;
    for (int i = 0; i < rill::maxprocs(); ++i)
        go_counted(spinners, [&stop] {
            while (!stop.load(std::memory_order_relaxed)) {
            }
        });
    i64 worst = 0;
    rill::chan<int> done(1);
    rill::go([&] {
        auto start = steady::now();
        for (i64 k = 1; k <= n; ++k) {
            auto due = start + std::chrono::milliseconds(k);
            rill::sleep_until(due);
            worst = std::max<i64>(worst, (steady::now() - due).count());
        }
        done.send(1);
    });
    done.recv();
    stop = true;
    spinners.wait();
    return {static_cast<double>(worst) / 1e6, "ms"};
}

// The compute half of blockcall: a xorshift64 walk of n steps from seed.
std::uint64_t xorshift_walk(std::uint64_t seed, i64 n) {
    std::uint64_t x = seed, sum = 0;
    for (i64 i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sum += x;
    }
    return sum;
}

// Four goroutines make 50 us blocking calls (nanosleep) back to back while
// one goroutine per processor computes n xorshift steps: the compute time in
// ms. A blocked thread that kept its processor would stall the computation.
result blockcall(i64 n) {
    std::atomic<bool> stop{false};
    rill::wait_group blockers, workers;
    for (int i = 0; i < 4; ++i)
        go_counted(blockers, [&stop] {
            while (!stop.load(std::memory_order_relaxed))
                rill::blocking([] {
                    timespec ts{0, 50'000};
                    nanosleep(&ts, nullptr);
                });
        });
    int procs = rill::maxprocs();
    std::vector<std::uint64_t> sums(static_cast<std::size_t>(procs));
    auto t0 = steady::now();
    for (int i = 0; i < procs; ++i)
        go_counted(workers, [&sums, i, n] { sums[i] = xorshift_walk(i + 1, n); });
    workers.wait();
    double ns = ns_since(t0);
    stop = true;
    blockers.wait();
    for (int i = 0; i < procs; ++i)
        check_eq(static_cast<i64>(sums[i]), static_cast<i64>(xorshift_walk(i + 1, n)),
                 "blockcall checksum");
    return {ns / 1e6, "ms"};
}

// --- CSP layer: pipelines over rill::pipe, every stage channel of capacity
// csp_buffer (the Go side uses the same capacity).
constexpr std::size_t csp_buffer = 128;

// A source and three map stages, then a consumer summing: 2 * (0 + .. + n-1).
result pipeline3(i64 n) {
    using namespace rill::pipe;
    auto t0 = steady::now();
    rill::pipeline p({}, {.buffer = csp_buffer});
    auto out = iota(p, i64{0}, n) | map([](i64 x) { return x + 1; }) |
               map([](i64 x) { return x * 2; }) | map([](i64 x) { return x - 2; });
    i64 sum = 0;
    for (i64 v : out)
        sum += v;
    if (auto e = p.wait()) std::rethrow_exception(e);
    double ns = ns_since(t0);
    check_eq(sum, 2 * triangle(n), "pipeline3 checksum");
    return {ns / 1e6, "ms"};
}

// 8 producers, each a source of n/8 numbers, merged by fan_in into one consumer.
result fanin8(i64 n) {
    using namespace rill::pipe;
    constexpr int producers = 8;
    auto t0 = steady::now();
    rill::pipeline p({}, {.buffer = csp_buffer});
    std::vector<rill::stream<i64>> sources;
    for (int k = 0; k < producers; ++k)
        sources.push_back(generate(p, [v = i64{k}, n]() mutable -> std::optional<i64> {
            if (v >= n) return std::nullopt;
            i64 out = v;
            v += producers;
            return out;
        }));
    i64 sum = 0;
    for (i64 v : fan_in(std::move(sources)))
        sum += v;
    if (auto e = p.wait()) std::rethrow_exception(e);
    double ns = ns_since(t0);
    check_eq(sum, triangle(n), "fanin8 checksum");
    return {ns / 1e6, "ms"};
}

// splitmix64's finaliser: the per-item work of pmap8, also in bench/go/main.go.
std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// An ordered parallel map with 8 workers; the consumer checks every item
// arrives in input order.
result pmap8(i64 n) {
    using namespace rill::pipe;
    auto t0 = steady::now();
    rill::pipeline p({}, {.buffer = csp_buffer});
    auto out = iota(p, i64{0}, n) |
               parallel_map(8, [](i64 x) { return mix(static_cast<std::uint64_t>(x)); });
    i64 i = 0, misplaced = 0;
    for (std::uint64_t v : out)
        misplaced += v != mix(static_cast<std::uint64_t>(i++));
    if (auto e = p.wait()) std::rethrow_exception(e);
    double ns = ns_since(t0);
    check_eq(i, n, "pmap8 count");
    check_eq(misplaced, 0, "pmap8 items out of order");
    return {ns / 1e6, "ms"};
}

// --- Supervisors: a one_for_one supervisor (rill::supervisor) restarting
// permanent children that panic; the Go side is a minimal supervisor written
// the Go way (bench/go/supervisor.go).

rill::supervisor_options bench_sup_options(i64 restarts) {
    rill::supervisor_options o;
    o.name = "bench";
    o.intensity = static_cast<int>(restarts + 1);
    o.period = std::chrono::hours(1);
    return o;
}

// One child panics n times: the median time in us from the panic to the
// restarted child running.
result restart(i64 n) {
    rill::chan<steady::time_point> running(1);
    rill::chan<int> kick(0);
    std::atomic<i64> panicked_at{0}; // steady ticks, set just before each throw
    rill::child_spec child{.id = "child", .start = [&](const rill::context& ctx) {
                               running.send(steady::now());
                               std::optional<int> k;
                               rill::select(
                                   rill::on_recv(kick, [&](std::optional<int> v) { k = v; }),
                                   rill::on_recv(ctx.done(), [](auto) {}));
                               if (!k) return;
                               panicked_at = steady::now().time_since_epoch().count();
                               throw std::runtime_error("restart me");
                           }};
    rill::supervisor sup(bench_sup_options(n), {child});
    sup.start();
    std::vector<double> us;
    us.reserve(static_cast<std::size_t>(n));
    (void)running.recv();
    for (i64 i = 0; i < n; ++i) {
        kick.send(1);
        auto t = running.recv();
        us.push_back(static_cast<double>(t->time_since_epoch().count() - panicked_at.load()) / 1e3);
    }
    sup.stop();
    check_eq(sup.which_children().at(0).restarts, n, "restart count");
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], "us"};
}

// The floor under restart and storm: a child's panic is a C++ exception,
// thrown from a start function called through std::function (as a child's
// is) and caught a frame above; Go's is panic() and a deferred recover().
// The time in ns per panic, of n.
result panic_cost(i64 n) {
    std::function<void(i64)> child = [](i64 i) {
        if (i >= 0) throw std::runtime_error("storm");
    };
    i64 caught = 0;
    auto t0 = steady::now();
    for (i64 i = 0; i < n; ++i) {
        try {
            child(i);
        } catch (const std::exception&) {
            ++caught;
        }
    }
    double ns = ns_since(t0);
    check_eq(caught, n, "panics recovered");
    return {ns / static_cast<double>(n), "ns"};
}

// n children panic at once: the time in ms from the signal to every one of
// them running again.
result storm(i64 n) {
    rill::chan<int> fail(0);
    std::atomic<bool> storming{false};
    std::atomic<i64> ready{0}, back{0};
    rill::chan<int> all_back(0);
    std::vector<rill::child_spec> children;
    for (i64 i = 0; i < n; ++i)
        children.push_back(
            {.id = "c" + std::to_string(i), .start = [&, n](const rill::context& ctx) {
                 if (!storming) {
                     ++ready;
                     (void)fail.recv();
                     throw std::runtime_error("storm");
                 }
                 if (++back == n) all_back.close();
                 (void)ctx.done().recv();
             }});
    rill::supervisor sup(bench_sup_options(n), std::move(children));
    sup.start();
    while (ready.load() < n)
        rill::gosched();
    storming = true;
    auto t0 = steady::now();
    fail.close();
    (void)all_back.recv();
    double ns = ns_since(t0);
    sup.stop();
    i64 restarts = 0;
    for (auto& c : sup.which_children())
        restarts += c.restarts;
    check_eq(restarts, n, "storm restarts");
    return {ns / 1e6, "ms"};
}

// Child administration: n children added one by one with start_child to a
// supervisor that has none, then each terminated and deleted, in start
// order; the time per child (start + terminate + delete) in us. Linear
// administration keeps it flat from 1,000 to 100,000 children.
result children(i64 n) {
    rill::supervisor sup(bench_sup_options(0), {});
    sup.start();
    auto t0 = steady::now();
    for (i64 i = 0; i < n; ++i)
        sup.start_child({.id = "c" + std::to_string(i),
                         .start = [](const rill::context& ctx) { (void)ctx.done().recv(); }});
    check_eq(static_cast<i64>(sup.count_children().active), n, "children running");
    for (i64 i = 0; i < n; ++i) {
        auto id = "c" + std::to_string(i);
        sup.terminate_child(id);
        sup.delete_child(id);
    }
    double ns = ns_since(t0);
    check_eq(static_cast<i64>(sup.count_children().specs), 0, "children left");
    sup.stop();
    return {ns / 1e3 / static_cast<double>(n), "us"};
}

struct workload {
    std::string_view name;
    result (*fn)(i64);
};

constexpr workload workloads[] = {
    {"skynet", skynet},   {"spawn", spawn},         {"pingpong", pingpong},
    {"spsc", spsc},       {"mpmc", mpmc},           {"select", select2},
    {"ring", ring},       {"mutex", mutex},         {"rss", rss},
    {"joined", joined},   {"quiet", quiet},         {"timers", timers},
    {"preempt", preempt}, {"blockcall", blockcall}, {"pipeline3", pipeline3},
    {"fanin8", fanin8},   {"pmap8", pmap8},         {"restart", restart},
    {"storm", storm},     {"children", children},   {"panic", panic_cost},
    {"parked", parked},
};

int usage() {
    std::fprintf(stderr, "usage: bench_workloads WORKLOAD N\nworkloads:");
    for (const auto& w : workloads)
        std::fprintf(stderr, " %.*s", static_cast<int>(w.name.size()), w.name.data());
    std::fprintf(stderr, "\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) return usage();
    std::string_view name = argv[1], arg = argv[2];
    auto w = std::find_if(std::begin(workloads), std::end(workloads),
                          [name](const workload& w) { return w.name == name; });
    i64 n = 0;
    auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), n);
    if (w == std::end(workloads) || ec != std::errc() || end != arg.data() + arg.size() || n <= 0)
        return usage();
    // Supervisors log every restart; the Go side logs nothing either.
    spdlog::stderr_color_mt("rill.supervisor")->set_level(spdlog::level::off);
    try {
        result r = rill::run([w, n] { return w->fn(n); });
        std::printf("%s %.3f %s\n", argv[1], r.value, r.unit);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", argv[1], e.what());
        return 1;
    }
}
