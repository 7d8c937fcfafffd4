// The subscribing half of the NATS bridge (nats.hpp). The subscription is
// synchronous: the goroutine takes each message from libnats itself (inside
// rill::blocking when it must wait), so no libnats thread touches rill data,
// and a goroutine that cannot send downstream takes no more messages: core
// NATS buffers them up to the pending limits (then reports a slow consumer),
// JetStream keeps them on the server.
#include "stages/nats_connection.hpp"
#include "stages/stages.hpp"

#include <rill/runtime.hpp>

#include <memory>
#include <stdexcept>
#include <utility>

namespace rill::config::nats::detail {

namespace {
// How long one wait for messages lasts before the goroutine looks at ctx
// again: the bound on how late a cancelled subscriber notices.
constexpr int64_t wait_ms = 100;

struct sub_deleter {
    void operator()(natsSubscription* s) const noexcept { natsSubscription_Destroy(s); }
};
using sub_ptr = std::unique_ptr<natsSubscription, sub_deleter>;
struct msg_deleter {
    void operator()(natsMsg* m) const noexcept { natsMsg_Destroy(m); }
};
using msg_ptr = std::unique_ptr<natsMsg, msg_deleter>;

std::string_view data(natsMsg* m) {
    return {natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))};
}

void report_undecodable(const connection& c, const std::string& subject, const codec_error& e,
                        subscribe_stats& st) {
    ++st.undecodable;
    log().error("{}: undecodable message on {} ({} so far): {}", c.name(), subject, st.undecodable,
                e.what());
}

subscribe_stats subscribe_core(const context& ctx, connection& conn, const subscribe_options& o,
                               const std::function<bool(std::string_view)>& deliver) {
    natsSubscription* raw = nullptr;
    check(o.queue.empty() ? natsConnection_SubscribeSync(&raw, conn.get(), o.subject.c_str())
                          : natsConnection_QueueSubscribeSync(&raw, conn.get(), o.subject.c_str(),
                                                              o.queue.c_str()),
          conn.name() + ": subscribing to " + o.subject);
    sub_ptr sub(raw);
    check(natsSubscription_SetPendingLimits(sub.get(), o.max_pending, 64 * 1024 * 1024),
          "NATS pending limits");
    // The subscription exists on the server once this returns: what is
    // published from now on reaches it.
    check(rill::blocking([&] { return natsConnection_FlushTimeout(conn.get(), 5000); }),
          conn.name() + ": subscribing to " + o.subject);
    log().info("{}: subscribed to {}{}", conn.name(), o.subject,
               o.queue.empty() ? "" : " in queue group " + o.queue);
    if (o.ready) o.ready();
    subscribe_stats st;
    while (!ctx.is_done()) {
        natsMsg* m = nullptr;
        int pending = 0, pending_bytes = 0;
        natsSubscription_GetPending(sub.get(), &pending, &pending_bytes);
        // A message already buffered is taken without handing the processor over.
        natsStatus s =
            pending > 0
                ? natsSubscription_NextMsg(&m, sub.get(), wait_ms)
                : rill::blocking([&] { return natsSubscription_NextMsg(&m, sub.get(), wait_ms); });
        msg_ptr msg(m);
        if (s == NATS_TIMEOUT) continue;
        if (s == NATS_SLOW_CONSUMER) continue; // reported by the error handler
        check(s, conn.name() + ": receiving from " + o.subject);
        try {
            if (!deliver(data(msg.get()))) break;
            ++st.delivered;
        } catch (const codec_error& e) {
            report_undecodable(conn, o.subject, e, st);
        }
    }
    return st;
}

struct list_guard {
    natsMsgList list{};
    ~list_guard() { natsMsgList_Destroy(&list); }
};

subscribe_stats subscribe_stored(const context& ctx, connection& conn, const subscribe_options& o,
                                 const std::function<bool(std::string_view)>& deliver) {
    if (o.durable.empty())
        throw std::invalid_argument("nats subscribe: at_least_once needs a durable name");
    jsCtx* js = conn.js();
    std::string stream = rill::blocking([&] { return ensure_stream(js, o.stream, o.subject); });
    // The consumer is made here, not by the subscription: libnats deletes a
    // consumer its subscription made when the subscription ends, and a durable
    // must outlive its subscribers.
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = o.durable.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = std::chrono::duration_cast<std::chrono::nanoseconds>(o.ack_wait).count();
    cc.MaxAckPending = o.max_pending;
    cc.FilterSubject = o.subject.c_str();
    rill::blocking([&] {
        jsConsumerInfo* ci = nullptr;
        jsErrCode err{};
        natsStatus s = js_AddConsumer(&ci, js, stream.c_str(), &cc, nullptr, &err);
        jsConsumerInfo_Destroy(ci);
        if (s == NATS_OK) return;
        // Made earlier with other settings: used as it is.
        if (js_GetConsumerInfo(&ci, js, stream.c_str(), o.durable.c_str(), nullptr, &err) ==
            NATS_OK) {
            jsConsumerInfo_Destroy(ci);
            log().warn("{}: durable consumer {} exists with other settings; using them",
                       conn.name(), o.durable);
            return;
        }
        check(s, conn.name() + ": durable consumer " + o.durable, err);
    });
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Consumer = o.durable.c_str();
    so.ManualAck = true;
    natsSubscription* raw = nullptr;
    jsErrCode err{};
    check(rill::blocking([&] {
              return js_PullSubscribe(&raw, js, o.subject.c_str(), o.durable.c_str(), nullptr, &so,
                                      &err);
          }),
          conn.name() + ": pull subscription to " + o.subject, err);
    sub_ptr sub(raw);
    log().info("{}: subscribed to {} as durable consumer {} of stream {}", conn.name(), o.subject,
               o.durable, stream);
    if (o.ready) o.ready();
    const int batch = std::max(1, std::min(64, o.max_pending));
    subscribe_stats st;
    bool failing = false;
    // The message whose value was sent last: acknowledged only when the next
    // value is taken, which for a stage taking one value at a time from an
    // unbuffered channel means it is done with this one; or when no message
    // came for wait_ms, so that the last of a burst is not delivered again.
    msg_ptr held;
    auto settle = [&] {
        if (held) natsMsg_Ack(held.get(), nullptr);
        held.reset();
    };
    while (!ctx.is_done()) {
        list_guard fetched;
        natsStatus s = rill::blocking(
            [&] { return natsSubscription_Fetch(&fetched.list, sub.get(), batch, wait_ms, &err); });
        if (s == NATS_TIMEOUT) {
            settle();
            continue;
        }
        if (s != NATS_OK && !natsConnection_IsClosed(conn.get())) {
            // The server went away (or is shutting down): the client library
            // reconnects and the durable consumer stays on the server, so
            // waiting beats failing, which would soon exhaust the supervisor's
            // restart intensity during an outage.
            if (!failing)
                log().warn("{}: fetching from {} failed: {}; retrying", conn.name(), o.subject,
                           describe(s));
            failing = true;
            if (!stages::pause(ctx, std::chrono::milliseconds(500))) break;
            continue;
        }
        check(s, conn.name() + ": fetching from " + o.subject, err);
        if (failing) log().info("{}: fetching from {} again", conn.name(), o.subject);
        failing = false;
        bool stopped = false;
        for (int i = 0; i < fetched.list.Count; ++i) {
            natsMsg* m = fetched.list.Msgs[i];
            // Acknowledgements go into libnats' buffer, written out by its
            // thread: no wait for the server here.
            if (stopped) {
                // Given back: delivered again at once, not after ack_wait.
                natsMsg_Nak(m, nullptr);
                continue;
            }
            try {
                if (deliver(data(m))) {
                    ++st.delivered;
                    settle();
                    held.reset(std::exchange(fetched.list.Msgs[i], nullptr));
                } else {
                    stopped = true;
                    natsMsg_Nak(m, nullptr);
                }
            } catch (const codec_error& e) {
                report_undecodable(conn, o.subject, e, st);
                natsMsg_Term(m, nullptr); // would never decode: not delivered again
            }
        }
        if (stopped) break;
    }
    // Stopped, not crashed: the stage that took the last value drains it.
    settle();
    // Acknowledgements still buffered would be lost with the connection, and
    // their messages delivered again.
    rill::blocking([&] { natsConnection_FlushTimeout(conn.get(), 5000); });
    return st;
}
} // namespace

subscribe_stats subscribe_encoded(const context& ctx, const subscribe_options& o,
                                  const std::function<bool(std::string_view bytes)>& deliver) {
    if (o.subject.empty()) throw std::invalid_argument("nats subscribe: no subject");
    auto conn = rill::blocking([&] { return std::make_unique<connection>(o.connection); });
    return o.mode == delivery::at_least_once ? subscribe_stored(ctx, *conn, o, deliver)
                                             : subscribe_core(ctx, *conn, o, deliver);
}

} // namespace rill::config::nats::detail
