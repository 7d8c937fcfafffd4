#include "run/service_notify.hpp"
#include "run/stage_log.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace rill::config::detail {

namespace {

std::optional<unsigned long long> env_number(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    unsigned long long n = 0;
    auto [end, ec] = std::from_chars(v, v + std::strlen(v), n);
    if (ec != std::errc() || *end != '\0') return std::nullopt;
    return n;
}

spdlog::logger& log() {
    static spdlog::logger& l = process_logger("rill.config");
    return l;
}

} // namespace

service_notifier::service_notifier() {
    const char* sock = std::getenv("NOTIFY_SOCKET");
    if (!sock || !*sock) return;
    path_ = sock;
    if (path_.size() >= sizeof(sockaddr_un::sun_path) || (path_[0] != '/' && path_[0] != '@')) {
        log().warn("NOTIFY_SOCKET={} is not a socket path systemd would give: not notifying",
                   path_);
        return;
    }
    if (path_[0] == '@') path_[0] = '\0';
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        log().warn("cannot open a socket to notify systemd: {}", std::strerror(errno));
        return;
    }
    auto usec = env_number("WATCHDOG_USEC");
    auto pid = env_number("WATCHDOG_PID");
    if (usec && *usec > 0 && (!pid || *pid == static_cast<unsigned long long>(::getpid())))
        ping_ = std::chrono::microseconds(*usec / 2 > 0 ? *usec / 2 : 1);
}

service_notifier::~service_notifier() {
    if (fd_ >= 0) ::close(fd_);
}

void service_notifier::send(std::string_view message) {
    if (fd_ < 0) return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
    ssize_t n;
    do {
        n = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                     reinterpret_cast<const sockaddr*>(&addr), len);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && !warned_.exchange(true)) {
        log().warn("cannot notify systemd at NOTIFY_SOCKET: {} (further failures not logged)",
                   std::strerror(errno));
    }
}

} // namespace rill::config::detail
