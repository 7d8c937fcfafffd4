// A nats-server for one test: JetStream on, listening on a free loopback
// port, storing in a temporary directory, with an optional configuration file
// (TLS, operator mode). The constructor starts it and returns once it accepts
// connections; stop and start restart it on the same port and storage (for
// reconnection tests); the destructor stops it (killed when a test failed
// while it ran). It is killed with the test process, even by SIGKILL: it is
// forked from a thread of its own that lives as long as it does, since the
// parent-death signal follows the forking thread, and a goroutine's thread
// may end first. A missing nats-server fails the test: CI installs it
// (scripts/test.sh), so a skip would hide a broken setup.
#pragma once

#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace rill_test {

class nats_server {
public:
    // config: the text of a configuration file; the address, port, JetStream
    // and storage directory come from the command line.
    explicit nats_server(const std::string& config = {}) {
        auto exe = find_program();
        if (exe.empty())
            FAIL("nats-server is not installed (Debian: apt-get install nats-server; or set "
                 "RILL_NATS_SERVER to its path)");
        char tmpl[] = "/tmp/rill-nats-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        dir_ = tmpl;
        port_ = free_port();
        args_ = {exe,   "-js",
                 "-a",  "127.0.0.1",
                 "-p",  std::to_string(port_),
                 "-sd", (dir_ / "store").string()};
        if (!config.empty()) {
            auto conf = (dir_ / "server.conf").string();
            std::ofstream(conf) << config;
            args_.insert(args_.end(), {"-c", conf});
        }
        start();
    }
    nats_server(const nats_server&) = delete;
    nats_server& operator=(const nats_server&) = delete;
    ~nats_server() {
        // SIGKILL when unwinding from a failure: nothing is left to check.
        if (keeper_.joinable()) stop(std::uncaught_exceptions() ? SIGKILL : SIGTERM);
        std::filesystem::remove_all(dir_);
    }

    // Stops the server with sig (SIGTERM: a clean shutdown) and waits for it to end.
    void stop(int sig = SIGTERM) {
        REQUIRE(keeper_.joinable());
        if (!exited_) ::kill(proc_.pid, sig);
        keeper_.join();
        earlier_output_ += output_so_far(proc_);
        ::close(proc_.out);
        proc_ = {};
    }
    // Starts it (again, after stop): same port, configuration and storage;
    // returns once it accepts connections.
    void start() {
        REQUIRE(!keeper_.joinable());
        std::promise<process> started;
        auto proc = started.get_future();
        exited_ = false;
        keeper_ = std::thread([this, &started] {
            auto p = spawn_process(args_[0], args_, {}, true);
            started.set_value(p); // the last use of started: start() returns after it
            int status = 0;
            if (p.pid > 0)
                while (::waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
                }
            exited_ = true;
        });
        proc_ = proc.get();
        if (proc_.pid < 0) {
            keeper_.join();
            FAIL("cannot start " << args_[0]);
        }
        wait_until_accepting();
    }

    int port() const { return port_; }
    // Where it stores, and its configuration file.
    const std::filesystem::path& dir() const { return dir_; }
    std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
    // What the server logged so far, over all its runs.
    std::string output() const {
        return earlier_output_ + (proc_.out >= 0 ? output_so_far(proc_) : "");
    }
    // Whether something accepts connections on this loopback port.
    static bool accepts(int port) {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        // free_port's port is an ephemeral one, so the kernel may give this
        // socket the same port as its own: a connection to itself (TCP
        // simultaneous open) succeeds while nobody listens yet.
        sockaddr_in self{};
        socklen_t len = sizeof self;
        if (ok && ::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &len) == 0 &&
            self.sin_port == a.sin_port)
            ok = false;
        ::close(fd);
        return ok;
    }

private:
    static std::string find_program() {
        if (const char* p = std::getenv("RILL_NATS_SERVER")) return p;
        std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
        // /usr/sbin: where Debian puts it, not on every user's PATH.
        path += ":/usr/sbin:/usr/local/sbin";
        for (std::size_t at = 0; at < path.size();) {
            auto colon = path.find(':', at);
            if (colon == std::string::npos) colon = path.size();
            auto candidate = path.substr(at, colon - at) + "/nats-server";
            if (::access(candidate.c_str(), X_OK) == 0) return candidate;
            at = colon + 1;
        }
        return {};
    }
    // A port the kernel just handed out: free unless taken again meanwhile.
    static int free_port() {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        ::close(fd);
        return ntohs(a.sin_port);
    }

    void wait_until_accepting() {
        auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!accepts(port_)) {
            if (exited_) {
                stop();
                FAIL("nats-server exited at start:\n" << earlier_output_);
            }
            if (std::chrono::steady_clock::now() > give_up) {
                stop(SIGKILL); // the destructor does not run for a failed constructor
                FAIL("nats-server does not accept connections:\n" << earlier_output_);
            }
            // A poll interval, not a guess at how long the start takes.
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    std::filesystem::path dir_;
    int port_ = 0;
    std::vector<std::string> args_;
    process proc_;
    // Forks the server and waits for it to end (see the top of the file).
    std::thread keeper_;
    std::atomic<bool> exited_{false};
    std::string earlier_output_;
};

} // namespace rill_test
