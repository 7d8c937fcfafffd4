// Host name resolution (plays the part of Go's net/lookup.go with the cgo
// resolver): getaddrinfo through Boost.Asio's resolver, run as a blocking
// call so that the goroutine's processor keeps running others meanwhile.
// Asio gives the lookup typed error codes (netdb and addrinfo categories,
// with messages) and IPv4/IPv6 results as endpoints; nothing else of Asio is
// used, and none of it shows in rill's headers.
#include <rill/net.hpp>
#include <rill/runtime.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>

namespace rill::net {

std::vector<address> resolve(std::string_view host, std::uint16_t port, std::error_code& ec) {
    ec.clear();
    std::string_view bare = host;
    if (bare.size() >= 2 && bare.front() == '[' && bare.back() == ']')
        bare = bare.substr(1, bare.size() - 2);
    if (auto a = address::ip(bare, port)) return {*a};
    std::vector<address> out;
    rill::blocking([&] {
        // An io_context per lookup: constructing one is cheap next to the
        // lookup itself, and nothing is shared between concurrent ones.
        boost::asio::io_context ctx;
        boost::asio::ip::tcp::resolver resolver(ctx);
        boost::system::error_code bec;
        auto results = resolver.resolve(std::string(bare), std::to_string(port),
                                        boost::asio::ip::resolver_base::numeric_service, bec);
        if (bec) {
            ec = bec; // boost::system::error_code converts to std::error_code
            return;
        }
        for (const auto& entry : results) {
            auto ep = entry.endpoint();
            out.push_back(address::from_native(ep.data(), ep.size()));
        }
    });
    if (!ec && out.empty()) ec = std::make_error_code(std::errc::address_not_available);
    return out;
}

std::vector<address> resolve(std::string_view host, std::uint16_t port) {
    std::error_code ec;
    auto out = resolve(host, port, ec);
    if (ec) throw std::system_error(ec, "lookup " + std::string(host));
    return out;
}

} // namespace rill::net
