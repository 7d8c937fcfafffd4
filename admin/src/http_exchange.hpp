// One HTTP exchange on a stream: the request's head read with Boost.Beast's
// parser, within bounds, and a response written. The server decides what to
// answer; this only speaks the protocol.
#pragma once

#include <rill/net.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace rill::admin::detail {

struct request {
    // 0 when a whole request was read; else the status to answer with (400,
    // 408, 413, 431), or -1 when the connection ended or failed before a
    // whole request came, and there is no one to answer.
    int error_status = 0;
    std::string error; // why, for the log and the response body
    std::string method;
    std::string path; // the target without its query string
};

// Reads one request's head, at most max_header_bytes of it; a request with
// a body is refused (413) without reading the body. The socket's read
// deadline bounds the whole read (408 once passed).
request read_request(net::stream& s, std::size_t max_header_bytes);

struct response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers; // more headers
};

// Writes r with Content-Length and Connection: close (the body left out for
// a HEAD request), then ends the stream's sending side and reads what the
// client still sends, so that closing does not reset the connection before
// the client has read the response. Bounded by the socket's deadlines.
void write_response(net::stream& s, const response& r, bool head);

} // namespace rill::admin::detail
