// Sockets on the netpoller (<rill/net.hpp>; Go's net package, tested in Go by
// net/tcpsock_test.go, net/timeout_test.go and friends): echo round trips,
// thousands of concurrent connections, deadlines, resets and half-closes,
// close waking a parked operation, UDP, Unix-domain sockets, waiting on a
// user's fd, and name resolution over loopback.
#include "poll_desc.hpp"
#include "test_util.hpp"

#include <rill/chan.hpp>
#include <rill/net.hpp>
#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;
namespace net = rill::net;
using rill_test::by_build;
using rill_test::eventually;
using steady = std::chrono::steady_clock;

namespace {

std::span<const std::byte> bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

std::span<std::byte> bytes(std::string& s) { return std::as_writable_bytes(std::span(s)); }

// Echoes everything read on s until the peer closes its side.
void echo(net::stream& s) {
    std::byte buf[4096];
    std::error_code ec;
    while (std::size_t n = s.read(buf, ec)) {
        s.write_all(std::span(buf, n), ec);
        if (ec) break;
    }
}

// Accepts n connections on l, echoing each on a goroutine of its own;
// returns once every one of them has ended.
void serve_echo(net::tcp_listener& l, int n) {
    rill::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i) {
        auto s = l.accept();
        rill::go([s = std::move(s), &wg]() mutable {
            echo(s);
            wg.done();
        });
    }
    wg.wait();
}

// Runs f on a goroutine; the channel returned yields once f has returned.
// Tests join their servers so that none is left parked on I/O for the next
// test's parked_on_io to count.
template <class F> rill::chan<int> spawn(F f) {
    rill::chan<int> done(1);
    rill::go([f = std::move(f), done]() mutable {
        f();
        done.send(1);
    });
    return done;
}

net::tcp_listener loopback_listener() { return net::tcp_listener::bind("127.0.0.1:0"); }

std::string addr_of(const net::socket& l) { return l.local_address().to_string(); }

// A connected pair of TCP streams over loopback.
std::pair<net::tcp_stream, net::tcp_stream> tcp_pair() {
    auto l = loopback_listener();
    auto client = net::tcp_stream::connect(addr_of(l));
    auto server = l.accept();
    return {std::move(client), std::move(server)};
}

// Raises the soft limit on open files to the hard one: each connection
// costs two fds here.
void raise_fd_limit() {
    rlimit r{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &r) == 0);
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
}

// Waits until at least n goroutines are parked on I/O.
bool parked_on_io(int n) {
    return eventually([n] { return rill::detail::netpoll_waiters() >= n; });
}

// Starts a goroutine that reads from s and sends the read's error on the
// channel returned; returns once `parked` goroutines wait for I/O.
rill::chan<std::error_code> parked_read(net::stream& s, int parked = 1) {
    rill::chan<std::error_code> result(1);
    rill::go([&s, result]() mutable {
        std::byte buf[16];
        std::error_code ec;
        s.read(buf, ec);
        result.send(ec);
    });
    REQUIRE(parked_on_io(parked));
    return result;
}

} // namespace

TEST_CASE("tcp: echo round trips, addresses") {
    rill::run([] {
        auto l = loopback_listener();
        auto local = l.local_address();
        CHECK(local.family() == AF_INET);
        CHECK(local.port() != 0);
        auto server = spawn([&l] { serve_echo(l, 1); });
        auto c = net::tcp_stream::connect(local.to_string());
        CHECK(c.peer_address() == local);
        CHECK(c.local_address().port() != local.port());
        for (int i = 0; i < 100; ++i) {
            std::string msg = "message " + std::to_string(i);
            CHECK(c.write_all(msg) == msg.size());
            std::string back(msg.size(), '\0');
            CHECK(c.read_exact(bytes(back)) == msg.size());
            CHECK(back == msg);
        }
        // A big write that cannot fit the socket buffers at once.
        std::string big(4 << 20, 'x');
        for (std::size_t i = 0; i < big.size(); ++i)
            big[i] = static_cast<char>('a' + i % 26);
        std::string back(big.size(), '\0');
        auto writer = spawn([&c, &big] { c.write_all(big); });
        c.read_exact(bytes(back));
        writer.recv(); // the writer may still look at big after the last byte arrived
        CHECK(back == big);
        c.shutdown(SHUT_WR);
        std::byte b[1];
        CHECK(c.read(b) == 0); // the server saw EOF and closed
        server.recv();
    });
}

TEST_CASE("tcp: thousands of concurrent connections") {
    raise_fd_limit();
    // Two goroutines a connection; TSan supports a few thousand.
    const int conns = by_build(2000, 1000, 500);
    const int rounds = 5;
    rill::run([&] {
        auto l = loopback_listener();
        std::string where = addr_of(l);
        auto server = spawn([&l, conns] { serve_echo(l, conns); });
        std::atomic<int> ok{0};
        rill::wait_group wg;
        wg.add(conns);
        for (int i = 0; i < conns; ++i) {
            rill::go([&, i] {
                auto c = net::tcp_stream::connect(where);
                bool good = true;
                for (int r = 0; r < rounds; ++r) {
                    std::string msg(64, static_cast<char>('A' + (i + r) % 26));
                    c.write_all(msg);
                    std::string back(64, '\0');
                    c.read_exact(bytes(back));
                    good &= back == msg;
                }
                ok += good;
                wg.done();
            });
        }
        wg.wait();
        CHECK(ok == conns);
        server.recv();
    });
}

TEST_CASE("tcp: a read deadline times out and the socket stays usable") {
    rill::run([] {
        auto [c, s] = tcp_pair();
        c.set_read_deadline(steady::now() + 20ms);
        std::byte buf[16];
        std::error_code ec;
        CHECK(c.read(buf, ec) == 0);
        CHECK(ec == std::errc::timed_out);
        // Still timed out while the deadline stays in the past, data or not.
        s.write_all("hello");
        CHECK(c.read(buf, ec) == 0);
        CHECK(ec == std::errc::timed_out);
        c.set_read_deadline(net::no_deadline);
        std::string got(5, '\0');
        c.read_exact(bytes(got));
        CHECK(got == "hello");
        // The throwing form says what timed out.
        c.set_read_deadline(steady::now());
        try {
            c.read(buf);
            FAIL("no timeout");
        } catch (const std::system_error& e) {
            CHECK(e.code() == std::errc::timed_out);
            CHECK_THAT(e.what(), Catch::Contains("read 127.0.0.1:"));
        }
    });
}

TEST_CASE("tcp: moving a deadline wakes a parked reader") {
    rill::run([] {
        auto [c, s] = tcp_pair();
        auto result = parked_read(c);
        c.set_read_deadline(steady::now() - 1s);
        CHECK(*result.recv() == std::errc::timed_out);
    });
}

TEST_CASE("tcp: a write deadline times out when the peer does not read") {
    rill::run([] {
        auto [c, s] = tcp_pair();
        c.set_write_deadline(steady::now() + 50ms);
        std::string chunk(64 << 10, 'x');
        std::error_code ec;
        std::size_t total = 0;
        while (!ec)
            total += c.write_all(chunk, ec);
        CHECK(ec == std::errc::timed_out);
        CHECK(total > 0);
        // Reading on the peer side is not affected by the writer's deadline.
        std::byte buf[1024];
        CHECK(s.read(buf) > 0);
    });
}

TEST_CASE("tcp: a reset peer gives connection_reset, not a hang") {
    rill::run([] {
        auto reset = [](net::tcp_stream& s) {
            linger lg{1, 0}; // close sends RST
            REQUIRE(setsockopt(s.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
            s.close();
        };
        SECTION("a parked reader") {
            auto [c, s] = tcp_pair();
            auto result = parked_read(c);
            reset(s);
            CHECK(*result.recv() == std::errc::connection_reset);
        }
        SECTION("a writer") {
            auto [c, s] = tcp_pair();
            reset(s);
            std::string chunk(64 << 10, 'x');
            std::error_code ec;
            for (int i = 0; i < 1000 && !ec; ++i)
                c.write_all(chunk, ec);
            CHECK((ec == std::errc::connection_reset || ec == std::errc::broken_pipe));
        }
    });
}

TEST_CASE("tcp: half-close: the reader sees EOF, the other direction still works") {
    rill::run([] {
        auto [c, s] = tcp_pair();
        c.write_all("ping");
        c.shutdown(SHUT_WR);
        std::string got(4, '\0');
        s.read_exact(bytes(got));
        CHECK(got == "ping");
        std::byte buf[8];
        CHECK(s.read(buf) == 0);
        std::error_code ec;
        CHECK(s.read_exact(buf, ec) == 0);
        CHECK(ec == net::net_errc::eof);
        s.write_all("pong");
        s.close();
        std::string back(8, '\0');
        CHECK(c.read_exact(bytes(back), ec) == 4);
        CHECK(ec == net::net_errc::eof);
        CHECK(back.substr(0, 4) == "pong");
    });
}

namespace {

// Rounds of `conns` streams whose reader is parked when its peer writes a
// few bytes and at once shuts its side down; each reader reads, with no
// deadline, until the end of the stream. The data and the FIN raise their
// epoll edges microseconds apart, so the kernel often reports both as one
// event. The woken reader's first read then returns the data alone, short,
// and only the next read returns 0: a runtime that took the short read to
// mean "nothing left, wait for the next edge" parks for an edge that never
// comes (the watchdog then fails the test). make_pair(): a connected pair.
template <class MakePair> void short_read_then_eof(const char* what, MakePair make_pair) {
    raise_fd_limit();
    const int conns = by_build(200, 100, 50);
    const int rounds = by_build(20, 10, 5);
    rill_test::watchdog wd(what, std::chrono::seconds(60));
    rill::run([&] {
        for (int r = 0; r < rounds; ++r) {
            std::vector<net::stream*> writers, readers;
            std::vector<decltype(make_pair())> pairs;
            pairs.reserve(conns);
            for (int i = 0; i < conns; ++i) {
                auto& p = pairs.emplace_back(make_pair());
                writers.push_back(&p.first);
                readers.push_back(&p.second);
            }
            rill::wait_group wg;
            wg.add(conns);
            std::atomic<int> ok{0};
            for (net::stream* s : readers)
                rill::go([s, &wg, &ok] {
                    std::string got;
                    std::byte buf[64]; // more than is sent: the read is short
                    std::error_code ec;
                    while (std::size_t n = s->read(buf, ec))
                        got.append(reinterpret_cast<const char*>(buf), n);
                    ok += !ec && got == "hello";
                    wg.done();
                });
            // Every reader waits for the poller before the data comes.
            REQUIRE(parked_on_io(conns));
            for (net::stream* s : writers) {
                s->write_all("hello");
                s->shutdown(SHUT_WR);
            }
            wg.wait();
            REQUIRE(ok == conns);
        }
    });
}

} // namespace

TEST_CASE("tcp: a short read and the end of the stream right after it: the reader sees EOF") {
    short_read_then_eof("tcp short read then EOF", [] { return tcp_pair(); });
}

TEST_CASE("unix: a short read and the end of the stream right after it: the reader sees EOF") {
    short_read_then_eof("unix short read then EOF", [] { return net::unix_stream::pair(); });
}

TEST_CASE("tcp: connect errors name the address") {
    rill::run([] {
        std::string where;
        {
            auto l = loopback_listener();
            where = addr_of(l);
        }
        std::error_code ec;
        auto c = net::tcp_stream::connect(where, ec);
        CHECK(ec == std::errc::connection_refused);
        CHECK_FALSE(c.is_open());
        try {
            net::tcp_stream::connect(where);
            FAIL("connected");
        } catch (const std::system_error& e) {
            CHECK(e.code() == std::errc::connection_refused);
            CHECK_THAT(e.what(), Catch::Contains("connect " + where));
        }
        net::tcp_stream::connect("127.0.0.1", ec);
        CHECK(ec == std::errc::invalid_argument);
    });
}

TEST_CASE("close from another goroutine wakes a parked reader and acceptor") {
    rill::run([] {
        auto [c, s] = tcp_pair();
        auto l = loopback_listener();
        auto read_result = parked_read(c);
        rill::chan<std::error_code> accept_result(1);
        rill::go([&l, accept_result]() mutable {
            std::error_code ec;
            l.accept(ec);
            accept_result.send(ec);
        });
        REQUIRE(parked_on_io(2));
        c.close();
        l.close();
        for (auto ec : {*read_result.recv(), *accept_result.recv()}) {
            CHECK(ec == net::net_errc::closed);
            CHECK(ec == std::errc::operation_canceled);
        }
        CHECK_FALSE(c.is_open());
        std::byte buf[1];
        std::error_code ec;
        c.read(buf, ec);
        CHECK(ec == net::net_errc::closed);
        c.close(); // idempotent
        CHECK_THROWS_WITH(l.accept(), Catch::Contains("accept") && Catch::Contains("closed"));
    });
}

TEST_CASE("goroutines parked on I/O stay parked until netpoll readies them") {
    rill::run([] {
        auto [c, s] = tcp_pair();
        const int readers = 4;
        std::vector<net::tcp_stream> ends;
        std::vector<net::tcp_stream> peers;
        for (int i = 0; i < readers; ++i) {
            auto [a, b] = tcp_pair();
            ends.push_back(std::move(a));
            peers.push_back(std::move(b));
        }
        rill::wait_group wg;
        wg.add(readers);
        std::atomic<int> got{0};
        for (auto& e : ends)
            rill::go([&e, &wg, &got] {
                std::byte b[1];
                got += static_cast<int>(e.read(b));
                wg.done();
            });
        REQUIRE(parked_on_io(readers));
        auto before = rill::stats();
        rill::sleep(50ms);
        auto after = rill::stats();
        // The sleeper parks once; parked readers are not rescheduled.
        CHECK(after.parks - before.parks <= 2);
        CHECK(got == 0);
        for (auto& p : peers)
            p.write_all("x");
        wg.wait();
        CHECK(got == readers);
        CHECK(rill::stats().netpoll_wakeups - after.netpoll_wakeups >= 1);
    });
}

TEST_CASE("udp: send_to and recv_from") {
    rill::run([] {
        auto a = net::udp_socket::bind("127.0.0.1:0");
        auto b = net::udp_socket::bind("127.0.0.1:0");
        rill::go([&b] {
            std::byte buf[64];
            net::address from;
            std::size_t n = b.recv_from(buf, from); // parks until the datagram comes
            b.send_to(std::span(buf, n), from);
        });
        REQUIRE(parked_on_io(1));
        CHECK(a.send_to(bytes("datagram"), b.local_address()) == 8);
        std::string back(64, '\0');
        net::address from;
        back.resize(a.recv_from(bytes(back), from));
        CHECK(back == "datagram");
        CHECK(from == b.local_address());
        a.set_read_deadline(steady::now());
        std::error_code ec;
        a.recv_from(bytes(back), from, ec);
        CHECK(ec == std::errc::timed_out);
    });
}

TEST_CASE("unix-domain stream sockets") {
    rill::run([] {
        SECTION("listener and connect") {
            std::string path = "/tmp/net-test-" + std::to_string(getpid()) + ".sock";
            {
                auto l = net::unix_listener::bind(path);
                CHECK(access(path.c_str(), F_OK) == 0);
                auto server = spawn([&l] {
                    auto s = l.accept();
                    echo(s);
                });
                auto c = net::unix_stream::connect(path);
                c.write_all("over unix");
                std::string back(9, '\0');
                c.read_exact(bytes(back));
                CHECK(back == "over unix");
                c.close();
                server.recv();
            }
            CHECK(access(path.c_str(), F_OK) != 0); // the listener removed its file
        }
        SECTION("abstract name") {
            std::string name = "@rill-net-test-" + std::to_string(getpid());
            auto l = net::unix_listener::bind(name);
            CHECK(l.local_address().to_string() == name);
            auto server = spawn([&l] {
                auto s = l.accept();
                s.write_all("hi");
            });
            auto c = net::unix_stream::connect(name);
            std::string back(2, '\0');
            c.read_exact(bytes(back));
            CHECK(back == "hi");
            server.recv();
        }
        SECTION("pair") {
            auto [a, b] = net::unix_stream::pair();
            auto server = spawn([&b = b] { echo(b); });
            a.write_all("paired");
            std::string back(6, '\0');
            a.read_exact(bytes(back));
            CHECK(back == "paired");
            a.close();
            server.recv();
        }
        std::error_code ec;
        net::unix_stream::connect("/tmp/net-test-no-such.sock", ec);
        CHECK(ec == std::errc::no_such_file_or_directory);
    });
}

TEST_CASE("waiting for a user's fd: a pipe") {
    rill::run([] {
        int fds[2];
        REQUIRE(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
        CHECK(net::wait_readable(fds[0], steady::now() + 10ms) == std::errc::timed_out);
        CHECK_FALSE(net::wait_writable(fds[1]));
        {
            net::poll_fd p(fds[0]);
            rill::chan<std::error_code> result(1);
            rill::go([&p, result]() mutable { result.send(p.wait_readable()); });
            REQUIRE(parked_on_io(1));
            REQUIRE(write(fds[1], "x", 1) == 1);
            CHECK_FALSE(*result.recv());
            // Level-triggered for the caller: still readable until drained.
            CHECK_FALSE(p.wait_readable(steady::now()));
            char c;
            REQUIRE(read(fds[0], &c, 1) == 1);
            CHECK(p.wait_readable(steady::now() + 5ms) == std::errc::timed_out);
        }
        // The poll_fd left the fd open.
        CHECK(fcntl(fds[0], F_GETFD) >= 0);
        close(fds[0]);
        close(fds[1]);
    });
}

TEST_CASE("resolve: numeric addresses and localhost") {
    rill::run([] {
        auto v6 = net::resolve("::1", 80);
        REQUIRE(v6.size() == 1);
        CHECK(v6[0].to_string() == "[::1]:80");
        CHECK(net::address::parse("[::1]:80") == v6[0]);
        auto local = net::resolve("localhost", 8080);
        REQUIRE_FALSE(local.empty());
        for (const auto& a : local) {
            CHECK(a.port() == 8080);
            CHECK((a.to_string() == "127.0.0.1:8080" || a.to_string() == "[::1]:8080"));
        }
        // connect by name tries each address in turn.
        auto l = net::tcp_listener::bind("127.0.0.1:0");
        auto server = spawn([&l] { serve_echo(l, 1); });
        auto c = net::tcp_stream::connect("localhost:" + std::to_string(l.local_address().port()));
        c.write_all("by name");
        std::string back(7, '\0');
        c.read_exact(bytes(back));
        CHECK(back == "by name");
        c.close();
        server.recv();
    });
}

TEST_CASE("sockets work from a plain thread") {
    auto l = loopback_listener();
    auto server = spawn([&l] { serve_echo(l, 1); });
    std::string back(5, '\0');
    std::thread t([&] {
        auto c = net::tcp_stream::connect(addr_of(l));
        c.write_all("plain");
        c.read_exact(bytes(back));
    });
    t.join();
    CHECK(back == "plain");
    server.recv(); // a plain thread blocks on the channel
}

TEST_CASE("child: the runtime starts with no file descriptor to spare", "[.child]") {
    // The lowest free descriptor becomes the limit: the poller's epoll and
    // eventfd descriptors cannot be made.
    int spare = dup(STDIN_FILENO);
    REQUIRE(spare >= 0);
    close(spare);
    rlimit lim{};
    lim.rlim_cur = lim.rlim_max = static_cast<rlim_t>(spare);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
    rill::run([] {});
    FAIL("the runtime started without a poller");
}

TEST_CASE("a poller that cannot be made is reported with the system's error") {
    if (rill_test::under_asan) {
        // UBSan's vptr check makes a pipe to probe memory, and takes the
        // logger for a bad object when it cannot.
        WARN("skipped under ASan+UBSan: its checks need file descriptors of their own");
        return;
    }
    auto r = rill_test::run_child("child: the runtime starts with no file descriptor to spare");
    INFO(r.output);
    CHECK(r.exited_with(2));
    CHECK(r.output.find("cannot create the poller (epoll_create1)") != std::string::npos);
    CHECK(r.output.find(std::strerror(EMFILE)) != std::string::npos);
    // Not the error of the logger's own look at the terminal.
    CHECK(r.output.find(std::strerror(ENOTTY)) == std::string::npos);
}
