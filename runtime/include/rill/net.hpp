// rill::net: sockets whose blocking operations park the goroutine, not the
// OS thread (Go's net package on the runtime's netpoller).
//
// Contract.
// - Every socket is a move-only object owning a non-blocking fd; the
//   destructor closes it. Operations block the calling goroutine until they
//   can proceed; on a plain OS thread (or inside rill::blocking) they block
//   the thread instead.
// - Errors: every operation comes twice. The form taking a trailing
//   `std::error_code& ec` never throws: it clears ec on success and sets it
//   on failure (returning 0 or an empty object). The form without it throws
//   std::system_error whose what() names the operation and the address, e.g.
//   "connect 127.0.0.1:9: Connection refused".
// - Errors are errno values (std::system_category), compared as usual with
//   std::errc: a reset peer is std::errc::connection_reset (or broken_pipe on
//   a write), a passed deadline std::errc::timed_out. Two come from rill's
//   own category (net_errc): net_errc::closed, for an operation on a socket
//   that was closed, or that close() interrupted (it also compares equal to
//   std::errc::operation_canceled), and net_errc::eof, when read_exact meets
//   the end of the stream early. A plain read at the end of the stream
//   returns 0 with no error.
// - Deadlines are absolute steady_clock times, per direction, as Go's
//   SetReadDeadline: once passed, every operation in that direction fails
//   with timed_out (even when data is there) until the deadline is moved.
//   Moving it wakes a parked operation, which then honours the new one. A
//   timeout leaves the socket usable.
// - One socket may be used by several goroutines at once (a reader and a
//   writer, several acceptors, close from another goroutine); moving,
//   assigning or destroying it must not race with its use.
// - SIGPIPE is never raised: a write to a closed connection returns an error.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

struct sockaddr;

namespace rill::net {

// ---- errors ----------------------------------------------------------------------------

enum class net_errc {
    closed = 1, // the socket was closed (before or during the operation)
    eof,        // read_exact: the stream ended before the buffer was full
};
const std::error_category& net_category() noexcept;
inline std::error_code make_error_code(net_errc e) noexcept {
    return {static_cast<int>(e), net_category()};
}

} // namespace rill::net

template <> struct std::is_error_code_enum<rill::net::net_errc> : std::true_type {};

namespace rill::net {

// ---- addresses -------------------------------------------------------------------------

using deadline = std::chrono::steady_clock::time_point;
inline constexpr deadline no_deadline = deadline::max();

// An IPv4, IPv6 or Unix-domain socket address (a sockaddr_storage).
class address {
public:
    address() noexcept; // empty: family() == 0
    // From a numeric IP ("127.0.0.1", "::1") and a port; nullopt if ip is
    // not numeric.
    static std::optional<address> ip(std::string_view ip, std::uint16_t port);
    // From "ip:port" or "[ipv6]:port" with a numeric IP; nullopt otherwise.
    static std::optional<address> parse(std::string_view ip_port);
    // A Unix-domain path; a leading '@' names the abstract namespace.
    static address unix_path(std::string_view path);
    static address from_native(const sockaddr* sa, std::size_t len);

    int family() const noexcept; // AF_INET, AF_INET6, AF_UNIX or 0
    std::uint16_t port() const noexcept;
    // "127.0.0.1:80", "[::1]:80", the Unix path, or "" when empty.
    std::string to_string() const;
    const sockaddr* native() const noexcept;
    sockaddr* native() noexcept;
    std::size_t native_size() const noexcept;
    friend bool operator==(const address& a, const address& b) noexcept;

private:
    alignas(8) unsigned char storage_[128];
    std::uint32_t len_ = 0;
};

// Resolves a host name (or numeric IP) to addresses for the port, IPv4 and
// IPv6. Numeric IPs are parsed directly; names go to the system resolver
// (getaddrinfo through Boost.Asio) as a blocking call (rill::blocking), so
// other goroutines keep running.
std::vector<address> resolve(std::string_view host, std::uint16_t port, std::error_code& ec);
std::vector<address> resolve(std::string_view host, std::uint16_t port);

// ---- the common part of every socket --------------------------------------------------

class socket {
public:
    socket() noexcept = default; // not open
    socket(socket&& o) noexcept;
    socket& operator=(socket&& o) noexcept;
    socket(const socket&) = delete;
    socket& operator=(const socket&) = delete;
    ~socket();

    bool is_open() const noexcept;
    // The fd, for socket options; -1 if never opened. Do not close it.
    int native_handle() const noexcept { return fd_; }
    // Closes the socket: parked operations on it return net_errc::closed; the
    // fd itself is closed once the last of them has returned. Idempotent.
    void close() noexcept;
    // Deadlines (see the contract above); no_deadline clears one.
    void set_read_deadline(deadline d) noexcept;
    void set_write_deadline(deadline d) noexcept;
    void set_deadline(deadline d) noexcept; // both
    address local_address(std::error_code& ec) const;
    address local_address() const;

protected:
    friend struct socket_access; // net.cpp's helpers shared by the socket kinds
    // Registers fd (non-blocking) with the poller; own_fd: close it with the
    // socket (on failure too).
    void open(int fd, bool own_fd, std::error_code& ec);
    // Runs a non-blocking system call until it stops failing with EAGAIN,
    // parking in between: the loop of every operation. op returns the
    // call's result, or -errno, read before anything can park (a goroutine
    // may change threads, and errno is per thread).
    template <class Op> long io(bool write, Op&& op, std::error_code& ec) const {
        return io_loop(write ? 2 : 1, &call<Op>, &op, ec);
    }
    // Runs op once on the open fd (no deadline, no waiting).
    template <class Op> long once(Op&& op, std::error_code& ec) const {
        return io_loop(0, &call<Op>, &op, ec);
    }
    // Parks once until the fd may be ready in one direction, with d as that
    // direction's deadline (left cleared afterwards).
    std::error_code wait_ready(bool write, deadline d) const;

private:
    template <class Op> static long call(void* op) { return (*static_cast<Op*>(op))(); }
    // mode: 0 (once), 1 (read) or 2 (write).
    long io_loop(int mode, long (*op)(void*), void* arg, std::error_code& ec) const;

    void* pd_ = nullptr;
    std::uint32_t gen_ = 0;
    int fd_ = -1;
};

// ---- streams: TCP and Unix-domain ----------------------------------------------------

class stream : public socket {
public:
    stream() noexcept = default;
    // Reads what is there (at least one byte); returns 0 at the end of the stream.
    std::size_t read(std::span<std::byte> buf, std::error_code& ec);
    std::size_t read(std::span<std::byte> buf);
    // Fills buf; net_errc::eof if the stream ends first (the count read so
    // far is returned either way).
    std::size_t read_exact(std::span<std::byte> buf, std::error_code& ec);
    std::size_t read_exact(std::span<std::byte> buf);
    // Writes at least one byte; returns how many.
    std::size_t write(std::span<const std::byte> buf, std::error_code& ec);
    std::size_t write(std::span<const std::byte> buf);
    // Writes all of buf (returns how much was written before an error).
    std::size_t write_all(std::span<const std::byte> buf, std::error_code& ec);
    std::size_t write_all(std::span<const std::byte> buf);
    std::size_t write_all(std::string_view s, std::error_code& ec) {
        return write_all(std::as_bytes(std::span(s.data(), s.size())), ec);
    }
    std::size_t write_all(std::string_view s) {
        return write_all(std::as_bytes(std::span(s.data(), s.size())));
    }
    // shutdown(2): how is SHUT_RD, SHUT_WR or SHUT_RDWR. After SHUT_WR the
    // peer reads the end of the stream.
    void shutdown(int how, std::error_code& ec);
    void shutdown(int how);
    // The address connected to (for TCP: the peer's "ip:port").
    const address& peer_address() const noexcept { return peer_; }

protected:
    friend struct socket_access;
    address peer_;
};

class tcp_stream : public stream {
public:
    tcp_stream() noexcept = default;
    // Connects to "host:port" (a name is resolved first, each address tried
    // in turn) or to an address; d bounds the whole attempt.
    static tcp_stream connect(std::string_view host_port, std::error_code& ec,
                              deadline d = no_deadline);
    static tcp_stream connect(std::string_view host_port, deadline d = no_deadline);
    static tcp_stream connect(const address& a, std::error_code& ec, deadline d = no_deadline);
    static tcp_stream connect(const address& a, deadline d = no_deadline);
    // TCP_NODELAY (Nagle off). Streams from connect and accept have it on,
    // as in Go.
    void set_nodelay(bool on, std::error_code& ec);
    void set_nodelay(bool on);
};

class unix_stream : public stream {
public:
    unix_stream() noexcept = default;
    static unix_stream connect(std::string_view path, std::error_code& ec,
                               deadline d = no_deadline);
    static unix_stream connect(std::string_view path, deadline d = no_deadline);
    // A connected pair (socketpair(2)).
    static std::pair<unix_stream, unix_stream> pair(std::error_code& ec);
    static std::pair<unix_stream, unix_stream> pair();
};

// ---- listeners --------------------------------------------------------------------------

class tcp_listener : public socket {
public:
    tcp_listener() noexcept = default;
    // Binds and listens on "host:port" or an address; port 0 picks a free
    // one (see local_address). SO_REUSEADDR is set, as in Go.
    static tcp_listener bind(std::string_view host_port, std::error_code& ec, int backlog = 4096);
    static tcp_listener bind(std::string_view host_port, int backlog = 4096);
    static tcp_listener bind(const address& a, std::error_code& ec, int backlog = 4096);
    static tcp_listener bind(const address& a, int backlog = 4096);
    tcp_stream accept(std::error_code& ec);
    tcp_stream accept();
};

class unix_listener : public socket {
public:
    unix_listener() noexcept = default;
    unix_listener(unix_listener&& o) noexcept;
    unix_listener& operator=(unix_listener&& o) noexcept;
    // Removes the socket file it created (not an abstract name), as Go does.
    ~unix_listener();
    static unix_listener bind(std::string_view path, std::error_code& ec, int backlog = 4096);
    static unix_listener bind(std::string_view path, int backlog = 4096);
    unix_stream accept(std::error_code& ec);
    unix_stream accept();

private:
    void unlink_path() noexcept;
    std::string path_;
};

// ---- datagrams ---------------------------------------------------------------------------

class udp_socket : public socket {
public:
    udp_socket() noexcept = default;
    // Binds to "host:port" or an address (port 0: any free port).
    static udp_socket bind(std::string_view host_port, std::error_code& ec);
    static udp_socket bind(std::string_view host_port);
    static udp_socket bind(const address& a, std::error_code& ec);
    static udp_socket bind(const address& a);
    // Sends one datagram; returns its size.
    std::size_t send_to(std::span<const std::byte> buf, const address& to, std::error_code& ec);
    std::size_t send_to(std::span<const std::byte> buf, const address& to);
    // Receives one datagram (truncated to buf); *from gets its sender.
    std::size_t recv_from(std::span<std::byte> buf, address& from, std::error_code& ec);
    std::size_t recv_from(std::span<std::byte> buf, address& from);
};

// ---- any fd -----------------------------------------------------------------------------

// Waits until an fd the caller owns is readable (or writable), the deadline
// passes (std::errc::timed_out) or the poll_fd is closed (net_errc::closed).
// Registers fd with the poller for its lifetime; does not close fd, which
// should be non-blocking for the caller's own reads and writes.
class poll_fd : public socket {
public:
    poll_fd() noexcept = default;
    explicit poll_fd(int fd, std::error_code& ec);
    explicit poll_fd(int fd);
    std::error_code wait_readable(deadline d = no_deadline);
    std::error_code wait_writable(deadline d = no_deadline);

private:
    std::error_code wait(bool write, deadline d);
};

// One-shot forms: register fd, wait, deregister. Prefer a poll_fd for an fd
// waited on repeatedly.
std::error_code wait_readable(int fd, deadline d = no_deadline);
std::error_code wait_writable(int fd, deadline d = no_deadline);

} // namespace rill::net
