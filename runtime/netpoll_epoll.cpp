// epoll-based poller (mirrors Go's runtime/netpoll_epoll.go): every fd is
// registered once, edge triggered for both directions, with its poll
// descriptor as the event's data; the eventfd that breaks a blocking poll is
// registered with null data.
#include "netpoll.hpp"

#include "log.hpp"
#include "poll_desc.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#if defined(RILL_SANITIZE_THREAD)
#include <sanitizer/tsan_interface.h>
#endif

namespace rill::detail {

namespace {
int epfd = -1;
int breakfd = -1;
// Set while a break is pending, so that a burst of breaks writes once.
std::atomic<bool> break_pending{false};
std::atomic<int> io_waiters{0};

// As Go: a bigger batch costs more stack on g0 than it saves in calls.
constexpr int max_events = 128;

// Sockets may be created before the runtime starts (and so before
// netpoll_init): whichever comes first creates the poller.
void create_poller() {
    // errno is saved right after the call that failed: the second call
    // would overwrite the first one's.
    int err = 0;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) err = errno;
    breakfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (breakfd < 0 && !err) err = errno;
    if (err) {
        runtime_log().critical("rill: cannot create the poller ({}): {}",
                               epfd < 0 ? "epoll_create1" : "eventfd", std::strerror(err));
        std::_Exit(2);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev);
}

std::once_flag poller_once;

} // namespace

void netpoll_init() { std::call_once(poller_once, create_poller); }

int netpoll_open(int fd, poll_desc* pd) noexcept {
    netpoll_init();
#if defined(RILL_SANITIZE_THREAD)
    // The kernel orders epoll_ctl before the epoll_wait that returns pd, out
    // of TSan's sight: say so (acquired in netpoll).
    __tsan_release(pd);
#endif
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = pd;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : errno;
}

int netpoll_close(int fd) noexcept {
    epoll_event ev{};
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) == 0 ? 0 : errno;
}

void netpoll_add_waiters(int delta) noexcept {
    io_waiters.fetch_add(delta, std::memory_order_acq_rel);
}

int netpoll_waiters() noexcept { return io_waiters.load(std::memory_order_acquire); }

bool netpoll_has_waiters() noexcept { return io_waiters.load(std::memory_order_acquire) > 0; }

G* netpoll(std::int64_t delay_ns) {
    epoll_event evs[max_events];
    int n;
    // epoll_pwait2 (Linux 5.11) takes nanoseconds; plain epoll_wait rounds
    // up to milliseconds, which would make short sleeps late.
    static std::atomic<bool> have_pwait2{true};
    if (have_pwait2.load(std::memory_order_relaxed)) {
        timespec ts{static_cast<time_t>(delay_ns / 1'000'000'000),
                    static_cast<long>(delay_ns % 1'000'000'000)};
        n = epoll_pwait2(epfd, evs, max_events, delay_ns >= 0 ? &ts : nullptr, nullptr);
        if (n < 0 && errno == ENOSYS) have_pwait2.store(false, std::memory_order_relaxed);
    } else {
        std::int64_t ms =
            delay_ns < 0 ? -1 : std::min<std::int64_t>((delay_ns + 999'999) / 1'000'000, INT32_MAX);
        n = epoll_wait(epfd, evs, max_events, static_cast<int>(ms));
    }
    // Claimed goroutines are readied only after every event is handled, so
    // that no descriptor lock is held across ready().
    G* list = nullptr;
    for (int i = 0; i < n; ++i) {
        auto* pd = static_cast<poll_desc*>(evs[i].data.ptr);
        std::uint32_t e = evs[i].events;
        if (pd == nullptr) {
            std::uint64_t v;
            (void)!read(breakfd, &v, sizeof v);
            break_pending.store(false, std::memory_order_release);
            continue;
        }
        // A hang-up or an error wakes both directions: the next system call
        // reports it, which is how a reset peer never leaves a goroutine hanging.
        int modes = 0;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) modes |= pd_read;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) modes |= pd_write;
#if defined(RILL_SANITIZE_THREAD)
        __tsan_acquire(pd);
#endif
        pd_ready(pd, modes, &list);
    }
    return list;
}

void netpoll_break() {
    if (break_pending.exchange(true, std::memory_order_acq_rel)) return;
    std::uint64_t one = 1;
    (void)!write(breakfd, &one, sizeof one);
}

} // namespace rill::detail
