// The subscribing half of the NATS bridge (rill/nats/bridge.hpp). The subscription is
// synchronous: the goroutine takes each message from libnats itself (inside
// rill::blocking when it must wait), so no libnats thread touches rill data,
// and a goroutine that cannot send downstream takes no more messages: core
// NATS buffers them up to the pending limits (then reports a slow consumer),
// JetStream keeps them on the server.
#include "nats_connection.hpp"
#include "stages/stages.hpp"

#include <rill/runtime.hpp>

#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace rill::config::nats::detail {

namespace {
// How long one wait for messages lasts before the goroutine looks at ctx
// again: the bound on how late a cancelled subscriber notices.
constexpr int64_t wait_ms = 100;
// Messages asked for at once (at_least_once; max_pending at most): the next
// request goes out once the open one has brought all its messages, so each
// costs a round trip to the server (bench/natsbridge.sh: 50,000 values took
// 1116 ms with requests of 64, 717 ms with 256).
constexpr int max_batch = 256;
// How long a request for messages stays open at the server. Long, so that a
// consumer always has one open: the server hands messages only to open
// requests, and with requests renewed every wait_ms the other consumers of
// a durable took everything while one was between two requests.
constexpr std::chrono::seconds request_expiry(5);

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

// The subscription's next message, waiting wait_ms at most (NATS_TIMEOUT
// then). A message already buffered is taken without handing the processor
// over.
natsStatus next_msg(natsSubscription* sub, natsMsg** m) {
    int pending = 0, pending_bytes = 0;
    natsSubscription_GetPending(sub, &pending, &pending_bytes);
    return pending > 0 ? natsSubscription_NextMsg(m, sub, wait_ms)
                       : rill::blocking([&] { return natsSubscription_NextMsg(m, sub, wait_ms); });
}

// Unsubscribes and waits until the server has seen it (a round trip).
// Before a subscription is destroyed: libnats 3.4.1's reader thread crashed
// (ASan, about 1 run in 20 of the slow-consumer test) when one was destroyed
// while messages for it still arrived.
void end_subscription(connection& conn, natsSubscription* sub) {
    natsSubscription_Unsubscribe(sub);
    rill::blocking([&] { natsConnection_FlushTimeout(conn.get(), 5000); });
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
        natsStatus s = next_msg(sub.get(), &m);
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
    end_subscription(conn, sub.get());
    return st;
}

// A durable pull consumer's messages, requested by hand (JetStream's
// $JS.API.CONSUMER.MSG.NEXT) rather than with natsSubscription_Fetch:
// libnats 3.4.1's fetch writes past its message array when messages of an
// earlier request are still buffered, as after a reconnection (fixed
// upstream in 3.10). One request is open at a time, each with a reply
// subject of its own, so that its end (all its messages received, or a
// status message on that subject: 408 expired, 404 nothing, 409 refused) is
// told apart from that of an earlier one. A request the server lost (it
// restarted: the client reconnected since) is made again, as is one with no
// answer by its deadline.
class pull_subscription {
public:
    pull_subscription(connection& conn, const std::string& stream, const std::string& durable)
        : conn_(conn), next_subject_("$JS.API.CONSUMER.MSG.NEXT." + stream + "." + durable) {
        natsInbox* inbox = nullptr;
        check(natsInbox_Create(&inbox), "NATS inbox");
        inbox_ = inbox;
        natsInbox_Destroy(inbox);
        natsSubscription* raw = nullptr;
        check(natsConnection_SubscribeSync(&raw, conn.get(), (inbox_ + ".*").c_str()),
              conn.name() + ": subscribing to the replies of durable consumer " + durable);
        sub_.reset(raw);
        natsStatistics* stats = nullptr;
        check(natsStatistics_Create(&stats), "NATS statistics");
        stats_.reset(stats);
    }

    // Asks for batch messages unless a request is still open.
    void request_if_due(int batch) {
        auto now = std::chrono::steady_clock::now();
        if ((owed_ > 0 && now < deadline_ && reconnects() == reconnects_) || now < not_before_)
            return;
        reply_ = inbox_ + "." + std::to_string(++requests_);
        // expires in nanoseconds: the server ends the request with a 408 then.
        auto body = "{\"batch\":" + std::to_string(batch) + ",\"expires\":" +
                    std::to_string(std::chrono::nanoseconds(request_expiry).count()) + "}";
        // Buffered by libnats (also while disconnected): does not wait.
        check(natsConnection_PublishRequest(conn_.get(), next_subject_.c_str(), reply_.c_str(),
                                            body.data(), static_cast<int>(body.size())),
              conn_.name() + ": requesting messages from " + next_subject_);
        owed_ = batch;
        answered_ = false;
        requested_ = now;
        deadline_ = now + request_expiry + answer_slack;
        reconnects_ = reconnects();
    }

    // The next message, waiting wait_ms at most (NATS_TIMEOUT then).
    natsStatus next(natsMsg** m) {
        natsStatus s = next_msg(sub_.get(), m);
        if (s != NATS_OK) return s;
        if (is_value(*m)) {
            // A stored message keeps its own subject: which request brought
            // it is not known, so it counts against the open one.
            owed_ = std::max(0, owed_ - 1);
            answered_ = true;
        } else if (reply_ == natsMsg_GetSubject(*m)) {
            ended(*m);
        }
        return s;
    }

    // A stored message, not a status message about a request.
    static bool is_value(natsMsg* m) {
        const char* reply = natsMsg_GetReply(m);
        return reply && *reply;
    }

    // Acknowledges (+ACK), gives back (-NAK) or ends (+TERM) message m; the
    // reply goes into libnats' buffer, written out by its thread.
    void reply(natsMsg* m, std::string_view what) {
        natsConnection_Publish(conn_.get(), natsMsg_GetReply(m), what.data(),
                               static_cast<int>(what.size()));
    }

    // Stopping: acknowledges held (its value was taken: the stage that took
    // it finishes it) and gives back (-NAK) not_taken (a message whose value
    // could not be sent) and every message received and not taken. The
    // subscription ends first, so that the server drops the open request:
    // else it would hand the given-back messages straight back to it, or use
    // the room the acknowledgement makes, and they would come back only
    // after ack_wait. A message already on its way when the subscription
    // ends still does.
    void stop(msg_ptr held, msg_ptr not_taken) {
        std::vector<msg_ptr> buffered;
        buffered.push_back(std::move(not_taken));
        int pending = 0, pending_bytes = 0;
        natsMsg* m = nullptr;
        // libnats refuses a timeout of 0; a buffered message is there at once.
        while (natsSubscription_GetPending(sub_.get(), &pending, &pending_bytes) == NATS_OK &&
               pending > 0 && natsSubscription_NextMsg(&m, sub_.get(), 1) == NATS_OK)
            buffered.emplace_back(m);
        // The server has the unsubscription before the replies below.
        end_subscription(conn_, sub_.get());
        if (held) reply(held.get(), "+ACK");
        for (auto& msg : buffered)
            if (msg && is_value(msg.get())) reply(msg.get(), "-NAK");
    }

private:
    // The open request's status message: it is over.
    void ended(natsMsg* status) {
        owed_ = 0;
        const char* code = nullptr;
        natsMsgHeader_Get(status, "Status", &code);
        std::string_view c = code ? code : "";
        // 408: expired, 404: nothing to deliver; anything else (409: the
        // consumer was deleted, too many requests waiting...) is worth a line.
        if (c != "408" && c != "404") {
            const char* text = nullptr;
            natsMsgHeader_Get(status, "Description", &text);
            log().warn("{}: request for messages from {} refused: {} {}", conn_.name(),
                       next_subject_, c, text ? text : "");
        }
        // Refused at once (not expired): asking again at once would make a
        // busy loop. An expired request is asked again at once: a consumer
        // without an open request gets no messages.
        auto now = std::chrono::steady_clock::now();
        if (!answered_ && now - requested_ < std::chrono::milliseconds(wait_ms / 2))
            not_before_ = now + std::chrono::milliseconds(wait_ms);
    }

    std::uint64_t reconnects() const {
        std::uint64_t n = 0;
        if (natsConnection_GetStats(conn_.get(), stats_.get()) == NATS_OK)
            natsStatistics_GetCounts(stats_.get(), nullptr, nullptr, nullptr, nullptr, &n);
        return n;
    }

    // How long past its expiry a request may go unanswered before it counts
    // as lost.
    static constexpr std::chrono::seconds answer_slack{1};

    connection& conn_;
    std::string next_subject_;
    std::string inbox_;
    sub_ptr sub_;
    struct stats_deleter {
        void operator()(natsStatistics* s) const noexcept { natsStatistics_Destroy(s); }
    };
    std::unique_ptr<natsStatistics, stats_deleter> stats_;
    std::uint64_t reconnects_ = 0; // the client's reconnections when the open request was made
    std::string reply_;            // the open request's reply subject
    std::uint64_t requests_ = 0;
    int owed_ = 0;          // messages the open request may still bring
    bool answered_ = false; // the open request brought a message
    std::chrono::steady_clock::time_point requested_{}, deadline_{}, not_before_{};
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
    pull_subscription pull(conn, stream, o.durable);
    log().info("{}: subscribed to {} as durable consumer {} of stream {}", conn.name(), o.subject,
               o.durable, stream);
    if (o.ready) o.ready();
    const int batch = std::max(1, std::min(max_batch, o.max_pending));
    subscribe_stats st;
    // The message whose value was sent last: acknowledged only when the next
    // value is taken, which for a stage taking one value at a time from an
    // unbuffered channel means it is done with this one; or when no message
    // came for wait_ms, so that the last of a burst is not delivered again.
    msg_ptr held;
    auto last_value = std::chrono::steady_clock::now();
    auto settle = [&] {
        if (held) pull.reply(held.get(), "+ACK");
        held.reset();
    };
    auto settle_if_idle = [&] {
        if (std::chrono::steady_clock::now() - last_value >= std::chrono::milliseconds(wait_ms))
            settle();
    };
    msg_ptr not_taken;
    while (!not_taken && !ctx.is_done()) {
        pull.request_if_due(batch);
        natsMsg* m = nullptr;
        natsStatus s = pull.next(&m);
        msg_ptr msg(m);
        if (s == NATS_TIMEOUT) {
            settle_if_idle();
            continue;
        }
        if (s == NATS_SLOW_CONSUMER) continue; // reported by the error handler
        check(s, conn.name() + ": receiving from " + o.subject);
        if (!pull.is_value(msg.get())) {
            settle_if_idle();
            continue;
        }
        try {
            if (deliver(data(msg.get()))) {
                ++st.delivered;
                settle();
                held = std::move(msg);
                last_value = std::chrono::steady_clock::now();
            } else {
                not_taken = std::move(msg); // given back by stop
            }
        } catch (const codec_error& e) {
            report_undecodable(conn, o.subject, e, st);
            pull.reply(msg.get(), "+TERM"); // would never decode: not delivered again
        }
    }
    pull.stop(std::move(held), std::move(not_taken));
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
