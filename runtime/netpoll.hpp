// The poller the scheduler blocks in when it has nothing to run (mirrors Go's
// runtime/netpoll.go): epoll on Linux. It waits for the next timer and for
// I/O readiness of the descriptors goroutines wait on (see poll_desc.hpp).
#pragma once

#include <cstdint>

namespace rill::detail {

void netpoll_init();
// Waits up to delay_ns (< 0: until an event or a break; 0: not at all) and
// returns the goroutines whose descriptors became ready, their waits claimed
// (claim_woken) but not yet readied, linked through schedlink: the scheduler
// queues them in one batch (Go's injectglist). Safe to call from several
// threads at once.
struct G;
G* netpoll(std::int64_t delay_ns);
// Makes a current or the next blocking netpoll return at once.
void netpoll_break();
// True while some goroutine waits for I/O: the scheduler must then poll even
// with no timer pending.
bool netpoll_has_waiters() noexcept;

} // namespace rill::detail
