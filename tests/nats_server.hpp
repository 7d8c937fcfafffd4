// A nats-server for one test: JetStream on, listening on a free loopback
// port, storing in a temporary directory; started by the constructor, which
// returns once the server accepts connections, and stopped by the destructor
// (killed when a test failed while it ran). A missing nats-server fails the
// test: CI installs it (scripts/test.sh), so a skip would hide a broken setup.
#pragma once

#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace rill_test {

class nats_server {
public:
    nats_server() {
        auto exe = find_program();
        if (exe.empty())
            FAIL("nats-server is not installed (Debian: apt-get install nats-server; or set "
                 "RILL_NATS_SERVER to its path)");
        char tmpl[] = "/tmp/rill-nats-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        dir_ = tmpl;
        port_ = free_port();
        proc_ = start_process(exe, {"nats-server", "-js", "-a", "127.0.0.1", "-p",
                                    std::to_string(port_), "-sd", dir_.string()});
        wait_until_accepting();
    }
    nats_server(const nats_server&) = delete;
    nats_server& operator=(const nats_server&) = delete;
    ~nats_server() {
        // SIGKILL when unwinding from a failure: nothing is left to check.
        ::kill(proc_.pid, std::uncaught_exceptions() ? SIGKILL : SIGTERM);
        wait_process(proc_);
        std::filesystem::remove_all(dir_);
    }
    std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
    // What the server logged so far.
    std::string output() const { return output_so_far(proc_); }

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
    bool accepts() const {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<std::uint16_t>(port_));
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
    void wait_until_accepting() {
        auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!accepts()) {
            int status = 0;
            if (::waitpid(proc_.pid, &status, WNOHANG) == proc_.pid) {
                FAIL("nats-server exited at start:\n" << output_so_far(proc_));
            }
            if (std::chrono::steady_clock::now() > give_up) {
                ::kill(proc_.pid, SIGKILL); // the destructor does not run for a failed constructor
                auto r = wait_process(proc_);
                FAIL("nats-server does not accept connections:\n" << r.output);
            }
            // A poll interval, not a guess at how long the start takes.
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    std::filesystem::path dir_;
    int port_ = 0;
    process proc_;
};

} // namespace rill_test
