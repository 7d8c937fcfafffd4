// Goroutine-aware futex (the role of Go's runtime/sema.go): parks the calling
// goroutine, or blocks the calling plain thread, on an address. The sync
// primitives (sync.cpp) are built on it.
#pragma once

#include "g.hpp"

#include <atomic>
#include <cstdint>

namespace rill::detail {

// Parks while *addr == expected until gfutex_wake(addr) or deadline
// (steady nanotime; no_deadline for none). Returns false on timeout. Like
// futex(2), it may return spuriously: callers re-check their condition.
bool gfutex_wait(const std::atomic<std::uint32_t>* addr, std::uint32_t expected, wait_reason why,
                 std::int64_t deadline = INT64_MAX);
// Wakes up to n waiters on addr; returns how many.
int gfutex_wake(const std::atomic<std::uint32_t>* addr, int n);

} // namespace rill::detail
