// NATS decentralised authentication material for tests, made at test time as
// nsc would make it: nkeys (Ed25519 key pairs, with OpenSSL), operator,
// account and user JWTs signed with them, and a user's .creds file. The
// server trusts an operator JWT and, through it, the account JWTs it is given
// (resolver_preload); a user connects with a JWT its account signed and proves
// it holds the user key by signing the server's nonce with the seed.
// Nothing expires; the accounts and users have no limits.
#pragma once

#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

namespace rill_test::nats_auth {

namespace detail {
// RFC 4648 encoding without padding, bits_per_char bits per character.
inline std::string encode_bits(std::string_view bytes, const char* alphabet, int bits_per_char) {
    const unsigned mask = (1u << bits_per_char) - 1;
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        buffer = (buffer << 8) | c;
        for (bits += 8; bits >= bits_per_char; bits -= bits_per_char)
            out += alphabet[(buffer >> (bits - bits_per_char)) & mask];
    }
    if (bits > 0) out += alphabet[(buffer << (bits_per_char - bits)) & mask];
    return out;
}
// base32: nkeys and JWT ids.
inline std::string base32(std::string_view bytes) {
    return encode_bits(bytes, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 5);
}
// base64url: the parts of a JWT.
inline std::string base64url(std::string_view bytes) {
    return encode_bits(bytes, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                       6);
}
// CRC-16/XMODEM, the nkeys checksum.
inline std::uint16_t crc16(std::string_view bytes) {
    std::uint16_t crc = 0;
    for (unsigned char c : bytes) {
        crc ^= static_cast<std::uint16_t>(c << 8);
        for (int i = 0; i < 8; ++i)
            crc = static_cast<std::uint16_t>(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}
// An nkey's text: base32 of the bytes followed by their checksum, little-endian.
inline std::string encode(std::string raw) {
    auto crc = crc16(raw);
    raw += static_cast<char>(crc & 0xff);
    raw += static_cast<char>(crc >> 8);
    return base32(raw);
}
inline std::string random_bytes(int n) {
    std::string out(static_cast<std::size_t>(n), '\0');
    REQUIRE(RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), n) == 1);
    return out;
}
} // namespace detail

// The kinds of nkey, as their prefix byte.
enum class role : unsigned char { operator_ = 14 << 3, account = 0, user = 20 << 3 };

// A fresh Ed25519 key pair of one role.
class nkey {
public:
    explicit nkey(role r) {
        auto seed = detail::random_bytes(32);
        key_.reset(EVP_PKEY_new_raw_private_key(
            EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), 32));
        REQUIRE(key_);
        std::string pub(32, '\0');
        std::size_t len = pub.size();
        REQUIRE(EVP_PKEY_get_raw_public_key(
                    key_.get(), reinterpret_cast<unsigned char*>(pub.data()), &len) == 1);
        REQUIRE(len == 32);
        auto prefix = static_cast<unsigned char>(r);
        public_ = detail::encode(static_cast<char>(prefix) + pub);
        // A seed's two prefix bytes: 'S' (18 << 3) and the role's prefix, 5 bits each.
        std::string raw{static_cast<char>((18 << 3) | (prefix >> 5)),
                        static_cast<char>((prefix & 31) << 3)};
        seed_ = detail::encode(raw + seed);
    }
    const std::string& public_key() const { return public_; } // "O...", "A...", "U..."
    const std::string& seed() const { return seed_; }         // "SO...", "SA...", "SU...": secret
    std::string sign(std::string_view data) const {
        std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                    EVP_MD_CTX_free);
        REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1);
        std::string sig(64, '\0');
        std::size_t len = sig.size();
        REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                               reinterpret_cast<const unsigned char*>(data.data()),
                               data.size()) == 1);
        REQUIRE(len == 64);
        return sig;
    }

private:
    struct key_deleter {
        void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
    };
    std::unique_ptr<EVP_PKEY, key_deleter> key_;
    std::string public_, seed_;
};

// A JWT about subject, signed by issuer; nats: the "nats" claim's members
// after "type" and "version".
inline std::string jwt(const nkey& issuer, const nkey& subject, const std::string& name,
                       const std::string& type, const std::string& nats) {
    std::string header = R"({"typ":"JWT","alg":"ed25519-nkey"})";
    std::string claims = R"({"jti":")" + detail::base32(detail::random_bytes(32)) + R"(","iat":)" +
                         std::to_string(std::time(nullptr)) + R"(,"iss":")" + issuer.public_key() +
                         R"(","name":")" + name + R"(","sub":")" + subject.public_key() +
                         R"(","nats":{"type":")" + type + R"(","version":2)" +
                         (nats.empty() ? "" : "," + nats) + "}}";
    auto signed_part = detail::base64url(header) + "." + detail::base64url(claims);
    return signed_part + "." + detail::base64url(issuer.sign(signed_part));
}

// The operator's own JWT, the server's root of trust.
inline std::string operator_jwt(const nkey& op) {
    return jwt(op, op, "rill-test-operator", "operator", "");
}

inline std::string account_jwt(const nkey& op, const nkey& account, const std::string& name) {
    return jwt(op, account, name, "account",
               R"("limits":{"subs":-1,"conn":-1,"leaf":-1,"imports":-1,"exports":-1,)"
               R"("data":-1,"payload":-1,"wildcards":true},)"
               R"("default_permissions":{"pub":{},"sub":{}})");
}

inline std::string user_jwt(const nkey& account, const nkey& user, const std::string& name) {
    return jwt(account, user, name, "user",
               R"("pub":{},"sub":{},"subs":-1,"data":-1,"payload":-1)");
}

// The text of a .creds file: the user's JWT and seed.
inline std::string creds(const std::string& user_jwt, const nkey& user) {
    return "-----BEGIN NATS USER JWT-----\n" + user_jwt +
           "\n------END NATS USER JWT------\n\n"
           "************************* IMPORTANT *************************\n"
           "NKEY Seed printed below can be used to sign and prove identity.\n"
           "NKEYs are sensitive and should be treated as secrets.\n\n"
           "-----BEGIN USER NKEY SEED-----\n" +
           user.seed() +
           "\n------END USER NKEY SEED------\n\n"
           "*************************************************************\n";
}

} // namespace rill_test::nats_auth
