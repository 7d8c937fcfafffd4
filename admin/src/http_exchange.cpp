#include "http_exchange.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <fmt/format.h>

#include <array>
#include <sys/socket.h>

namespace rill::admin::detail {

namespace http = boost::beast::http;

namespace {

request failed(int status, std::string why) {
    request r;
    r.error_status = status;
    r.error = std::move(why);
    return r;
}

// Beast's errors, as the status a client should see.
int status_of(const boost::system::error_code& ec) {
    if (ec == http::error::header_limit) return 431;
    if (ec == http::error::body_limit || ec == http::error::unexpected_body) return 413;
    return 400;
}

} // namespace

request read_request(net::stream& s, std::size_t max_header_bytes) {
    // empty_body: the endpoint takes no request bodies, and Beast then fails
    // a request that has one rather than store it.
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(max_header_bytes));
    // Beast parses a head only once all of it is in one buffer, so unparsed
    // bytes are kept here; header_limit bounds it (to that plus one read).
    std::string pending;
    std::array<std::byte, 2048> chunk;
    while (!parser.is_header_done()) {
        std::error_code ec;
        std::size_t n = s.read(chunk, ec);
        if (ec == std::errc::timed_out)
            return failed(408, "the request did not arrive within the timeout");
        if (ec) return failed(-1, ec.message());
        if (n == 0) return failed(-1, "the connection ended before a whole request");
        pending.append(reinterpret_cast<const char*>(chunk.data()), n);
        boost::system::error_code bec;
        std::size_t used = parser.put(boost::asio::buffer(pending), bec);
        pending.erase(0, used);
        if (bec && bec != http::error::need_more) return failed(status_of(bec), bec.message());
    }
    if (!parser.is_done()) return failed(413, "a request body is not accepted");
    request r;
    const auto& m = parser.get();
    r.method = std::string(m.method_string());
    std::string_view target(m.target().data(), m.target().size());
    r.path = std::string(target.substr(0, target.find('?')));
    return r;
}

void write_response(net::stream& s, const response& r, bool head) {
    auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(r.status)));
    std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                                  "Cache-Control: no-store\r\nConnection: close\r\n",
                                  r.status, std::string_view(reason.data(), reason.size()),
                                  r.content_type, r.body.size());
    for (const auto& [name, value] : r.headers)
        fmt::format_to(std::back_inserter(out), "{}: {}\r\n", name, value);
    out += "\r\n";
    if (!head) out += r.body;
    std::error_code ec;
    s.write_all(out, ec);
    if (ec) return;
    s.shutdown(SHUT_WR, ec);
    // What the client sent beyond its request (a body refused, say) is read
    // and dropped until it closes: closing with unread data would send a
    // reset, which may destroy the response in the client's buffers.
    std::array<std::byte, 2048> sink;
    while (!ec && s.read(sink, ec) > 0) {
    }
}

} // namespace rill::admin::detail
