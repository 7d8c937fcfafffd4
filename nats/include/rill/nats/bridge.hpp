// The NATS bridge: a channel's values published to a subject, and a
// subject's messages received into a channel, so that a topology spans
// processes and hosts. The YAML stages nats_publish and nats_subscribe are
// these functions; C++ code calls them directly, in a goroutine:
//
//   rill::config::nats::publish_options po{.subject = "jobs"};
//   rill::go([=] { rill::config::nats::publish(ctx, values.rx(), po); });
//
// Values are encoded with their type's codec (rill/config/codec.hpp).
//
// Delivery guarantees:
// - at_most_once (core NATS): a message reaches the subscribers connected
//   when it is published, once each (once per queue group). Messages are lost
//   when no subscriber is connected, when a process ends with messages in
//   flight or buffered, and when a subscriber falls so far behind that the
//   client library's pending limit is reached: the library then drops
//   messages, and the bridge logs every such slow-consumer report with the
//   number dropped so far. The publisher is not slowed by slow subscribers.
// - at_least_once (JetStream): publish keeps up to 1024 messages in flight
//   and counts a value as sent only once the server has stored it (a publish
//   acknowledgement). A message the server refuses, or whose acknowledgement
//   does not come within 5 s (lost in a disconnection, say), is published
//   again after a pause, until stored (failures are logged at most every
//   5 s, counted). Values are stored in the order received, except that
//   one published again is stored after those that followed it (and twice,
//   when only its acknowledgement was lost). When the input is closed,
//   publish returns once every value is stored; when ctx is cancelled, at
//   once, giving up on the values in flight (stored or not).
//   The subscriber is a durable pull consumer: it fetches only what the
//   downstream channel can take (back-pressure reaches the server, at most
//   max_pending messages are unacknowledged), and acknowledges a message only
//   once the value sent after it was taken from the output channel (or no
//   message came for 100 ms, or the subscriber was stopped): through an
//   unbuffered channel to a stage that takes one value at a time, that is
//   when the stage is done with the value. A message whose value
//   was not taken (the process crashed, or was stopped) is delivered again:
//   at once when it was stopped cleanly (the bridge gives such messages back
//   with a negative acknowledgement; one already on its way when it stopped
//   comes back after ack_wait), after ack_wait when it crashed. So
//   values may arrive twice, never not at all — from the moment publish has
//   the server's acknowledgement until the next stage is done with it (as
//   above): values still in the producer's channels when it crashes, and
//   acknowledged values waiting in a buffered output channel when the
//   consumer crashes, are not covered; nor is a value the next stage still
//   works on 100 ms after the last message arrived.
//   Undecodable messages are acknowledged as terminated (never redelivered),
//   logged and counted.
// Several subscribers with the same queue group (at_most_once) or the same
// durable name (at_least_once) share one stream of messages: each message
// goes to one of them.
#pragma once

#include <rill/chan.hpp>
#include <rill/config/codec.hpp>
#include <rill/csp/context.hpp>
#include <rill/select.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace rill::config::nats {

enum class delivery { at_most_once, at_least_once };

// Where and how to connect. Nothing here is logged but the server URLs,
// with any user:password in them replaced by "***", and the files' names
// (never their contents) in connection errors.
struct connection_options {
    // Comma-separated URLs; empty: $NATS_URL, else nats://127.0.0.1:4222.
    std::string servers{};
    std::string credentials{}; // a .creds file (JWT and NKey seed)
    std::string tls_ca{};      // CA certificates: TLS is used when any tls_* is set
    std::string tls_cert{};    // client certificate chain (with tls_key)
    std::string tls_key{};
    std::string name{}; // the client name the server shows
};

struct publish_options {
    connection_options connection{};
    std::string subject{};
    delivery mode = delivery::at_least_once;
    // at_least_once: the JetStream stream holding subject, created when
    // missing; empty: "rill_" followed by subject with '.', '*' and '>'
    // replaced by '_'.
    std::string stream{};
};

struct subscribe_options {
    connection_options connection{};
    std::string subject{};
    delivery mode = delivery::at_least_once;
    std::string queue{};   // at_most_once: the queue group; empty: none
    std::string stream{};  // at_least_once: as publish_options::stream
    std::string durable{}; // at_least_once: the durable consumer's name (required)
    // at_least_once: how long the server waits for an acknowledgement
    // before it delivers a message again.
    std::chrono::nanoseconds ack_wait = std::chrono::seconds(30);
    // at_most_once: messages the client library buffers before it drops
    // (a slow consumer); at_least_once: unacknowledged messages at most.
    int max_pending = 1024;
    // Called once the subscription is in place: from then on, core NATS
    // messages published reach it (a test or a producer may wait for it).
    std::function<void()> ready{};
};

struct subscribe_stats {
    std::uint64_t delivered = 0;   // values sent into the output
    std::uint64_t undecodable = 0; // messages whose bytes the codec refused
};

namespace detail {
// The type-erased bridges under publish and subscribe.
// next: waits up to `wait` for the next value and encodes it into bytes
// (cleared by the caller): value; end once the input is closed and drained
// or ctx is cancelled; idle when none came in time. more: whether another
// value is waiting now (publish batches).
enum class next_status { value, end, idle };
using next_fn = std::function<next_status(std::string& bytes, std::chrono::nanoseconds wait)>;
void publish_encoded(const context& ctx, const publish_options& o, const next_fn& next,
                     const std::function<bool()>& more);
// deliver: decodes and sends one value; false when it could not be sent
// (stopped); throws codec_error for undecodable bytes.
subscribe_stats subscribe_encoded(const context& ctx, const subscribe_options& o,
                                  const std::function<bool(std::string_view bytes)>& deliver);
// The stream name used when none is given.
std::string default_stream(std::string_view subject);
} // namespace detail

// Publishes every value received from in until in is closed and drained, or
// ctx is cancelled. Throws std::runtime_error when the connection or the
// stream cannot be set up; reconnections are left to the client library.
template <has_codec T> void publish(const context& ctx, receiver<T> in, const publish_options& o) {
    detail::publish_encoded(
        ctx, o,
        [&](std::string& bytes, std::chrono::nanoseconds wait) {
            std::optional<T> v;
            bool idle = false;
            rill::select(rill::on_recv(in, [&](std::optional<T> x) { v = std::move(x); }),
                         rill::on_recv(ctx.done(), [](auto) {}),
                         rill::on_timeout(wait, [&] { idle = true; }));
            if (idle) return detail::next_status::idle;
            if (!v) return detail::next_status::end;
            codec<T>::encode(*v, bytes);
            return detail::next_status::value;
        },
        [&] { return in.len() > 0; });
}

// Sends every message of the subject, decoded, on out until ctx is
// cancelled; throws as publish does.
template <has_codec T>
subscribe_stats subscribe(const context& ctx, sender<T> out, const subscribe_options& o) {
    return detail::subscribe_encoded(ctx, o, [&](std::string_view bytes) {
        T v = codec<T>::decode(bytes);
        bool sent = false;
        rill::select(rill::on_send(out, std::move(v), [&] { sent = true; }),
                     rill::on_recv(ctx.done(), [](auto) {}));
        return sent;
    });
}

} // namespace rill::config::nats
