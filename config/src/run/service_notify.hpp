// systemd's service notification protocol (sd_notify(3)), spoken by
// `rill run` when systemd started it with Type=notify: NOTIFY_SOCKET names a
// Unix datagram socket (a leading '@' an abstract one), and each message is
// one datagram of newline-separated KEY=VALUE assignments. rill sends
// READY=1 once every stage has started, STOPPING=1 when a drain begins,
// STATUS= lines saying how the run goes, and, when WATCHDOG_USEC is set (and
// WATCHDOG_PID, if set, is this process), WATCHDOG=1 every half of that
// interval from a goroutine: a runtime that stops scheduling stops pinging,
// and systemd restarts the service. Written by hand rather than with
// libsystemd: the protocol is one sendto(2), and this keeps rill free of a
// dependency that only this would use.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace rill::config::detail {

class service_notifier {
public:
    // From the environment; does nothing when NOTIFY_SOCKET is unset.
    service_notifier();
    ~service_notifier();
    service_notifier(const service_notifier&) = delete;
    service_notifier& operator=(const service_notifier&) = delete;

    bool enabled() const noexcept { return fd_ >= 0; }
    // Sends one message (e.g. "READY=1\nSTATUS=running"); a failure is logged
    // once and otherwise ignored: systemd's absence must not stop a run.
    void send(std::string_view message);
    // How often to ping the watchdog: half of WATCHDOG_USEC, when set for us.
    std::optional<std::chrono::microseconds> watchdog_period() const noexcept { return ping_; }

private:
    int fd_ = -1;
    std::string path_; // the socket's address ('\0' first for an abstract one)
    std::optional<std::chrono::microseconds> ping_;
    std::atomic<bool> warned_{false}; // send is called from several threads
};

} // namespace rill::config::detail
