// Poll descriptors: one per file descriptor that goroutines wait on (mirrors
// Go's pollDesc in runtime/netpoll.go, plus the reference count of
// internal/poll/fd_mutex.go). Internal to the runtime.
//
// Contract. pd_open registers a non-blocking fd with the poller once, edge
// triggered for both directions, and returns a descriptor holding one
// reference (the owner's) under a generation number. Every operation on the
// fd takes a reference with pd_acquire(pd, gen) for its duration; pd_close
// marks the descriptor closed, wakes every waiter, and drops the owner's
// reference; whoever drops the last one closes the fd (or, for a user's fd,
// only deregisters it) and recycles the descriptor under a new generation.
// So a stale handle never reaches a recycled descriptor or a reused fd
// number. Descriptors are never freed: the poller may still hold an event
// for a recycled one, which then only causes a spurious wake-up.
//
// pd_wait parks the calling goroutine until the fd may have become ready in
// that direction since the caller's last attempt: callers always try the
// system call first and wait only after EAGAIN (not after a short read,
// which may leave an end of stream that raises no further edge), and retry
// after every return of pd_ready, which may be spurious.
#pragma once

#include "g.hpp"

#include <cstdint>

namespace rill::detail {

struct poll_desc;

enum pd_mode : int { pd_read = 1, pd_write = 2 };
enum class pd_result { ready, closed, timed_out };

// Registers fd (non-blocking) with the poller. own_fd: close it when the last
// reference goes; otherwise only deregister it. Returns null with errno set
// if the poller refuses the fd; *gen receives the handle's generation.
poll_desc* pd_open(int fd, bool own_fd, std::uint32_t* gen) noexcept;
// Takes a reference for one operation; false once the handle was closed.
bool pd_acquire(poll_desc* pd, std::uint32_t gen) noexcept;
void pd_release(poll_desc* pd) noexcept;
// Marks the handle closed, wakes its waiters and drops the owner's
// reference. False if it was closed already.
bool pd_close(poll_desc* pd, std::uint32_t gen) noexcept;
// Whether the handle is open (not yet closed by pd_close).
bool pd_is_open(const poll_desc* pd, std::uint32_t gen) noexcept;
// Before an operation's first attempt (Go's prepareRead/prepareWrite):
// closed, timed_out if the mode's deadline has passed, else ready.
pd_result pd_check(poll_desc* pd, pd_mode mode) noexcept;
// Waits (the caller holds a reference) until the fd may be ready for mode,
// the descriptor is closed, or the mode's deadline passes. A plain thread
// (or a goroutine inside rill::blocking) blocks in poll(2) instead.
pd_result pd_wait(poll_desc* pd, pd_mode mode) noexcept;
// Sets the deadline (steady nanotime, INT64_MAX: none) of the modes given
// (a mask of pd_mode) and wakes their waiters, which re-check it.
void pd_set_deadline(poll_desc* pd, int modes, std::int64_t when) noexcept;

// ---- poller side (netpoll_epoll.cpp) -----------------------------------------------

// The fd became ready for modes (a mask of pd_mode). Claims the goroutines
// that wait on it and pushes them on *list (linked through schedlink) for
// the caller to ready() after all events are handled.
void pd_ready(poll_desc* pd, int modes, G** list) noexcept;
// Readies the goroutines on list; returns how many.
int pd_ready_list(G* list) noexcept;
// Registration with epoll; errno-style results (0 or an errno value).
int netpoll_open(int fd, poll_desc* pd) noexcept;
int netpoll_close(int fd) noexcept;
// The count netpoll_has_waiters() reads: goroutines parked in pd_wait.
void netpoll_add_waiters(int delta) noexcept;
int netpoll_waiters() noexcept;

} // namespace rill::detail
