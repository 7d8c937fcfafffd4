// epoll-based poller (mirrors Go's runtime/netpoll_epoll.go).
#include "netpoll.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace rill::detail {

namespace {
int epfd = -1;
int breakfd = -1;
// Set while a break is pending, so that a burst of breaks writes once.
std::atomic<bool> break_pending{false};
} // namespace

void netpoll_init() {
    epfd = epoll_create1(EPOLL_CLOEXEC);
    breakfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epfd < 0 || breakfd < 0) {
        spdlog::critical("rill: cannot create the poller (epoll/eventfd): {}",
                         std::strerror(errno));
        std::_Exit(2);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev);
}

void netpoll_wait(std::int64_t delay_ns) {
    int ms = -1;
    if (delay_ns >= 0) {
        std::int64_t m = (delay_ns + 999'999) / 1'000'000; // never wake before the timer
        ms = m > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(m);
    }
    epoll_event evs[8];
    int n = epoll_wait(epfd, evs, 8, ms);
    for (int i = 0; i < n; ++i) {
        if (evs[i].data.ptr == nullptr) {
            std::uint64_t v;
            (void)!read(breakfd, &v, sizeof v);
            break_pending.store(false, std::memory_order_release);
        }
    }
}

void netpoll_break() {
    if (break_pending.exchange(true, std::memory_order_acq_rel)) return;
    std::uint64_t one = 1;
    (void)!write(breakfd, &one, sizeof one);
}

} // namespace rill::detail
