// Test helper: how many goroutines (or threads) wait in a channel's queues,
// read under the channel's lock, so tests can wait for a state instead of
// sleeping.
#pragma once

#include "hchan.hpp" // runtime internals: chan_core, waitq

#include <rill/chan.hpp>

#include <cstddef>
#include <mutex>

namespace rill_test {

inline std::size_t queued(rill::detail::chan_core* c, rill::detail::waitq& q) {
    std::lock_guard<rill::detail::rt_lock> g(c->lock);
    std::size_t n = 0;
    for (auto* w = q.front(); w; w = w->next)
        ++n;
    return n;
}
template <class T> std::size_t blocked_receivers(const rill::chan<T>& c) {
    return queued(c.core(), c.core()->recvq);
}
template <class T> std::size_t blocked_senders(const rill::chan<T>& c) {
    return queued(c.core(), c.core()->sendq);
}

} // namespace rill_test
