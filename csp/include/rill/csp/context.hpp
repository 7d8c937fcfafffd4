// Contexts (mirrors Go's context package): a tree of cancellation scopes that
// carry a done channel, an error, a cause, an optional deadline and typed values.
//
// Contract: cancelling a context cancels every descendant and never its
// parent; it closes done() exactly once, after err() and cause() are set, so
// a goroutine woken by done() sees them. A default-constructed context is
// background(): never done, no deadline, no values, and its done() is the nil
// channel (a select case on it never fires). Unlike Go, a context that is no
// longer referenced unlinks itself from its parent and stops its deadline
// timer, so forgetting to call cancel leaks nothing; but done() is closed only
// while the context (or its cancel_func) is alive, so keep one of them for as
// long as you wait on done(). Every operation is safe from any goroutine or
// thread; a cancel_func may be called any number of times.
//
// Memory ordering (README "Memory model"): the cancellation that takes
// effect (the first cancel_func call, the deadline or the parent's
// cancellation, whichever comes first) happens before a receive from done()
// returns because done() is closed, before done().closed() returns true,
// before err() returns something other than context_err::none (so before
// is_done() returns true, cause() returns the cause and throw_if_done()
// throws), and before after_func's f starts; and a parent's cancellation
// happens before its descendants'. So whatever a goroutine wrote before it
// called cancel is visible to whoever sees the context done, in any of
// these ways. A cancel that comes later does nothing and orders nothing;
// err() returning none and done().closed() returning false order nothing.
#pragma once

#include <rill/chan.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace rill {

// Why a context is done (Go's ctx.Err()).
enum class context_err { none, canceled, deadline_exceeded };

// The default causes (Go's context.Canceled and context.DeadlineExceeded):
// cause() holds one of these unless cancel was given a cause of its own.
class context_canceled : public std::runtime_error {
public:
    context_canceled() : std::runtime_error("context canceled") {}

protected:
    using std::runtime_error::runtime_error;
};
class deadline_exceeded : public context_canceled {
public:
    deadline_exceeded() : context_canceled("context deadline exceeded") {}
};

// A typed key for with_value; keys compare by address, so define each once
// (e.g. `inline const rill::context_key<std::string> request_id{"request_id"};`).
template <class T> class context_key {
public:
    explicit context_key(std::string_view name = {}) : name_(name) {}
    context_key(const context_key&) = delete;
    context_key& operator=(const context_key&) = delete;
    std::string_view name() const noexcept { return name_; }

private:
    std::string name_;
};

namespace detail {
struct ctx_node;
std::shared_ptr<ctx_node> ctx_with_value(std::shared_ptr<ctx_node> parent, const void* key,
                                         std::shared_ptr<const void> value);
const void* ctx_value(const ctx_node* n, const void* key) noexcept;
} // namespace detail

class cancel_func;

class context {
public:
    // background()
    context() noexcept = default;

    // Closed once the context is cancelled; the nil channel for a context that
    // can never be cancelled (background and its value-only descendants).
    receiver<std::monostate> done() const;
    context_err err() const noexcept;
    bool is_done() const noexcept { return err() != context_err::none; }
    // The cause given to cancel (else context_canceled / deadline_exceeded);
    // nullptr while not done.
    std::exception_ptr cause() const;
    // Rethrows cause() if the context is done.
    void throw_if_done() const;
    std::optional<std::chrono::steady_clock::time_point> deadline() const noexcept;
    // The value stored under key by this context or its nearest ancestor that
    // has one; nullptr if none. Valid while the context lives.
    template <class T> const T* value(const context_key<T>& key) const noexcept {
        return static_cast<const T*>(detail::ctx_value(n_.get(), &key));
    }

    friend bool operator==(const context& a, const context& b) noexcept { return a.n_ == b.n_; }

private:
    friend class cancel_func;
    friend std::pair<context, cancel_func> with_cancel(const context&);
    friend std::pair<context, cancel_func> with_deadline(const context&,
                                                         std::chrono::steady_clock::time_point);
    template <class T, class V>
    friend context with_value(const context&, const context_key<T>&, V&&);
    friend std::function<bool()> after_func(const context&, std::function<void()>);
    explicit context(std::shared_ptr<detail::ctx_node> n) noexcept : n_(std::move(n)) {}
    std::shared_ptr<detail::ctx_node> n_;
};

// Cancels the context it came with (and so its descendants). Copyable; the
// first call wins, later ones do nothing.
class cancel_func {
public:
    cancel_func() noexcept = default;
    void operator()() const { cancel(nullptr); }
    // Cancels with a cause of its own; cause() then returns it.
    void operator()(std::exception_ptr cause) const { cancel(std::move(cause)); }
    explicit operator bool() const noexcept { return n_ != nullptr; }

private:
    friend std::pair<context, cancel_func> with_cancel(const context&);
    friend std::pair<context, cancel_func> with_deadline(const context&,
                                                         std::chrono::steady_clock::time_point);
    explicit cancel_func(std::shared_ptr<detail::ctx_node> n) noexcept : n_(std::move(n)) {}
    void cancel(std::exception_ptr cause) const;
    std::shared_ptr<detail::ctx_node> n_;
};

inline context background() noexcept { return context(); }

// A child that is done when cancel is called or the parent is done.
std::pair<context, cancel_func> with_cancel(const context& parent);
// A child that is also cancelled with deadline_exceeded at d (at once if d
// has passed). A parent deadline that comes first stays in force.
std::pair<context, cancel_func> with_deadline(const context& parent,
                                              std::chrono::steady_clock::time_point d);
std::pair<context, cancel_func> with_timeout(const context& parent, std::chrono::nanoseconds d);

// A child carrying value under key; it is done exactly when the parent is.
template <class T, class V>
context with_value(const context& parent, const context_key<T>& key, V&& value) {
    return context(
        detail::ctx_with_value(parent.n_, &key, std::make_shared<const T>(std::forward<V>(value))));
}

// Runs f in a goroutine of its own once ctx is done (at once if it already
// is). The returned function stops that from happening: it returns true if
// it did, false if f has been started already (Go's context.AfterFunc).
std::function<bool()> after_func(const context& ctx, std::function<void()> f);

} // namespace rill
