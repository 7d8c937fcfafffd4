// The NATS bridge (rill/nats/bridge.hpp) against servers that authenticate:
// TLS with client certificates (made with the openssl command), and operator
// mode with a user's .creds file (nats_auth.hpp). Connections that must fail
// fail at once with an error that says why, and no secret reaches the log.
#include "nats_auth.hpp"
#include "nats_bridge.hpp"
#include "nats_server.hpp"
#include "scratch_dir.hpp"
#include "test_util.hpp"

#include <rill/nats/bridge.hpp>
#include <rill/runtime.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace rill_test;
using std::int64_t;

namespace {

// The exception connecting with o throws; empty when it connects. A refusal
// comes at once: within libnats' connect timeout (2 s) unless the bridge
// retried.
std::string connect_error(const nats::connection_options& o) {
    struct timed {
        std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
        ~timed() { CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10)); }
    } t;
    nats::publish_options po;
    po.connection = o;
    po.subject = "t.none";
    po.mode = nats::delivery::at_most_once;
    rill::chan<std::string> none(0);
    none.close();
    try {
        nats::publish<std::string>(rill::background(), none.rx(), po);
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

// Publishes and receives a few values through a server with these settings.
void round_trip(const nats_server& server, const nats::connection_options& o, nats::delivery d) {
    auto so = subscribing(server, "t.secure", d);
    so.connection = o;
    so.durable = "secure";
    subscriber<std::string> sub(so, 4);
    auto po = publishing(server, "t.secure", d);
    po.connection = o;
    publish_all(po, numbered(3));
    for (int i = 1; i <= 3; ++i)
        REQUIRE(sub.next() == std::to_string(i));
    sub.stop();
}

// Whether text shows any line of the PEM file's base64 body (the short last
// line aside, which could match by chance).
bool shows_pem(const std::string& text, const std::string& path) {
    std::ifstream f(path);
    for (std::string line; std::getline(f, line);)
        if (line.size() >= 16 && line.find("-----") == std::string::npos && contains(text, line))
            return true;
    return false;
}

// A CA and certificates it signs, made with the openssl command.
class pki {
public:
    pki(const scratch_dir& dir, const std::string& name) : dir_(dir), name_(name) {
        if (::access(openssl, X_OK) != 0)
            FAIL("the openssl command is not installed (Debian: apt-get install openssl)");
        // Its own configuration, independent of the system's openssl.cnf.
        conf_ = dir.file(name + ".cnf", R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
[server]
basicConstraints = CA:false
subjectAltName = IP:127.0.0.1
extendedKeyUsage = serverAuth
[client]
basicConstraints = CA:false
extendedKeyUsage = clientAuth
)");
        ca = make("ca", "ca", {});
    }
    struct files {
        std::string cert, key;
    };
    files ca;
    // A certificate for use ("server" or "client"), signed by the CA.
    files issue(const std::string& use) {
        return make(use, use, {"-CA", ca.cert, "-CAkey", ca.key});
    }

private:
    static constexpr const char* openssl = "/usr/bin/openssl";
    files make(const std::string& what, const std::string& extensions,
               const std::vector<std::string>& signer) {
        files f{dir_.file(name_ + "-" + what + ".pem"), dir_.file(name_ + "-" + what + ".key")};
        std::vector<std::string> args = {"openssl", "req", "-config", conf_, "-x509", "-nodes"};
        args.insert(args.end(), {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"});
        args.insert(args.end(), {"-days", "1", "-subj", "/CN=rill-test-" + name_ + "-" + what});
        args.insert(args.end(), {"-extensions", extensions, "-keyout", f.key, "-out", f.cert});
        args.insert(args.end(), signer.begin(), signer.end());
        auto r = wait_process(start_process(openssl, args));
        INFO(r.output);
        REQUIRE(r.exited_with(0));
        return f;
    }
    const scratch_dir& dir_;
    std::string name_, conf_;
};

} // namespace

TEST_CASE("nats: TLS with a client certificate; a wrong CA or no certificate is refused") {
    scratch_dir dir;
    pki good(dir, "good"), other(dir, "other");
    auto server_cert = good.issue("server");
    auto client_cert = good.issue("client");
    nats_server server("tls {\n  cert_file: \"" + server_cert.cert + "\"\n  key_file: \"" +
                       server_cert.key + "\"\n  ca_file: \"" + good.ca.cert +
                       "\"\n  verify: true\n}\n");
    auto from = nats_log().mark();
    std::string errors;
    in_runtime([&] {
        auto o = connect_to(server);
        o.tls_ca = good.ca.cert;
        o.tls_cert = client_cert.cert;
        o.tls_key = client_cert.key;
        round_trip(server, o, nats::delivery::at_least_once);

        // The server's certificate is not from this CA.
        auto wrong_ca = o;
        wrong_ca.tls_ca = other.ca.cert;
        auto error = connect_error(wrong_ca);
        INFO(error);
        CHECK(contains(error, "unable to get local issuer certificate"));
        CHECK(contains(error, "TLS CA file " + other.ca.cert));
        errors += error;

        // The server wants a client certificate.
        auto anonymous = o;
        anonymous.tls_cert = anonymous.tls_key = "";
        error = connect_error(anonymous);
        INFO(error);
        CHECK(error != "");
        errors += error;
    });
    auto shown = nats_log().text().substr(from) + errors;
    for (auto& key : {server_cert.key, client_cert.key, good.ca.key})
        CHECK_FALSE(shows_pem(shown, key));
}

TEST_CASE("nats: a .creds file authenticates in operator mode; other users are refused") {
    using namespace nats_auth;
    scratch_dir dir;
    nkey op(role::operator_), system(role::account), account(role::account), user(role::user);
    nkey stranger_account(role::account), stranger(role::user);
    // JetStream (the harness turns it on) needs a system account.
    nats_server server("operator: \"" + dir.file("op.jwt", operator_jwt(op)) +
                       "\"\nsystem_account: " + system.public_key() +
                       "\nresolver: MEMORY\nresolver_preload: {\n  " + system.public_key() +
                       ": \"" + account_jwt(op, system, "SYS") + "\"\n  " + account.public_key() +
                       ": \"" + account_jwt(op, account, "rill-test") + "\"\n}\n");
    auto creds_file = dir.file("user.creds", creds(user_jwt(account, user, "tester"), user));
    // Signed by an account the operator does not vouch for.
    auto stranger_file = dir.file(
        "stranger.creds", creds(user_jwt(stranger_account, stranger, "stranger"), stranger));
    auto from = nats_log().mark();
    in_runtime([&] {
        auto o = connect_to(server);
        o.credentials = creds_file;
        round_trip(server, o, nats::delivery::at_most_once);

        auto error = connect_error(connect_to(server));
        INFO(error);
        CHECK(contains(error, "Authorization Violation"));

        o.credentials = stranger_file;
        error = connect_error(o);
        INFO(error);
        CHECK(contains(error, "Authorization Violation"));
        CHECK(contains(error, "credentials file " + stranger_file));
        CHECK_FALSE(contains(error, stranger.seed()));
    });
    auto log = nats_log().text().substr(from);
    CHECK_FALSE(contains(log, user.seed()));
    CHECK_FALSE(contains(log, stranger.seed()));
}
