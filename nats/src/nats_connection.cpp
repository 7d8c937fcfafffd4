#include "nats_connection.hpp"
#include "run/stage_log.hpp"

#include <rill/runtime.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <vector>

namespace rill::config::nats::detail {

spdlog::logger& log() {
    static spdlog::logger& logger = config::detail::process_logger("rill.nats");
    return logger;
}

std::string describe(natsStatus s) {
    const char* last = nats_GetLastError(nullptr);
    return last && *last ? last : natsStatus_GetText(s);
}

void check(natsStatus s, std::string_view what, jsErrCode js_err) {
    if (s == NATS_OK) return;
    std::string msg(what);
    msg += ": " + describe(s);
    if (js_err != 0) msg += " (JetStream error " + std::to_string(static_cast<int>(js_err)) + ")";
    throw std::runtime_error(msg);
}

std::string redact(std::string_view url) {
    auto scheme = url.find("://");
    auto from = scheme == std::string_view::npos ? 0 : scheme + 3;
    auto at = url.find('@', from);
    if (at == std::string_view::npos) return std::string(url);
    return std::string(url.substr(0, from)) + "***" + std::string(url.substr(at));
}

namespace {

std::vector<std::string> server_list(const connection_options& o) {
    std::string servers = o.servers;
    if (servers.empty()) {
        const char* env = std::getenv("NATS_URL");
        servers = env && *env ? env : "nats://127.0.0.1:4222";
    }
    std::vector<std::string> out;
    for (std::size_t at = 0; at <= servers.size();) {
        auto comma = servers.find(',', at);
        if (comma == std::string::npos) comma = servers.size();
        auto url = servers.substr(at, comma - at);
        url.erase(0, url.find_first_not_of(' '));
        url.erase(url.find_last_not_of(' ') + 1);
        if (!url.empty()) out.push_back(url);
        at = comma + 1;
    }
    return out;
}

std::string connected_url(natsConnection* nc) {
    char buf[256] = {};
    if (natsConnection_GetConnectedUrl(nc, buf, sizeof buf) != NATS_OK) return "?";
    return redact(buf);
}

void on_disconnected(natsConnection*, void* state) {
    auto* cb = static_cast<connection::callbacks*>(state);
    if (!cb->closing.load())
        log().warn("{}: disconnected from the NATS server; reconnecting", cb->name);
}
void on_reconnected(natsConnection* nc, void* state) {
    log().info("{}: reconnected to {}", static_cast<connection::callbacks*>(state)->name,
               connected_url(nc));
}
void on_error(natsConnection*, natsSubscription* sub, natsStatus err, void* state) {
    auto& name = static_cast<connection::callbacks*>(state)->name;
    if (err == NATS_SLOW_CONSUMER && sub) {
        int64_t dropped = 0;
        natsSubscription_GetDropped(sub, &dropped);
        log().error("{}: slow consumer: the client library dropped messages ({} so far); "
                    "raise max_pending or use delivery: at_least_once",
                    name, dropped);
        return;
    }
    log().error("{}: NATS error: {}", name, natsStatus_GetText(err));
}
// The last callback of a connection that was connected: the destructor
// waits for it.
void on_closed(natsConnection*, void* state) {
    auto* cb = static_cast<connection::callbacks*>(state);
    std::lock_guard lk(cb->mu);
    cb->closed = true;
    cb->cv.notify_all();
}

// The files a connection authenticates with, named in a connection error:
// a refused handshake or login is often a wrong file (libnats' text names
// only what failed).
std::string security_files(const connection_options& o) {
    std::string files;
    auto add = [&](const char* what, const std::string& path) {
        if (!path.empty()) files += (files.empty() ? " with " : ", ") + (what + path);
    };
    add("credentials file ", o.credentials);
    add("TLS CA file ", o.tls_ca);
    add("TLS certificate ", o.tls_cert);
    add("TLS key ", o.tls_key);
    return files;
}

struct options_deleter {
    void operator()(natsOptions* o) const noexcept { natsOptions_Destroy(o); }
};

} // namespace

connection::connection(const connection_options& o)
    : name_(o.name.empty() ? "rill" : o.name), cb_(new callbacks{name_}) {
    try {
        connect(o);
    } catch (...) {
        delete cb_; // never connected: libnats calls none of the callbacks
        throw;
    }
}

void connection::connect(const connection_options& o) {
    natsOptions* raw = nullptr;
    check(natsOptions_Create(&raw), "NATS options");
    std::unique_ptr<natsOptions, options_deleter> opts(raw);
    auto servers = server_list(o);
    std::vector<const char*> urls;
    std::string shown;
    for (auto& s : servers) {
        urls.push_back(s.c_str());
        shown += (shown.empty() ? "" : ",") + redact(s);
    }
    check(natsOptions_SetServers(opts.get(), urls.data(), static_cast<int>(urls.size())),
          "NATS servers " + shown);
    check(natsOptions_SetName(opts.get(), name_.c_str()), "NATS client name");
    // Reconnect for ever: the stage keeps its place in the topology while the
    // server is away; libnats buffers what is published meanwhile.
    check(natsOptions_SetMaxReconnect(opts.get(), -1), "NATS reconnects");
    check(natsOptions_SetReconnectWait(opts.get(), 500), "NATS reconnect wait");
    check(natsOptions_SetDisconnectedCB(opts.get(), on_disconnected, cb_), "NATS callback");
    check(natsOptions_SetReconnectedCB(opts.get(), on_reconnected, cb_), "NATS callback");
    check(natsOptions_SetErrorHandler(opts.get(), on_error, cb_), "NATS callback");
    check(natsOptions_SetClosedCB(opts.get(), on_closed, cb_), "NATS callback");
    // File names only in errors: the files' contents are secret.
    if (!o.credentials.empty())
        check(natsOptions_SetUserCredentialsFromFiles(opts.get(), o.credentials.c_str(), nullptr),
              "NATS credentials file " + o.credentials);
    if (!o.tls_ca.empty() || !o.tls_cert.empty() || !o.tls_key.empty()) {
        check(natsOptions_SetSecure(opts.get(), true), "NATS TLS");
        if (!o.tls_ca.empty())
            check(natsOptions_LoadCATrustedCertificates(opts.get(), o.tls_ca.c_str()),
                  "NATS TLS CA file " + o.tls_ca);
        if (!o.tls_cert.empty() || !o.tls_key.empty())
            check(natsOptions_LoadCertificatesChain(opts.get(), o.tls_cert.c_str(),
                                                    o.tls_key.c_str()),
                  "NATS TLS certificate " + o.tls_cert + " and key " + o.tls_key);
    }
    check(natsConnection_Connect(&nc_, opts.get()),
          name_ + ": connecting to " + shown + security_files(o));
    log().info("{}: connected to {}", name_, connected_url(nc_));
}

connection::~connection() {
    cb_->closing.store(true); // a disconnection now is ours: not reported
    // Closing flushes and joins libnats' threads: a blocking call.
    rill::blocking([&] {
        if (js_) jsCtx_Destroy(js_);
        natsConnection_Close(nc_);
        // Destroyed only once its callbacks have run (on a libnats thread, in
        // order, on_closed last): libnats 3.4.1 crashed (ASan, TSan: a
        // destroyed mutex) finishing an error callback (a slow consumer) for
        // a connection destroyed meanwhile.
        std::unique_lock lk(cb_->mu);
        if (!cb_->cv.wait_for(lk, std::chrono::seconds(10), [&] { return cb_->closed; })) {
            // Never seen; cb_ and the connection are left to libnats rather
            // than freed under a callback that may still come.
            log().warn("{}: the NATS client library did not report the connection closed", name_);
            return;
        }
        lk.unlock();
        natsConnection_Destroy(nc_);
        delete cb_;
    });
}

jsCtx* connection::js() {
    if (!js_) check(natsConnection_JetStream(&js_, nc_, nullptr), name_ + ": JetStream");
    return js_;
}

std::string ensure_stream(jsCtx* js, const std::string& stream, const std::string& subject) {
    std::string name = stream.empty() ? default_stream(subject) : stream;
    jsStreamInfo* si = nullptr;
    jsErrCode err{};
    natsStatus s = js_GetStreamInfo(&si, js, name.c_str(), nullptr, &err);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return name;
    }
    if (s != NATS_NOT_FOUND) check(s, "JetStream stream " + name, err);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name.c_str();
    const char* subjects[] = {subject.c_str()};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    // Two processes may create it at once: the server accepts the same
    // configuration twice.
    check(js_AddStream(&si, js, &cfg, nullptr, &err), "creating JetStream stream " + name, err);
    jsStreamInfo_Destroy(si);
    log().info("created JetStream stream {} for subject {}", name, subject);
    return name;
}

std::string default_stream(std::string_view subject) {
    std::string name = "rill_";
    for (char c : subject)
        name += c == '.' || c == '*' || c == '>' || c == ' ' ? '_' : c;
    return name;
}

} // namespace rill::config::nats::detail
