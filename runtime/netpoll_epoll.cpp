// epoll-based poller (mirrors Go's runtime/netpoll_epoll.go).
#include "netpoll.hpp"

#include "log.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace rill::detail {

namespace {
int epfd = -1;
int breakfd = -1;
// Set while a break is pending, so that a burst of breaks writes once.
std::atomic<bool> break_pending{false};
std::atomic<int> io_waiters{0};
} // namespace

void netpoll_init() {
    epfd = epoll_create1(EPOLL_CLOEXEC);
    breakfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epfd < 0 || breakfd < 0) {
        runtime_log().critical("rill: cannot create the poller (epoll/eventfd): {}",
                               std::strerror(errno));
        std::_Exit(2);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev);
}

bool netpoll_has_waiters() noexcept { return io_waiters.load(std::memory_order_acquire) > 0; }

int netpoll(std::int64_t delay_ns) {
    epoll_event evs[8];
    int n;
    // epoll_pwait2 (Linux 5.11) takes nanoseconds; plain epoll_wait rounds
    // up to milliseconds, which would make short sleeps late.
    static std::atomic<bool> have_pwait2{true};
    if (have_pwait2.load(std::memory_order_relaxed)) {
        timespec ts{static_cast<time_t>(delay_ns / 1'000'000'000),
                    static_cast<long>(delay_ns % 1'000'000'000)};
        n = epoll_pwait2(epfd, evs, 8, delay_ns >= 0 ? &ts : nullptr, nullptr);
        if (n < 0 && errno == ENOSYS) have_pwait2.store(false, std::memory_order_relaxed);
    } else {
        std::int64_t ms =
            delay_ns < 0 ? -1 : std::min<std::int64_t>((delay_ns + 999'999) / 1'000'000, INT32_MAX);
        n = epoll_wait(epfd, evs, 8, static_cast<int>(ms));
    }
    int readied = 0;
    for (int i = 0; i < n; ++i) {
        if (evs[i].data.ptr == nullptr) {
            std::uint64_t v;
            (void)!read(breakfd, &v, sizeof v);
            break_pending.store(false, std::memory_order_release);
        }
    }
    return readied;
}

void netpoll_break() {
    if (break_pending.exchange(true, std::memory_order_acq_rel)) return;
    std::uint64_t one = 1;
    (void)!write(breakfd, &one, sizeof one);
}

} // namespace rill::detail
