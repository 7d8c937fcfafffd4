// Type-erased channel core (mirrors Go's runtime/chan.go). chan<T> and select
// are thin typed layers over it; elements are moved through elem_ops.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <type_traits>

namespace rill {

// Thrown by send on a closed channel, close of a closed channel and close of a
// nil channel: the C++ form of Go's panic.
class closed_channel_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

namespace detail {

struct elem_ops {
    std::size_t size;
    std::size_t align;
    void (*move_construct)(void* dst, void* src) noexcept; // dst uninitialised
    void (*destroy)(void* p) noexcept;
};

template <class T> inline constexpr elem_ops elem_ops_for{
    sizeof(T), alignof(T),
    [](void* dst, void* src) noexcept { new (dst) T(std::move(*static_cast<T*>(src))); },
    [](void* p) noexcept { static_cast<T*>(p)->~T(); }};

struct chan_core;

chan_core* chan_make(const elem_ops* ops, std::size_t capacity);
void chan_retain(chan_core* c) noexcept;
void chan_release(chan_core* c) noexcept;

// A nil channel (c == nullptr) blocks forever when block is set.
// send moves from *src only when it returns true; throws closed_channel_error.
bool chan_send(chan_core* c, void* src, bool block);

struct recv_result {
    bool selected; // false: non-blocking and nothing ready
    bool received; // true: *dst was constructed; false with selected: closed and drained
};
recv_result chan_recv(chan_core* c, void* dst, bool block);
void chan_close(chan_core* c);
std::size_t chan_len(const chan_core* c) noexcept;
std::size_t chan_cap(const chan_core* c) noexcept;
bool chan_closed(const chan_core* c) noexcept;

// One case of a select, as selectgo sees it.
struct select_case {
    enum kind_t : std::uint8_t { recv, send };
    chan_core* c; // nullptr disables the case
    void* elem;   // send: the value to move from; recv: uninitialised storage
    kind_t kind;
    bool received; // out: recv case got a value (false: channel closed)
};

constexpr std::int64_t no_deadline = INT64_MAX;
// Returns the index of the chosen case, or -1 if block is false and nothing was
// ready, or -2 if deadline (steady-clock nanoseconds) passed first.
// Throws closed_channel_error if a chosen send case's channel is closed.
int select_go(select_case* cases, int n, bool block, std::int64_t deadline);

std::int64_t nanotime() noexcept; // steady clock, nanoseconds
inline std::int64_t deadline_after(std::chrono::nanoseconds d) noexcept {
    if (d.count() <= 0) return nanotime();
    auto now = nanotime();
    return d.count() > no_deadline - now ? no_deadline : now + d.count();
}

} // namespace detail
} // namespace rill
