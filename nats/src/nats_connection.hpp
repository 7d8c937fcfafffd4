// A libnats connection as the bridge stages use it (rill/nats/bridge.hpp): the settings
// from connection_options, reconnection by the client library for ever, and
// disconnections, reconnections and asynchronous errors (slow consumers)
// reported to the "rill.nats" log. libnats calls its callbacks on its own
// threads; they only log, so no rill data is shared with those threads.
#pragma once

#include <rill/nats/bridge.hpp>

#include <nats/nats.h>
#include <spdlog/logger.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>

namespace rill::config::nats::detail {

spdlog::logger& log();

// libnats' text for the last error on this thread, else s's generic text.
std::string describe(natsStatus s);

// Throws std::runtime_error "what: <libnats' text>" unless s is NATS_OK.
void check(natsStatus s, std::string_view what, jsErrCode js_err = static_cast<jsErrCode>(0));

// A URL with its user:password part replaced by "***", for logs.
std::string redact(std::string_view url);

class connection {
public:
    // Connects (blocking: call inside rill::blocking); throws std::runtime_error.
    explicit connection(const connection_options& o);
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection();
    natsConnection* get() const noexcept { return nc_; }
    // The JetStream context, made on first use.
    jsCtx* js();
    const std::string& name() const noexcept { return name_; }

    // What libnats' callbacks see. They run on a libnats thread, also after
    // the connection object is gone, so it lives until the closed callback.
    struct callbacks {
        std::string name;
        std::atomic<bool> closing{false};
        // std:: primitives: libnats' threads use them, and the destructor,
        // the only goroutine that does, waits inside rill::blocking, having
        // handed its processor over.
        std::mutex mu;
        std::condition_variable cv;
        bool closed = false; // the closed callback ran: no other will
    };

private:
    void connect(const connection_options& o);
    std::string name_;
    callbacks* cb_;
    natsConnection* nc_ = nullptr;
    jsCtx* js_ = nullptr;
};

// Makes sure a stream named `stream` (default_stream(subject) when empty)
// stores `subject`, creating it when missing (blocking). Returns its name.
std::string ensure_stream(jsCtx* js, const std::string& stream, const std::string& subject);

} // namespace rill::config::nats::detail
