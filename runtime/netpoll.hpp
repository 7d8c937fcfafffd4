// The poller the scheduler blocks in when it has nothing to run (mirrors Go's
// runtime/netpoll.go): epoll on Linux. It waits for the next timer and for
// I/O readiness of the descriptors goroutines wait on (see net_poll.hpp).
#pragma once

#include <cstdint>

namespace rill::detail {

void netpoll_init();
// Waits up to delay_ns (< 0: until an event or a break; 0: not at all) and
// makes the goroutines whose descriptors became ready runnable (ready()).
// Returns how many it readied. Safe to call from several threads at once.
int netpoll(std::int64_t delay_ns);
// Makes a current or the next blocking netpoll return at once.
void netpoll_break();
// True while some goroutine waits for I/O: the scheduler must then poll even
// with no timer pending.
bool netpoll_has_waiters() noexcept;

} // namespace rill::detail
