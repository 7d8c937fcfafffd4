// Channels with Go's semantics. chan<T> is a reference-counted handle: copies
// refer to the same channel. A default-constructed handle is the nil channel
// (operations block forever; close throws). sender<T> / receiver<T> are
// one-directional views so that a signature says which way data flows.
// Works from goroutines and from plain OS threads (which then block).
//
// Memory ordering (Go's rules, go.dev/ref/mem; README "Memory model"): what a
// goroutine or thread wrote before an operation is visible to whoever
// completes an operation it happens before, with no data race:
//  - a send happens before the corresponding receive completes;
//  - the close of a channel happens before a receive that returns because
//    the channel is closed (recv's nullopt, the end of a range-for) and
//    before closed() returns true;
//  - the k-th receive on a channel of capacity C happens before the
//    (k+C)-th send on it completes; so on an unbuffered channel a receive
//    happens before the corresponding send completes, and a channel of
//    capacity C can serve as a semaphore of C.
// try_send and try_recv that succeed are a send and a receive, with those
// guarantees. The queries promise less: a failed try_send or try_recv (even
// on a closed and drained channel: ask closed()), closed() returning false
// and len() order nothing; len() is a snapshot, racy as soon as it is read,
// for statistics and heuristics, never a sign that a value's contents may
// be read before it is received. cap() never changes.
#pragma once

#include <rill/detail/chan_core.hpp>

#include <cstddef>
#include <optional>
#include <utility>

namespace rill {

template <class T> class chan;
template <class T> class sender;
template <class T> class receiver;

namespace detail {
template <class T> class chan_handle {
public:
    static_assert(std::is_nothrow_move_constructible_v<T>,
                  "channel element types must be nothrow move constructible");
    chan_handle() noexcept = default;
    chan_handle(const chan_handle& o) noexcept : c_(o.c_) {
        if (c_) chan_retain(c_);
    }
    chan_handle(chan_handle&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    chan_handle& operator=(chan_handle o) noexcept {
        std::swap(c_, o.c_);
        return *this;
    }
    ~chan_handle() {
        if (c_) chan_release(c_);
    }
    bool is_nil() const noexcept { return c_ == nullptr; }
    std::size_t len() const noexcept { return chan_len(c_); }
    std::size_t cap() const noexcept { return chan_cap(c_); }
    chan_core* core() const noexcept { return c_; }
    friend bool operator==(const chan_handle& a, const chan_handle& b) noexcept {
        return a.c_ == b.c_;
    }

protected:
    explicit chan_handle(chan_core* c) noexcept : c_(c) {}
    chan_core* c_ = nullptr;

    void do_send(T v) { chan_send(c_, &v, true); }
    bool do_try_send(T& v) { return chan_send(c_, &v, false); }
    std::optional<T> do_recv(bool block, bool* selected) {
        alignas(T) unsigned char buf[sizeof(T)];
        auto r = chan_recv(c_, buf, block);
        if (selected) *selected = r.selected;
        if (!r.received) return std::nullopt;
        T* p = std::launder(reinterpret_cast<T*>(buf));
        std::optional<T> out(std::move(*p));
        p->~T();
        return out;
    }
};
} // namespace detail

// Ranges over a channel until it is closed and drained: for (auto v : rx) ...
template <class T> class chan_iterator {
public:
    chan_iterator() = default;
    explicit chan_iterator(receiver<T> r) : rx_(std::move(r)) { ++*this; }
    T& operator*() { return *cur_; }
    chan_iterator& operator++() {
        cur_ = rx_.recv();
        return *this;
    }
    bool operator==(const chan_iterator& o) const { return !cur_ && !o.cur_; }

private:
    receiver<T> rx_;
    std::optional<T> cur_;
};

template <class T> class receiver : public detail::chan_handle<T> {
public:
    receiver() noexcept = default;
    // Blocks until a value arrives; empty once the channel is closed and drained.
    std::optional<T> recv() { return this->do_recv(true, nullptr); }
    // Never blocks: empty if nothing is ready (see closed()) or closed and drained.
    std::optional<T> try_recv() { return this->do_recv(false, nullptr); }
    bool closed() const noexcept { return detail::chan_closed(this->c_); }
    chan_iterator<T> begin() const { return chan_iterator<T>(*this); }
    chan_iterator<T> end() const { return {}; }

private:
    friend class chan<T>;
    explicit receiver(detail::chan_core* c) noexcept : detail::chan_handle<T>(c) {}
};

template <class T> class sender : public detail::chan_handle<T> {
public:
    sender() noexcept = default;
    // Blocks until the value is taken (unbuffered) or buffered. Throws closed_channel_error.
    void send(T v) { this->do_send(std::move(v)); }
    // Never blocks; moves from v only when it returns true.
    bool try_send(T& v) { return this->do_try_send(v); }
    bool try_send(T&& v) { return this->do_try_send(v); }
    // Wakes every receiver; buffered values can still be received. Throws if already closed.
    void close() { detail::chan_close(this->c_); }

private:
    friend class chan<T>;
    explicit sender(detail::chan_core* c) noexcept : detail::chan_handle<T>(c) {}
};

template <class T> class chan : public detail::chan_handle<T> {
public:
    // The nil channel.
    chan() noexcept = default;
    // A channel holding up to capacity values (0: unbuffered rendezvous).
    explicit chan(std::size_t capacity)
        : detail::chan_handle<T>(detail::chan_make(&detail::elem_ops_for<T>, capacity)) {}

    void send(T v) { this->do_send(std::move(v)); }
    bool try_send(T& v) { return this->do_try_send(v); }
    bool try_send(T&& v) { return this->do_try_send(v); }
    std::optional<T> recv() { return this->do_recv(true, nullptr); }
    std::optional<T> try_recv() { return this->do_recv(false, nullptr); }
    void close() { detail::chan_close(this->c_); }
    bool closed() const noexcept { return detail::chan_closed(this->c_); }

    sender<T> tx() const noexcept {
        if (this->c_) detail::chan_retain(this->c_);
        return sender<T>(this->c_);
    }
    receiver<T> rx() const noexcept {
        if (this->c_) detail::chan_retain(this->c_);
        return receiver<T>(this->c_);
    }
    operator sender<T>() const noexcept { return tx(); }
    operator receiver<T>() const noexcept { return rx(); }

    chan_iterator<T> begin() const { return chan_iterator<T>(rx()); }
    chan_iterator<T> end() const { return {}; }
};

} // namespace rill
