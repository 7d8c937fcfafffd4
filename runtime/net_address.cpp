// Socket addresses and host:port parsing (the address half of Go's
// net/ipsock.go and net/ip.go); see <rill/net.hpp>.
#include <rill/net.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

namespace rill::net {

static_assert(sizeof(sockaddr_storage) <= 128);

address::address() noexcept { std::memset(storage_, 0, sizeof storage_); }

std::optional<address> address::ip(std::string_view ip, std::uint16_t port) {
    char text[INET6_ADDRSTRLEN + 1];
    if (ip.size() >= sizeof text) return std::nullopt;
    std::memcpy(text, ip.data(), ip.size());
    text[ip.size()] = '\0';
    address a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(a.storage_);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(a.storage_);
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.len_ = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.len_ = sizeof(sockaddr_in6);
    } else {
        return std::nullopt;
    }
    return a;
}

std::optional<address> address::parse(std::string_view ip_port) {
    auto colon = ip_port.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view host = ip_port.substr(0, colon), port = ip_port.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    std::uint16_t p = 0;
    auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (err != std::errc{} || end != port.data() + port.size() || port.empty()) return std::nullopt;
    return ip(host, p);
}

address address::unix_path(std::string_view path) {
    address a;
    auto* un = reinterpret_cast<sockaddr_un*>(a.storage_);
    un->sun_family = AF_UNIX;
    std::size_t n = std::min(path.size(), sizeof un->sun_path - 1);
    std::memcpy(un->sun_path, path.data(), n);
    if (n > 0 && path[0] == '@') un->sun_path[0] = '\0';
    // An abstract name is exactly n bytes long; a path is NUL-terminated.
    a.len_ = static_cast<std::uint32_t>(offsetof(sockaddr_un, sun_path) + n +
                                        (un->sun_path[0] != '\0' ? 1 : 0));
    return a;
}

address address::from_native(const sockaddr* sa, std::size_t len) {
    address a;
    len = std::min(len, sizeof a.storage_);
    std::memcpy(a.storage_, sa, len);
    a.len_ = static_cast<std::uint32_t>(len);
    return a;
}

int address::family() const noexcept {
    return len_ ? reinterpret_cast<const sockaddr*>(storage_)->sa_family : 0;
}

std::uint16_t address::port() const noexcept {
    switch (family()) {
    case AF_INET:
        return ntohs(reinterpret_cast<const sockaddr_in*>(storage_)->sin_port);
    case AF_INET6:
        return ntohs(reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_port);
    default:
        return 0;
    }
}

std::string address::to_string() const {
    char text[INET6_ADDRSTRLEN];
    switch (family()) {
    case AF_INET:
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(storage_)->sin_addr, text,
                  sizeof text);
        return std::string(text) + ":" + std::to_string(port());
    case AF_INET6:
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_addr, text,
                  sizeof text);
        return "[" + std::string(text) + "]:" + std::to_string(port());
    case AF_UNIX: {
        const auto* un = reinterpret_cast<const sockaddr_un*>(storage_);
        std::size_t n = len_ - offsetof(sockaddr_un, sun_path);
        if (n == 0) return "";
        if (un->sun_path[0] == '\0') return "@" + std::string(un->sun_path + 1, n - 1);
        return std::string(un->sun_path, strnlen(un->sun_path, n));
    }
    default:
        return "";
    }
}

const sockaddr* address::native() const noexcept {
    return reinterpret_cast<const sockaddr*>(storage_);
}
sockaddr* address::native() noexcept { return reinterpret_cast<sockaddr*>(storage_); }
std::size_t address::native_size() const noexcept { return len_; }

bool operator==(const address& a, const address& b) noexcept {
    return a.len_ == b.len_ && std::memcmp(a.storage_, b.storage_, a.len_) == 0;
}

} // namespace rill::net
