// The poller the scheduler blocks in when it has nothing to run (mirrors Go's
// runtime/netpoll.go): epoll on Linux. For now it waits only for the next
// timer and for netpoll_break; socket readiness joins it with runtime I/O.
#pragma once

#include <cstdint>

namespace rill::detail {

void netpoll_init();
// Blocks up to delay_ns (< 0: until broken).
void netpoll_wait(std::int64_t delay_ns);
// Makes a current or the next netpoll_wait return at once.
void netpoll_break();

} // namespace rill::detail
