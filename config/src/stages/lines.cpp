// read_lines and write_lines: files and stdin/stdout, line by line. Reads
// and writes go through 64 KiB buffers, one system call per buffer: a file
// (which epoll cannot wait for) inside rill::blocking, a pipe or terminal
// after the netpoller has said it is ready, so a drain is noticed while
// stdin is quiet.
#include "stage_log.hpp"
#include "stages/stages.hpp"

#include <rill/net.hpp>
#include <rill/runtime.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace rill::config::stages {

namespace {
constexpr std::size_t chunk = 64 * 1024;
// How often a pipe reader looks at its context while nothing arrives.
constexpr auto quiet_check = std::chrono::milliseconds(50);

[[noreturn]] void fail(const std::string& what, const std::string& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path);
}

class fd_owner {
public:
    explicit fd_owner(int fd, bool owned) : fd_(fd), owned_(owned) {}
    fd_owner(const fd_owner&) = delete;
    fd_owner& operator=(const fd_owner&) = delete;
    ~fd_owner() {
        if (owned_) ::close(fd_);
    }
    int get() const noexcept { return fd_; }

private:
    int fd_;
    bool owned_;
};

fd_owner open_path(const std::string& path, int flags, int std_fd) {
    if (path == "-") return fd_owner(std_fd, false);
    int fd = rill::blocking([&] { return ::open(path.c_str(), flags | O_CLOEXEC, 0644); });
    if (fd < 0) fail("open", path);
    return fd_owner(fd, true);
}

// One read of up to n bytes: 0 at the end, -1 when ctx was cancelled first.
class reader {
public:
    reader(const fd_owner& fd, const std::string& path, const context& ctx)
        : fd_(fd.get()), path_(path), ctx_(ctx) {
        struct stat st {};
        if (::fstat(fd_, &st) != 0 || S_ISREG(st.st_mode)) return;
        std::error_code ec;
        poll_.emplace(fd_, ec);
        if (ec) poll_.reset(); // not pollable (/dev/null, say): plain blocking reads
    }
    long read(char* buf, std::size_t n) {
        if (poll_) {
            for (;;) {
                if (ctx_.is_done()) return -1;
                auto ec = poll_->wait_readable(std::chrono::steady_clock::now() + quiet_check);
                if (!ec) break;
                if (ec != std::errc::timed_out) throw std::system_error(ec, "poll " + path_);
            }
        }
        long got = rill::blocking([&] { return long(::read(fd_, buf, n)); });
        if (got < 0 && errno != EAGAIN && errno != EINTR) fail("read", path_);
        return std::max(got, 0L);
    }

private:
    int fd_;
    const std::string& path_;
    const context& ctx_;
    std::optional<rill::net::poll_fd> poll_;
};

void read_lines(stage_io& io) {
    auto& path = io.arg<std::string>("path");
    bool follow = io.arg<bool>("follow"), skip_empty = io.arg<bool>("skip_empty");
    auto out = io.out<std::string>("out");
    auto fd = open_path(path, O_RDONLY, STDIN_FILENO);
    reader in(fd, path, io.ctx());
    line_splitter lines;
    auto emit = [&](std::string&& line) {
        return (skip_empty && line.empty()) || out.send(std::move(line));
    };
    std::string buf(chunk, '\0');
    for (;;) {
        long n = in.read(buf.data(), buf.size());
        if (n < 0) return;
        if (n == 0) {
            // At the end: a file being followed may grow; anything else is done.
            if (follow && pause(io.ctx(), std::chrono::milliseconds(100))) continue;
            if (lines.partial_size() > 0) emit(lines.take_partial());
            return;
        }
        if (!lines.feed(buf.data(), static_cast<std::size_t>(n), emit)) return;
    }
}

void write_all(int fd, const std::string& data, const std::string& path) {
    std::size_t done = 0;
    while (done < data.size()) {
        long n = rill::blocking(
            [&] { return long(::write(fd, data.data() + done, data.size() - done)); });
        if (n < 0 && errno != EINTR) fail("write", path);
        if (n > 0) done += static_cast<std::size_t>(n);
    }
}

void write_lines(stage_io& io) {
    auto& path = io.arg<std::string>("path");
    bool flush_each = io.arg<bool>("flush");
    int flags = O_WRONLY | O_CREAT | (io.arg<bool>("append") ? O_APPEND : O_TRUNC);
    auto fd = open_path(path, flags, STDOUT_FILENO);
    auto in = io.in_any("in");
    box v(in.type());
    // The values in pending are kept in hand until written.
    std::string pending;
    std::size_t kept = 0;
    auto write_pending = [&] {
        write_all(fd.get(), pending, path);
        pending.clear();
        io.release(std::exchange(kept, 0));
    };
    // Written when nothing more is waiting, so output keeps up with a slow input.
    while (in.recv(v)) {
        append_line(pending, v);
        v.reset();
        in.keep();
        ++kept;
        if (flush_each || pending.size() >= chunk || in.buffered() == 0) write_pending();
    }
    write_pending();
}
} // namespace

void register_lines(registry& r) {
    r.add(stage_def("read_lines", read_lines)
              .help("Reads lines from a file or stdin and sends each one (without its newline). "
                    "A source: a drain stops it.")
              .output<std::string>("out", "the lines")
              .arg<std::string>("path", "-", "the file to read; - for stdin")
              .arg<bool>("follow", false,
                         "at the end of the file, wait for more lines (like tail -f) until a "
                         "drain")
              .arg<bool>("skip_empty", false, "drop empty lines"));
    r.add(stage_def("write_lines", write_lines)
              .help("Writes each value as a line to a file or stdout: strings as they are, "
                    "other types as fmt formats them.")
              .input_any("in", "the values to write")
              .arg<std::string>("path", "-", "the file to write; - for stdout")
              .arg<bool>("append", false, "append to the file instead of truncating it")
              .arg<bool>("flush", false,
                         "write each line at once (else lines are written when no more are "
                         "waiting, and at the end)"));
}

} // namespace rill::config::stages
