// The publishing half of the NATS bridge (rill/nats/bridge.hpp) and the nats_publish stage.
#include "nats_connection.hpp"
#include "stages/stages.hpp"

#include <rill/runtime.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace rill::config::nats::detail {

namespace {
// Values taken from the input at once, so that one blocking call publishes
// them all: handing the processor over costs more than a core publish.
constexpr std::size_t max_batch = 256;

// JetStream messages published and not yet acknowledged, at most: enough to
// keep the server busy between acknowledgements (bench/natsbridge.cpp).
constexpr int window = 1024;
// An acknowledgement not received within this long counts as a failure (the
// message or its acknowledgement was lost, say in a disconnection): the
// message is published again.
constexpr std::int64_t ack_timeout_ms = 5000;
// How long one publish waits for room in a full window before it looks at
// ctx again.
constexpr std::int64_t stall_ms = 200;
// Pauses before publishing failed messages again: the first while the server
// stores others (a passing failure), doubling up to the last while it stores
// none (an outage, a full stream).
constexpr std::chrono::milliseconds first_retry_pause(50), last_retry_pause(2000);
// Failures are logged at most this often, counted meanwhile.
constexpr std::chrono::seconds log_interval(5);
// libnats reports a failed publish on its own thread: while the input has
// nothing, the goroutine looks for failures this often (else a failure after
// the input's last value would wait for the input's end).
constexpr std::chrono::milliseconds idle_wait(100);

// JetStream publishing with a window of messages in flight (at least once).
// libnats stores each message until its acknowledgement arrives and then
// calls on_ack on its own thread; a failed one is kept in failed_ and
// published again by the goroutine (never from the callback: a full window
// would stall the thread that receives the acknowledgements).
class stored_publisher {
public:
    stored_publisher(connection& conn, const std::string& subject)
        : conn_(conn), subject_(subject) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.PublishAsync.MaxPending = window;
        jo.PublishAsync.StallWait = stall_ms;
        jo.PublishAsync.AckHandler = on_ack;
        jo.PublishAsync.AckHandlerClosure = this;
        check(natsConnection_JetStream(&js_, conn.get(), &jo), conn.name() + ": JetStream");
        jsPubOptions_Init(&pub_opts_);
        pub_opts_.MaxWait = ack_timeout_ms;
    }
    stored_publisher(const stored_publisher&) = delete;
    stored_publisher& operator=(const stored_publisher&) = delete;
    // Gives up on the messages in flight (when stopped or failing) and waits
    // until no callback runs: after this, none can reach *this.
    ~stored_publisher() {
        rill::blocking([&] {
            natsMsgList pending;
            if (js_PublishAsyncGetPendingList(&pending, js_) == NATS_OK)
                natsMsgList_Destroy(&pending);
            // What is left counted is a message whose callback runs now.
            js_PublishAsyncComplete(js_, nullptr);
            jsCtx_Destroy(js_);
        });
        for (natsMsg* m : failed_)
            natsMsg_Destroy(m);
    }

    // Publishes batch (blocking while the window is full); false when ctx
    // was cancelled first.
    bool publish(const context& ctx, const std::vector<std::string>& batch) {
        return rill::blocking([&] {
            for (const auto& bytes : batch) {
                natsMsg* m = nullptr;
                check(natsMsg_Create(&m, subject_.c_str(), nullptr, bytes.data(),
                                     static_cast<int>(bytes.size())),
                      conn_.name() + ": a message to " + subject_);
                if (!send(ctx, m)) {
                    natsMsg_Destroy(m);
                    return false;
                }
            }
            return true;
        });
    }

    // Publishes the failed messages again, after a pause; false when ctx was
    // cancelled first. Returns at once when none failed.
    bool retry_failed(const context& ctx) {
        std::vector<natsMsg*> msgs;
        std::string error;
        {
            std::lock_guard lk(mu_);
            msgs.swap(failed_);
            error = std::move(last_error_);
        }
        if (msgs.empty()) return true;
        unlogged_ += msgs.size();
        if (auto now = std::chrono::steady_clock::now(); now >= next_log_) {
            log().warn("{}: {} JetStream publishes to {} failed (the last: {}); publishing "
                       "them again",
                       conn_.name(), unlogged_, subject_, error);
            unlogged_ = 0;
            next_log_ = now + log_interval;
        }
        if (stored_.exchange(false)) pause_ = first_retry_pause;
        bool resent = stages::pause(ctx, pause_);
        pause_ = std::min(pause_ * 2, last_retry_pause);
        std::size_t next = 0;
        if (resent)
            resent = rill::blocking([&] {
                for (; next < msgs.size(); ++next)
                    if (!send(ctx, msgs[next])) return false;
                return true;
            });
        // send took what it published; the rest are given up with the stage.
        for (; next < msgs.size(); ++next)
            natsMsg_Destroy(msgs[next]);
        return resent;
    }

    // Waits until every message published is stored, publishing failed ones
    // again; false when ctx was cancelled first.
    bool complete(const context& ctx) {
        jsPubOptions wait;
        jsPubOptions_Init(&wait);
        wait.MaxWait = stall_ms;
        for (;;) {
            natsStatus s = NATS_TIMEOUT;
            while (s == NATS_TIMEOUT && !ctx.is_done())
                s = rill::blocking([&] { return js_PublishAsyncComplete(js_, &wait); });
            if (ctx.is_done()) return false;
            check(s, conn_.name() + ": waiting for JetStream acknowledgements");
            // Nothing is in flight now: failed_ holds all that is not stored.
            if (std::lock_guard lk(mu_); failed_.empty()) return true;
            if (!retry_failed(ctx)) return false;
        }
    }

private:
    // Hands m to libnats (which then owns it, m becoming null) or, when that
    // fails, to failed_; stalls while the window is full. False when ctx was
    // cancelled (m is still the caller's).
    bool send(const context& ctx, natsMsg*& m) {
        for (;;) {
            natsStatus s = js_PublishMsgAsync(js_, &m, &pub_opts_);
            if (s == NATS_OK) return true;
            if (ctx.is_done()) return false;
            // NATS_TIMEOUT: the window stayed full for stall_ms.
            if (s == NATS_TIMEOUT) continue;
            add_failed(m, describe(s));
            m = nullptr;
            return true;
        }
    }

    void add_failed(natsMsg* m, std::string error) noexcept {
        // noexcept: a bad_alloc here, on a libnats thread, ends the process.
        std::lock_guard lk(mu_);
        failed_.push_back(m);
        last_error_ = std::move(error);
    }

    static void on_ack(jsCtx*, natsMsg* m, jsPubAck* ack, jsPubAckErr* err, void* self) {
        // The handler owns m (nats.h): stored, it is done; else it is kept.
        auto* p = static_cast<stored_publisher*>(self);
        if (ack) {
            natsMsg_Destroy(m);
            p->stored_.store(true, std::memory_order_relaxed);
            return;
        }
        p->add_failed(m, fmt::format("{} (JetStream error {})", err->ErrText ? err->ErrText : "?",
                                     static_cast<int>(err->ErrCode)));
    }

    connection& conn_;
    const std::string& subject_;
    jsCtx* js_ = nullptr;
    jsPubOptions pub_opts_;
    std::chrono::milliseconds pause_ = first_retry_pause;
    std::atomic<bool> stored_{false}; // a message was stored since the last retry
    std::uint64_t unlogged_ = 0;      // failures not logged yet
    std::chrono::steady_clock::time_point next_log_{};
    // A std::mutex, not a rill::mutex: libnats' threads take it too, and they
    // are not goroutines. That is safe here (rill/sync.hpp): the only
    // goroutine that takes it is this publisher's, for a few instructions,
    // so however it is preempted no other goroutine's thread waits on it.
    std::mutex mu_;
    std::vector<natsMsg*> failed_; // owned; published again by retry_failed
    std::string last_error_;
};
} // namespace

void publish_encoded(const context& ctx, const publish_options& o, const next_fn& next,
                     const std::function<bool()>& more) {
    if (o.subject.empty()) throw std::invalid_argument("nats publish: no subject");
    auto conn = rill::blocking([&] { return std::make_unique<connection>(o.connection); });
    std::unique_ptr<stored_publisher> stored;
    if (o.mode == delivery::at_least_once)
        stored = rill::blocking([&] {
            ensure_stream(conn->js(), o.stream, o.subject);
            return std::make_unique<stored_publisher>(*conn, o.subject);
        });
    std::vector<std::string> batch;
    bool end = false;
    while (!end) {
        // Failed messages go out again before new values are taken: they stay
        // few (a window at most), and a failing server slows the producer.
        if (stored && !stored->retry_failed(ctx)) return;
        batch.clear();
        for (;;) {
            std::string bytes;
            auto got = next(bytes, idle_wait);
            if (got != next_status::value) {
                end = got == next_status::end;
                break;
            }
            batch.push_back(std::move(bytes));
            if (batch.size() == max_batch || !more()) break;
        }
        if (batch.empty()) continue;
        if (stored) {
            if (!stored->publish(ctx, batch)) return;
            continue;
        }
        rill::blocking([&] {
            // Into libnats' buffer (its reconnect buffer while disconnected);
            // a libnats thread writes it out.
            for (auto& bytes : batch)
                check(natsConnection_Publish(conn->get(), o.subject.c_str(), bytes.data(),
                                             static_cast<int>(bytes.size())),
                      conn->name() + ": publishing to " + o.subject);
        });
    }
    if (stored) {
        stored->complete(ctx);
        return;
    }
    rill::blocking([&] {
        // What is still buffered would be lost with the connection.
        if (natsConnection_FlushTimeout(conn->get(), 5000) != NATS_OK)
            log().warn("{}: the last messages to {} may not have reached the server", conn->name(),
                       o.subject);
    });
}

} // namespace rill::config::nats::detail
