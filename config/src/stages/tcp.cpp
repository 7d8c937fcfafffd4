// tcp_source and tcp_sink: newline-delimited text over TCP with rill::net,
// so waiting for the network parks goroutines, not threads.
#include "run/stage_log.hpp"
#include "stages/stages.hpp"

#include <rill/net.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/sync.hpp>

#include <cerrno>
#include <list>
#include <mutex>
#include <sys/socket.h>

namespace rill::config::stages {

namespace {
// The listener and the open connections of a tcp_source, closed together
// when the stage must stop, which ends every accept and read on them. Its
// lock is a rill::mutex: the goroutines of every connection take it, and a
// std::mutex whose holder was preempted could block every processor's thread.
class connections {
public:
    explicit connections(rill::net::tcp_listener& l) : listener_(l) {}
    // Registers a connection; nullptr once closing (the stream is closed then).
    rill::net::tcp_stream* add(rill::net::tcp_stream s) {
        std::lock_guard lk(mu_);
        if (closing_) return nullptr;
        return &*streams_.insert(streams_.end(), std::move(s));
    }
    void remove(rill::net::tcp_stream* s) {
        std::lock_guard lk(mu_);
        streams_.remove_if([s](auto& x) { return &x == s; });
    }
    void close_all() {
        std::lock_guard lk(mu_);
        closing_ = true;
        listener_.close();
        for (auto& s : streams_)
            s.close();
    }

private:
    rill::mutex mu_;
    bool closing_ = false;
    rill::net::tcp_listener& listener_;
    std::list<rill::net::tcp_stream> streams_;
};

void read_connection(rill::net::tcp_stream& s, out_port<std::string>& out, std::size_t max_line,
                     const std::string& stage) {
    line_splitter lines;
    std::string buf(64 * 1024, '\0');
    auto emit = [&](std::string&& line) { return out.send(std::move(line)); };
    for (;;) {
        std::error_code ec;
        auto n = s.read(std::as_writable_bytes(std::span(buf.data(), buf.size())), ec);
        if (ec || n == 0) break;
        if (!lines.feed(buf.data(), n, emit)) return;
        if (lines.partial_size() > max_line) {
            detail::stage_log().warn("stage {}: a line from {} is longer than max_line ({} bytes); "
                                     "connection dropped",
                                     stage, s.peer_address().to_string(), max_line);
            return;
        }
    }
    if (lines.partial_size() > 0) emit(lines.take_partial());
}

void tcp_source(stage_io& io) {
    auto listener = rill::net::tcp_listener::bind(io.arg<std::string>("listen"));
    auto max_line = io.arg<byte_size>("max_line").bytes;
    detail::stage_log().info("stage {}: listening on {}", io.id(),
                             listener.local_address().to_string());
    auto out = io.out<std::string>("out");
    connections conns(listener);
    rill::wait_group readers;
    chan<std::monostate> accepting_done(0);
    readers.add(1);
    rill::go([&] {
        rill::select(rill::on_recv(io.ctx().done(), [](auto) {}),
                     rill::on_recv(accepting_done, [](auto) {}));
        conns.close_all();
        readers.done();
    });
    for (;;) {
        std::error_code ec;
        auto s = listener.accept(ec);
        if (ec) break; // closed: the stage stops
        auto* stream = conns.add(std::move(s));
        if (!stream) break;
        readers.add(1);
        rill::go([&, stream] {
            read_connection(*stream, out, max_line, io.id());
            conns.remove(stream);
            readers.done();
        });
    }
    accepting_done.close();
    readers.wait();
}

// Whether the peer has closed or reset the connection: a write would still
// succeed once after that (the kernel takes the bytes, the peer's RST comes
// back later) and what it wrote would be gone.
bool peer_gone(const rill::net::tcp_stream& s) {
    char c;
    long n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

// Values are kept in hand until their lines are written, so a sink stopped
// while it cannot reach its peer counts them as lost. Delivery is at least
// once for the chunk in flight: the last chunk written on a connection found
// dead afterwards is written again on the next one (the peer may have read
// it already, or not); a peer that dies with earlier chunks unread in its
// socket buffer loses them without TCP telling the sender.
void tcp_sink(stage_io& io) {
    auto& target = io.arg<std::string>("connect");
    auto reconnect = io.arg<std::chrono::nanoseconds>("reconnect");
    auto in = io.in_any("in");
    box v(in.type());
    std::string pending, in_flight;
    std::size_t kept = 0;
    rill::net::tcp_stream s;
    while (in.recv(v)) {
        append_line(pending, v);
        v.reset();
        in.keep();
        ++kept;
        if (pending.size() < 64 * 1024 && in.buffered() > 0) continue;
        // Until written: a lost connection is made again, and the lines are sent again.
        for (;;) {
            std::error_code ec;
            if (s.is_open() && peer_gone(s)) {
                detail::stage_log().warn("stage {}: {} closed the connection; reconnecting",
                                         io.id(), target);
                s.close();
                s = {};
            }
            if (!s.is_open()) {
                s = rill::net::tcp_stream::connect(target, ec);
                if (!ec && !in_flight.empty()) s.write_all(in_flight, ec);
            }
            if (!ec) s.write_all(pending, ec);
            if (!ec) break;
            detail::stage_log().warn(
                "stage {}: {} {}: {}; retrying in {} ms", io.id(),
                s.is_open() ? "write to" : "connect to", target, ec.message(),
                std::chrono::duration_cast<std::chrono::milliseconds>(reconnect).count());
            s.close();
            s = {};
            if (!pause(io.ctx(), reconnect)) return;
        }
        in_flight = std::exchange(pending, {});
        io.release(std::exchange(kept, 0));
    }
}
} // namespace

void register_tcp(registry& r) {
    r.add(stage_def("tcp_source", tcp_source)
              .help("Listens on a TCP address, accepts any number of connections and sends every "
                    "line received on them. A source: a drain closes the listener and the "
                    "connections.")
              .output<std::string>("out", "the lines")
              .required<std::string>("listen", "host:port to listen on (port 0: any free port)")
              .arg<byte_size>("max_line", byte_size{1024 * 1024},
                              "longest line accepted; a connection sending a longer one is "
                              "dropped")
              .min(1));
    r.add(stage_def("tcp_sink", tcp_sink)
              .help("Connects to a TCP address and writes each value as a line (strings as they "
                    "are, other types as fmt formats them), reconnecting when the connection is "
                    "lost.")
              .input_any("in", "the values to send")
              .required<std::string>("connect", "host:port to connect to")
              .arg<std::chrono::nanoseconds>("reconnect", std::chrono::seconds(1),
                                             "wait before connecting again")
              .min(0));
}

} // namespace rill::config::stages
