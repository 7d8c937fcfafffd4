// Sockets on the netpoller (mirrors Go's internal/poll/fd_unix.go and the
// socket halves of net/tcpsock.go, net/unixsock.go and net/udpsock.go); see
// <rill/net.hpp>. Every operation is the same loop (socket::io_loop): try
// the non-blocking system call, and on EAGAIN park on the poll descriptor
// until the poller reports the fd ready, then try again.
#include <rill/net.hpp>

#include "poll_desc.hpp"
#include "time.hpp"

#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace rill::net {

namespace {

using rill::detail::pd_result;

class net_category_t : public std::error_category {
public:
    const char* name() const noexcept override { return "rill.net"; }
    std::string message(int c) const override {
        switch (static_cast<net_errc>(c)) {
        case net_errc::closed:
            return "use of closed socket";
        case net_errc::eof:
            return "unexpected end of stream";
        }
        return "unknown rill.net error";
    }
    std::error_condition default_error_condition(int c) const noexcept override {
        if (static_cast<net_errc>(c) == net_errc::closed)
            return std::make_error_condition(std::errc::operation_canceled);
        return {c, *this};
    }
};

std::error_code sys_error(int e) { return {e, std::system_category()}; }

// errno right after the call that set it, before anything can park.
long sys_result(long r) { return r < 0 ? -errno : r; }

std::int64_t to_nanotime(deadline d) {
    if (d == no_deadline) return INT64_MAX;
    // Both are CLOCK_MONOTONIC; clamp so that a far-future deadline does not
    // wrap around.
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d.time_since_epoch()).count();
    return ns < 0 ? 0 : ns;
}

std::error_code wait_error(pd_result r) {
    switch (r) {
    case pd_result::closed:
        return net_errc::closed;
    case pd_result::timed_out:
        return std::make_error_code(std::errc::timed_out);
    case pd_result::ready:
        break;
    }
    return {};
}

// Where an operation failed, for its error message: an address, a path, a
// socket's own address, or nothing; formatted only when the operation failed.
struct where {
    const address* a = nullptr;
    const socket* self = nullptr;
    std::string_view text{};
    where(const address& addr) : a(&addr) {}
    where(const socket& s) : self(&s) {}
    where(std::string_view t) : text(t) {}
    where(const char* t) : text(t) {}
    std::string str() const {
        std::error_code ec;
        if (self) return self->local_address(ec).to_string();
        return a ? a->to_string() : std::string(text);
    }
};

// Runs f(ec); throws std::system_error naming what and w when it failed.
template <class F> auto or_throw(const char* what, where w, F&& f) {
    std::error_code ec;
    auto r = f(ec);
    if (ec) {
        std::string at = w.str();
        throw std::system_error(ec, at.empty() ? std::string(what) : what + (" " + at));
    }
    return r;
}

int new_socket(int family, int type, std::error_code& ec) {
    int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) ec = sys_error(errno);
    return fd;
}

void set_int_option(int fd, int level, int name, int value, std::error_code& ec) {
    if (::setsockopt(fd, level, name, &value, sizeof value) < 0) ec = sys_error(errno);
}

} // namespace

const std::error_category& net_category() noexcept {
    static const net_category_t c;
    return c;
}

// ---- socket ------------------------------------------------------------------------------

socket::socket(socket&& o) noexcept
    : pd_(std::exchange(o.pd_, nullptr)), gen_(o.gen_), fd_(std::exchange(o.fd_, -1)) {}

socket& socket::operator=(socket&& o) noexcept {
    if (this != &o) {
        close();
        pd_ = std::exchange(o.pd_, nullptr);
        gen_ = o.gen_;
        fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
}

socket::~socket() { close(); }

void socket::open(int fd, bool own_fd, std::error_code& ec) {
    auto* pd = detail::pd_open(fd, own_fd, &gen_);
    if (!pd) {
        ec = sys_error(errno);
        if (own_fd) ::close(fd);
        return;
    }
    pd_ = pd;
    fd_ = fd;
}

bool socket::is_open() const noexcept {
    return pd_ && detail::pd_is_open(static_cast<detail::poll_desc*>(pd_), gen_);
}

void socket::close() noexcept {
    if (pd_) detail::pd_close(static_cast<detail::poll_desc*>(pd_), gen_);
}

void socket::set_read_deadline(deadline d) noexcept {
    if (pd_)
        detail::pd_set_deadline(static_cast<detail::poll_desc*>(pd_), detail::pd_read,
                                to_nanotime(d));
}

void socket::set_write_deadline(deadline d) noexcept {
    if (pd_)
        detail::pd_set_deadline(static_cast<detail::poll_desc*>(pd_), detail::pd_write,
                                to_nanotime(d));
}

void socket::set_deadline(deadline d) noexcept {
    if (pd_)
        detail::pd_set_deadline(static_cast<detail::poll_desc*>(pd_),
                                detail::pd_read | detail::pd_write, to_nanotime(d));
}

address socket::local_address(std::error_code& ec) const {
    ec.clear();
    address a;
    socklen_t len = sizeof(sockaddr_storage);
    if (once([&] { return sys_result(::getsockname(fd_, a.native(), &len)); }, ec) < 0) return {};
    return address::from_native(a.native(), len);
}

address socket::local_address() const {
    return or_throw("getsockname", "", [&](std::error_code& ec) { return local_address(ec); });
}

long socket::io_loop(int how, long (*op)(void*), void* arg, std::error_code& ec) const {
    auto* pd = static_cast<detail::poll_desc*>(pd_);
    if (!pd || !detail::pd_acquire(pd, gen_)) {
        ec = net_errc::closed;
        return -1;
    }
    auto mode = static_cast<detail::pd_mode>(how);
    long r = -1;
    ec = how ? wait_error(detail::pd_check(pd, mode)) : std::error_code{};
    // The system call comes first, and only its EAGAIN makes the loop wait,
    // as in Go's internal/poll. The poller's edges say that the fd's state
    // changed, not what it is: only the kernel knows whether anything is
    // left. In particular a read that returned less than it asked for has
    // not shown that the socket is empty: a FIN (or an error) that came with
    // the data raised the same edge, which woke this read, yet the kernel
    // reports it only to the next read, and a Unix socket does not join
    // data from different senders. Waiting for another edge after such a
    // read can wait for ever.
    while (!ec) {
        r = op(arg);
        if (r >= 0) break;
        if (r == -EINTR) continue;
        if (how == 0 || (r != -EAGAIN && r != -EWOULDBLOCK)) {
            ec = sys_error(static_cast<int>(-r));
            break;
        }
        ec = wait_error(detail::pd_wait(pd, mode));
    }
    detail::pd_release(pd);
    return ec ? -1 : r;
}

std::error_code socket::wait_ready(bool write, deadline d) const {
    auto* pd = static_cast<detail::poll_desc*>(pd_);
    if (!pd || !detail::pd_acquire(pd, gen_)) return net_errc::closed;
    auto mode = write ? detail::pd_write : detail::pd_read;
    if (d != no_deadline) detail::pd_set_deadline(pd, mode, to_nanotime(d));
    std::error_code ec = wait_error(detail::pd_wait(pd, mode));
    if (d != no_deadline) detail::pd_set_deadline(pd, mode, INT64_MAX);
    detail::pd_release(pd);
    return ec;
}

// ---- stream ------------------------------------------------------------------------------

std::size_t stream::read(std::span<std::byte> buf, std::error_code& ec) {
    long n = io(
        false, [&] { return sys_result(::read(native_handle(), buf.data(), buf.size())); }, ec);
    return n < 0 ? 0 : static_cast<std::size_t>(n);
}

std::size_t stream::read(std::span<std::byte> buf) {
    return or_throw("read", peer_, [&](std::error_code& ec) { return read(buf, ec); });
}

std::size_t stream::read_exact(std::span<std::byte> buf, std::error_code& ec) {
    std::size_t done = 0;
    ec.clear();
    while (done < buf.size()) {
        std::size_t n = read(buf.subspan(done), ec);
        if (ec) break;
        if (n == 0) {
            ec = net_errc::eof;
            break;
        }
        done += n;
    }
    return done;
}

std::size_t stream::read_exact(std::span<std::byte> buf) {
    return or_throw("read", peer_, [&](std::error_code& ec) { return read_exact(buf, ec); });
}

std::size_t stream::write(std::span<const std::byte> buf, std::error_code& ec) {
    long n = io(
        true,
        [&] { return sys_result(::send(native_handle(), buf.data(), buf.size(), MSG_NOSIGNAL)); },
        ec);
    return n < 0 ? 0 : static_cast<std::size_t>(n);
}

std::size_t stream::write(std::span<const std::byte> buf) {
    return or_throw("write", peer_, [&](std::error_code& ec) { return write(buf, ec); });
}

std::size_t stream::write_all(std::span<const std::byte> buf, std::error_code& ec) {
    std::size_t done = 0;
    ec.clear();
    while (done < buf.size()) {
        done += write(buf.subspan(done), ec);
        if (ec) break;
    }
    return done;
}

std::size_t stream::write_all(std::span<const std::byte> buf) {
    return or_throw("write", peer_, [&](std::error_code& ec) { return write_all(buf, ec); });
}

void stream::shutdown(int how, std::error_code& ec) {
    once([&] { return sys_result(::shutdown(native_handle(), how)); }, ec);
}

void stream::shutdown(int how) {
    or_throw("shutdown", peer_, [&](std::error_code& ec) {
        shutdown(how, ec);
        return 0;
    });
}

// ---- connecting and listening -------------------------------------------------------------

// What the socket kinds share, with access to their insides.
struct socket_access {
    // A stream connected to a: a fresh socket, registered, then connected
    // as Go's netFD.connect does: a non-blocking connect completes when the
    // fd turns writable, and SO_ERROR tells how.
    template <class Stream> static Stream dial(const address& a, deadline d, std::error_code& ec) {
        ec.clear();
        Stream s;
        int fd = new_socket(a.family(), SOCK_STREAM, ec);
        if (fd < 0) return s;
        s.open(fd, true, ec);
        if (!ec) connect(s, a, d, ec);
        if (ec) return Stream{};
        s.peer_ = a;
        return s;
    }

    static void connect(stream& s, const address& a, deadline d, std::error_code& ec) {
        int fd = s.native_handle();
        int r;
        do
            r = ::connect(fd, a.native(), static_cast<socklen_t>(a.native_size()));
        while (r < 0 && errno == EINTR);
        if (r == 0) return;
        if (errno != EINPROGRESS) {
            ec = sys_error(errno);
            return;
        }
        for (;;) {
            if ((ec = s.wait_ready(true, d))) return;
            int err = 0;
            socklen_t len = sizeof err;
            if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
            if (err == 0) {
                // Woken early (a stale event) if the connection is not up yet.
                sockaddr_storage peer;
                socklen_t plen = sizeof peer;
                if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0) return;
                continue;
            }
            ec = sys_error(err);
            return;
        }
    }

    // A socket bound to a (and listening, for a stream), registered.
    template <class Socket>
    static Socket bind(const address& a, int type, int backlog, std::error_code& ec) {
        ec.clear();
        Socket s;
        int fd = new_socket(a.family(), type, ec);
        if (fd < 0) return s;
        if (a.family() != AF_UNIX && type == SOCK_STREAM)
            set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1, ec);
        if (!ec && ::bind(fd, a.native(), static_cast<socklen_t>(a.native_size())) < 0)
            ec = sys_error(errno);
        if (!ec && type == SOCK_STREAM && ::listen(fd, backlog) < 0) ec = sys_error(errno);
        if (ec) {
            ::close(fd);
            return s;
        }
        s.open(fd, true, ec);
        return s;
    }

    // One connection accepted on l, as a new Stream.
    template <class Stream> static Stream accept(const socket& l, std::error_code& ec) {
        Stream s;
        address peer;
        socklen_t len = sizeof(sockaddr_storage);
        long c = l.io(
            false,
            [&] {
                len = sizeof(sockaddr_storage);
                return sys_result(::accept4(l.native_handle(), peer.native(), &len,
                                            SOCK_NONBLOCK | SOCK_CLOEXEC));
            },
            ec);
        if (c < 0) return s;
        s.open(static_cast<int>(c), true, ec);
        if (ec) return Stream{};
        s.peer_ = address::from_native(peer.native(), len);
        return s;
    }
};

tcp_stream tcp_stream::connect(const address& a, std::error_code& ec, deadline d) {
    ec.clear();
    tcp_stream s = socket_access::dial<tcp_stream>(a, d, ec);
    if (!ec) set_int_option(s.native_handle(), IPPROTO_TCP, TCP_NODELAY, 1, ec);
    return ec ? tcp_stream{} : std::move(s);
}

tcp_stream tcp_stream::connect(const address& a, deadline d) {
    return or_throw("connect", a, [&](std::error_code& ec) { return connect(a, ec, d); });
}

namespace {

// Splits "host:port" ("[v6]:port" too) and resolves it.
std::vector<address> resolve_host_port(std::string_view host_port, std::error_code& ec) {
    if (auto a = address::parse(host_port)) return {*a};
    auto colon = host_port.rfind(':');
    unsigned long port = 0;
    if (colon != std::string_view::npos) {
        std::string p(host_port.substr(colon + 1));
        char* end = nullptr;
        port = std::strtoul(p.c_str(), &end, 10);
        if (p.empty() || *end != '\0' || port > 65535) colon = std::string_view::npos;
    }
    if (colon == std::string_view::npos) {
        ec = std::make_error_code(std::errc::invalid_argument); // not host:port
        return {};
    }
    return resolve(host_port.substr(0, colon), static_cast<std::uint16_t>(port), ec);
}

} // namespace

tcp_stream tcp_stream::connect(std::string_view host_port, std::error_code& ec, deadline d) {
    auto addrs = resolve_host_port(host_port, ec);
    tcp_stream s;
    for (const auto& a : addrs) {
        s = connect(a, ec, d);
        if (!ec) break;
    }
    return s;
}

tcp_stream tcp_stream::connect(std::string_view host_port, deadline d) {
    return or_throw("connect", host_port,
                    [&](std::error_code& ec) { return connect(host_port, ec, d); });
}

void tcp_stream::set_nodelay(bool on, std::error_code& ec) {
    int v = on ? 1 : 0;
    once(
        [&] {
            return sys_result(
                ::setsockopt(native_handle(), IPPROTO_TCP, TCP_NODELAY, &v, sizeof v));
        },
        ec);
}

void tcp_stream::set_nodelay(bool on) {
    or_throw("setsockopt TCP_NODELAY", peer_, [&](std::error_code& ec) {
        set_nodelay(on, ec);
        return 0;
    });
}

unix_stream unix_stream::connect(std::string_view path, std::error_code& ec, deadline d) {
    ec.clear();
    return socket_access::dial<unix_stream>(address::unix_path(path), d, ec);
}

unix_stream unix_stream::connect(std::string_view path, deadline d) {
    return or_throw("connect", path, [&](std::error_code& ec) { return connect(path, ec, d); });
}

std::pair<unix_stream, unix_stream> unix_stream::pair(std::error_code& ec) {
    ec.clear();
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) {
        ec = sys_error(errno);
        return {};
    }
    std::pair<unix_stream, unix_stream> p;
    p.first.open(fds[0], true, ec);
    if (ec) {
        ::close(fds[1]);
        return {};
    }
    p.second.open(fds[1], true, ec);
    if (ec) return {};
    return p;
}

std::pair<unix_stream, unix_stream> unix_stream::pair() {
    return or_throw("socketpair", "", [&](std::error_code& ec) { return pair(ec); });
}

tcp_listener tcp_listener::bind(const address& a, std::error_code& ec, int backlog) {
    return socket_access::bind<tcp_listener>(a, SOCK_STREAM, backlog, ec);
}

tcp_listener tcp_listener::bind(const address& a, int backlog) {
    return or_throw("listen", a, [&](std::error_code& ec) { return bind(a, ec, backlog); });
}

tcp_listener tcp_listener::bind(std::string_view host_port, std::error_code& ec, int backlog) {
    auto addrs = resolve_host_port(host_port, ec);
    if (ec) return {};
    return bind(addrs.front(), ec, backlog);
}

tcp_listener tcp_listener::bind(std::string_view host_port, int backlog) {
    return or_throw("listen", host_port,
                    [&](std::error_code& ec) { return bind(host_port, ec, backlog); });
}

tcp_stream tcp_listener::accept(std::error_code& ec) {
    tcp_stream s = socket_access::accept<tcp_stream>(*this, ec);
    if (!ec) set_int_option(s.native_handle(), IPPROTO_TCP, TCP_NODELAY, 1, ec);
    return ec ? tcp_stream{} : std::move(s);
}

tcp_stream tcp_listener::accept() {
    return or_throw("accept", *this, [&](std::error_code& ec) { return accept(ec); });
}

unix_listener::unix_listener(unix_listener&& o) noexcept
    : socket(std::move(o)), path_(std::exchange(o.path_, {})) {}

unix_listener& unix_listener::operator=(unix_listener&& o) noexcept {
    if (this != &o) {
        unlink_path();
        socket::operator=(std::move(o));
        path_ = std::exchange(o.path_, {});
    }
    return *this;
}

unix_listener::~unix_listener() { unlink_path(); }

void unix_listener::unlink_path() noexcept {
    if (!path_.empty()) {
        close();
        ::unlink(path_.c_str());
        path_.clear();
    }
}

unix_listener unix_listener::bind(std::string_view path, std::error_code& ec, int backlog) {
    auto l = socket_access::bind<unix_listener>(address::unix_path(path), SOCK_STREAM, backlog, ec);
    if (!ec && !path.empty() && path[0] != '@') l.path_ = std::string(path);
    return l;
}

unix_listener unix_listener::bind(std::string_view path, int backlog) {
    return or_throw("listen", path, [&](std::error_code& ec) { return bind(path, ec, backlog); });
}

unix_stream unix_listener::accept(std::error_code& ec) {
    return socket_access::accept<unix_stream>(*this, ec);
}

unix_stream unix_listener::accept() {
    return or_throw("accept", std::string_view(path_),
                    [&](std::error_code& ec) { return accept(ec); });
}

// ---- udp ---------------------------------------------------------------------------------

udp_socket udp_socket::bind(const address& a, std::error_code& ec) {
    return socket_access::bind<udp_socket>(a, SOCK_DGRAM, 0, ec);
}

udp_socket udp_socket::bind(const address& a) {
    return or_throw("listen", a, [&](std::error_code& ec) { return bind(a, ec); });
}

udp_socket udp_socket::bind(std::string_view host_port, std::error_code& ec) {
    auto addrs = resolve_host_port(host_port, ec);
    if (ec) return {};
    return bind(addrs.front(), ec);
}

udp_socket udp_socket::bind(std::string_view host_port) {
    return or_throw("listen", host_port, [&](std::error_code& ec) { return bind(host_port, ec); });
}

std::size_t udp_socket::send_to(std::span<const std::byte> buf, const address& to,
                                std::error_code& ec) {
    long n = io(
        true,
        [&] {
            return sys_result(::sendto(native_handle(), buf.data(), buf.size(), MSG_NOSIGNAL,
                                       to.native(), static_cast<socklen_t>(to.native_size())));
        },
        ec);
    return n < 0 ? 0 : static_cast<std::size_t>(n);
}

std::size_t udp_socket::send_to(std::span<const std::byte> buf, const address& to) {
    return or_throw("write", to, [&](std::error_code& ec) { return send_to(buf, to, ec); });
}

std::size_t udp_socket::recv_from(std::span<std::byte> buf, address& from, std::error_code& ec) {
    address a;
    socklen_t len = sizeof(sockaddr_storage);
    long n = io(
        false,
        [&] {
            len = sizeof(sockaddr_storage);
            return sys_result(
                ::recvfrom(native_handle(), buf.data(), buf.size(), 0, a.native(), &len));
        },
        ec);
    if (n < 0) return 0;
    from = address::from_native(a.native(), len);
    return static_cast<std::size_t>(n);
}

std::size_t udp_socket::recv_from(std::span<std::byte> buf, address& from) {
    return or_throw("read", *this, [&](std::error_code& ec) { return recv_from(buf, from, ec); });
}

// ---- any fd -------------------------------------------------------------------------------

poll_fd::poll_fd(int fd, std::error_code& ec) {
    ec.clear();
    open(fd, false, ec);
}

poll_fd::poll_fd(int fd) {
    std::error_code ec;
    open(fd, false, ec);
    if (ec) throw std::system_error(ec, "register fd " + std::to_string(fd));
}

std::error_code poll_fd::wait(bool write, deadline d) {
    // Level-triggered for the caller: the poller reports edges, so first ask
    // whether the fd is ready already, and ask again after every wake-up.
    for (;;) {
        pollfd p{native_handle(), static_cast<short>(write ? POLLOUT : POLLIN), 0};
        int r = ::poll(&p, 1, 0);
        if (r > 0) return {};
        if (r < 0 && errno != EINTR) return sys_error(errno);
        if (auto ec = wait_ready(write, d)) return ec;
    }
}

std::error_code poll_fd::wait_readable(deadline d) { return wait(false, d); }
std::error_code poll_fd::wait_writable(deadline d) { return wait(true, d); }

std::error_code wait_readable(int fd, deadline d) {
    std::error_code ec;
    poll_fd p(fd, ec);
    return ec ? ec : p.wait_readable(d);
}

std::error_code wait_writable(int fd, deadline d) {
    std::error_code ec;
    poll_fd p(fd, ec);
    return ec ? ec : p.wait_writable(d);
}

} // namespace rill::net
