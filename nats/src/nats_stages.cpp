// nats_publish and nats_subscribe: the NATS bridge (rill/nats/bridge.hpp) as YAML stages,
// for channels of any type with a codec (their ports needs_codec(): the
// loader, and the runner for a topology built by hand, refuse other types).
#include "nats_connection.hpp"
#include "stages/stages.hpp"

namespace rill::config::stages {

namespace {

nats::delivery delivery_of(const stage_io& io) {
    return io.arg<std::string>("delivery") == "at_most_once" ? nats::delivery::at_most_once
                                                             : nats::delivery::at_least_once;
}

nats::connection_options connection_of(const stage_io& io) {
    return {io.arg<std::string>("servers"), io.arg<std::string>("credentials"),
            io.arg<std::string>("tls_ca"),  io.arg<std::string>("tls_cert"),
            io.arg<std::string>("tls_key"), io.id()};
}

void nats_publish(stage_io& io) {
    auto in = io.in_any("in");
    nats::publish_options o{connection_of(io), io.arg<std::string>("subject"), delivery_of(io),
                            io.arg<std::string>("stream")};
    box v(in.type());
    nats::detail::publish_encoded(
        io.ctx(), o,
        [&](std::string& bytes, std::chrono::nanoseconds wait) {
            bool idle = false;
            if (!in.recv_until(v, std::chrono::steady_clock::now() + wait, idle))
                return idle ? nats::detail::next_status::idle : nats::detail::next_status::end;
            in.type().encode(v.storage(), bytes);
            v.reset();
            return nats::detail::next_status::value;
        },
        [&] { return in.buffered() > 0; });
}

void nats_subscribe(stage_io& io) {
    auto out = io.out_any("out");
    nats::subscribe_options o;
    o.connection = connection_of(io);
    o.subject = io.arg<std::string>("subject");
    o.mode = delivery_of(io);
    o.queue = io.arg<std::string>("queue");
    o.stream = io.arg<std::string>("stream");
    o.durable = io.arg<std::string>("durable");
    // The workers of a pool, and processes running the same stage, share one
    // durable consumer by default: they share its messages.
    if (o.durable.empty()) o.durable = nats::detail::default_stream(io.decl().id);
    o.ack_wait = io.arg<std::chrono::nanoseconds>("ack_wait");
    o.max_pending = static_cast<int>(io.arg<std::int64_t>("max_pending"));
    box v(out.type());
    auto st = nats::detail::subscribe_encoded(io.ctx(), o, [&](std::string_view bytes) {
        out.type().decode(bytes, v.storage());
        v.filled();
        if (out.send(v)) return true;
        v.reset();
        return false;
    });
    nats::detail::log().info("{}: {} values received from {}, {} undecodable messages", io.id(),
                             st.delivered, o.subject, st.undecodable);
}

// The arguments both stages take.
stage_def& with_connection(stage_def& d) {
    return d
        .arg<std::string>("servers", "",
                          "comma-separated NATS server URLs; empty: $NATS_URL, else "
                          "nats://127.0.0.1:4222")
        .arg<std::string>("credentials", "", "a NATS credentials (.creds) file")
        .arg<std::string>("tls_ca", "", "CA certificates file (any tls_* turns TLS on)")
        .arg<std::string>("tls_cert", "", "client certificate chain file")
        .arg<std::string>("tls_key", "", "client private key file")
        .arg<std::string>("delivery", "at_least_once",
                          "at_least_once (JetStream: stored, acknowledged, redelivered) or "
                          "at_most_once (core NATS: lost when nobody listens)")
        .choices({"at_least_once", "at_most_once"})
        .arg<std::string>("stream", "",
                          "at_least_once: the JetStream stream, created when missing; empty: "
                          "rill_<subject with . * > as _>");
}

void register_nats(registry& r) {
    stage_def pub("nats_publish", nats_publish);
    pub.help("Publishes each value, encoded by its type's codec, to a NATS subject. "
             "at_least_once: a value counts as sent once JetStream has stored it.")
        .input_any("in", "the values to publish")
        .needs_codec()
        .required<std::string>("subject", "the NATS subject");
    r.add(with_connection(pub));
    stage_def sub("nats_subscribe", nats_subscribe);
    sub.help("Sends the messages of a NATS subject, decoded by the output type's codec. A source: "
             "a drain stops it. at_least_once: a durable JetStream consumer; a message is "
             "acknowledged once the value after it was taken (or after 100 ms without messages), "
             "so use an unbuffered output channel.")
        .output_any("out", "the values received")
        .needs_codec()
        .required<std::string>("subject", "the NATS subject")
        .arg<std::string>("queue", "",
                          "at_most_once: queue group; subscribers in one group share the messages")
        .arg<std::string>("durable", "",
                          "at_least_once: durable consumer name, shared by every subscriber using "
                          "it; empty: rill_<stage id>")
        .arg<std::chrono::nanoseconds>("ack_wait", std::chrono::seconds(30),
                                       "at_least_once: redelivery after this long unacknowledged")
        .min(0.001)
        .arg<std::int64_t>("max_pending", 1024,
                           "messages buffered (at_most_once) or unacknowledged (at_least_once) at "
                           "most")
        .min(1);
    r.add(with_connection(sub));
}

// Registered at static initialisation, in registry::global() (which makes
// the built-in stages first, whatever the order of initialisers).
[[maybe_unused]] const bool registered = (register_nats(registry::global()), true);

} // namespace

} // namespace rill::config::stages

// What every program linking rill::nats asks the linker for
// (-u rill_nats_stages, nats/CMakeLists.txt), so that this file, and the
// registration above, is linked from the static library.
extern "C" void rill_nats_stages() {}
