// The publishing half of the NATS bridge (nats.hpp) and the nats_publish stage.
#include "stages/nats_connection.hpp"
#include "stages/stages.hpp"

#include <rill/runtime.hpp>

#include <memory>
#include <stdexcept>
#include <vector>

namespace rill::config::nats::detail {

namespace {
// Values taken from the input at once, so that one blocking call publishes
// them all: handing the processor over costs more than a core publish.
constexpr std::size_t max_batch = 256;

// Publishes one value to JetStream, retrying until the server has stored it
// (at least once); false when ctx was cancelled first (the value is lost
// with the stopped stage, as any value a stopped stage holds).
bool publish_stored(const context& ctx, connection& conn, const std::string& subject,
                    const std::string& bytes) {
    for (;;) {
        jsErrCode err{};
        jsPubAck* ack = nullptr;
        natsStatus s = rill::blocking([&] {
            return js_Publish(&ack, conn.js(), subject.c_str(), bytes.data(),
                              static_cast<int>(bytes.size()), nullptr, &err);
        });
        jsPubAck_Destroy(ack);
        if (s == NATS_OK) return true;
        log().warn("{}: JetStream publish to {} failed: {} (error {}); retrying", conn.name(),
                   subject, describe(s), static_cast<int>(err));
        if (!stages::pause(ctx, std::chrono::milliseconds(500))) return false;
    }
}
} // namespace

void publish_encoded(const context& ctx, const publish_options& o,
                     const std::function<bool(std::string& bytes)>& next,
                     const std::function<bool()>& more) {
    if (o.subject.empty()) throw std::invalid_argument("nats publish: no subject");
    auto conn = rill::blocking([&] { return std::make_unique<connection>(o.connection); });
    const bool stored = o.mode == delivery::at_least_once;
    if (stored) rill::blocking([&] { ensure_stream(conn->js(), o.stream, o.subject); });
    std::vector<std::string> batch;
    bool end = false;
    while (!end) {
        batch.clear();
        do {
            std::string bytes;
            if (!next(bytes)) {
                end = true;
                break;
            }
            batch.push_back(std::move(bytes));
        } while (batch.size() < max_batch && more());
        if (stored) {
            for (auto& bytes : batch)
                if (!publish_stored(ctx, *conn, o.subject, bytes)) return;
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
    if (!stored)
        rill::blocking([&] {
            // What is still buffered would be lost with the connection.
            if (natsConnection_FlushTimeout(conn->get(), 5000) != NATS_OK)
                log().warn("{}: the last messages to {} may not have reached the server",
                           conn->name(), o.subject);
        });
}

} // namespace rill::config::nats::detail
