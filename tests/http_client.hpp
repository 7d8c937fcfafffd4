// A minimal HTTP/1.1 client for tests that talk to an admin endpoint (or
// Prometheus) from a plain thread, not a goroutine: one request per
// connection, read to the end of the stream, on a blocking POSIX socket.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace rill_test {

struct http_reply {
    int status = 0; // 0: no answer (nothing listens, or the connection failed)
    std::string body;
};

// GET http://127.0.0.1:port/path.
inline http_reply http_get(int port, const std::string& path) {
    http_reply r;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        if (fd >= 0) ::close(fd);
        return r;
    }
    // A reply that never ends (a server keeping the connection for another
    // request, one that hangs) fails the call rather than the whole test run.
    timeval limit{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    bool sent =
        ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
    std::string all;
    char buf[4096];
    for (ssize_t n; sent && (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
        all.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    auto head_end = all.find("\r\n\r\n");
    if (!all.starts_with("HTTP/1.1 ") || head_end == std::string::npos) return r;
    r.status = std::stoi(all.substr(9, 3));
    r.body = all.substr(head_end + 4);
    return r;
}

} // namespace rill_test
