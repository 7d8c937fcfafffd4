// read_lines and write_lines: files and stdin/stdout, line by line. Reads
// and writes go through 64 KiB buffers, one system call per buffer: a file
// (which epoll cannot wait for) inside rill::blocking, a pipe or terminal
// after the netpoller has said it is ready, so a drain is noticed while
// stdin is quiet.
#include "run/stage_log.hpp"
#include "stages/checkpoint.hpp"
#include "stages/stages.hpp"

#include <rill/net.hpp>
#include <rill/runtime.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace rill::config::stages {

namespace {
constexpr std::size_t chunk = 64 * 1024;
// How often a pipe reader looks at its context while nothing arrives.
constexpr auto quiet_check = std::chrono::milliseconds(50);
// How often a followed file is looked at for growth, rotation and truncation
// (and a missing one for its creation).
constexpr auto follow_poll = std::chrono::milliseconds(100);
// The longest a checkpoint lags behind the lines sent while they flow.
constexpr auto checkpoint_every = std::chrono::seconds(1);

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
    reader(int fd, const std::string& path, const context& ctx) : fd_(fd), path_(path), ctx_(ctx) {
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

// What read_lines keeps across the restarts of its worker (stage_io::state):
// the open file and what was read from it but not yet sent, so that a
// restart sends every line once, from a pipe as from a file.
struct read_state {
    std::optional<fd_owner> fd; // empty until opened
    bool regular = false;       // a regular file: checkpoints, rotation and truncation
    file_position at;           // the file's identity; offset: of buf[0] in it
    std::string buf;            // read; sent up to pos
    std::size_t pos = 0;
    std::optional<file_position> saved; // what the checkpoint file holds
    std::chrono::steady_clock::time_point saved_at{};

    file_position sent() const noexcept {
        return {at.dev, at.ino, at.offset + static_cast<off_t>(pos)};
    }
    // The file's offset that the next read starts at.
    off_t read_to() const noexcept { return at.offset + static_cast<off_t>(buf.size()); }
    // From now on, fd's bytes from offset on (a new file, or the same one again).
    void restart_at(off_t offset) {
        at.offset = offset;
        buf.clear();
        pos = 0;
    }
};

// How read_lines reads one file: its arguments, its port and its state.
class line_reader {
public:
    line_reader(stage_io& io, read_state& st)
        : io_(io), st_(st), path_(io.arg<std::string>("path")),
          checkpoint_(io.arg<std::string>("checkpoint")), follow_(io.arg<bool>("follow")),
          skip_empty_(io.arg<bool>("skip_empty")), out_(io.out<std::string>("out")) {
        if (!checkpoint_.empty() && path_ == "-")
            throw std::invalid_argument("read_lines: a checkpoint needs a file, not stdin");
    }

    void run() {
        if (!st_.fd && !open_first()) return;
        pump();
        save(true);
    }

private:
    // Reads and sends until the end (of the input; with follow, of the run),
    // a drain or a hard stop. After a drain only the line in hand is read to
    // its end (from a pipe, which cannot be waited for, its start is sent as
    // it is), and everything held is sent.
    void pump() {
        std::optional<reader> in(std::in_place, st_.fd->get(), path_, io_.ctx());
        bool renamed = false;       // the name is another file's: read this one to its end first
        bool line_finished = false; // after the drain, the line in hand has ended
        for (;;) {
            if (!send_lines()) return;
            save(false);
            bool draining = io_.ctx().is_done();
            if (draining && (st_.pos == st_.buf.size() || !st_.regular || line_finished)) break;
            long n = read_more(*in);
            if (n < 0) break;
            if (n > 0) {
                // send_lines left no complete line, so the first newline ends the
                // one in hand. What follows it was not taken in: a checkpoint
                // ends at that line, and the next run reads on from there.
                auto nl = draining ? st_.buf.find('\n') : std::string::npos;
                if (nl != std::string::npos) st_.buf.resize(nl + 1);
                line_finished = nl != std::string::npos;
                continue;
            }
            if (draining || !follow_) break;
            auto c = st_.regular ? look_at_name(renamed) : name_change::none;
            if (c == name_change::stopped) return;
            if (c == name_change::reopened) {
                in.emplace(st_.fd->get(), path_, io_.ctx());
                continue;
            }
            pause(io_.ctx(), follow_poll); // a drain is seen at the top of the loop
        }
        send_rest();
    }

    // Opens path for the run's first read: with follow a file that does not
    // exist yet is waited for; with a checkpoint that names this file, reading
    // resumes where the last run stopped. False when drained while waiting.
    bool open_first() {
        auto cp = checkpoint_.empty() ? std::nullopt : load_checkpoint(checkpoint_);
        bool waiting = false;
        while (!open_name()) {
            if (!follow_) fail("open", path_);
            if (!waiting)
                detail::stage_log().info("stage {}: waiting for {} to appear", io_.id(), path_);
            waiting = true;
            if (!pause(io_.ctx(), follow_poll)) return false;
        }
        if (!cp) return true;
        st_.saved = cp;
        struct stat s {};
        if (::fstat(st_.fd->get(), &s) == 0 && cp->same_file(st_.at) && cp->offset <= s.st_size &&
            ::lseek(st_.fd->get(), cp->offset, SEEK_SET) == cp->offset) {
            st_.restart_at(cp->offset);
            detail::stage_log().info("stage {}: resuming {} at byte {} (checkpoint {})", io_.id(),
                                     path_, cp->offset, checkpoint_);
        } else {
            detail::stage_log().warn("stage {}: {} was replaced or truncated since checkpoint {} "
                                     "was written: reading it from its start",
                                     io_.id(), path_, checkpoint_);
        }
        return true;
    }

    // (Re)opens path from its start; false when it does not exist.
    bool open_name() {
        if (path_ == "-") {
            st_.fd.emplace(STDIN_FILENO, false);
            return true;
        }
        int fd = rill::blocking([&] { return ::open(path_.c_str(), O_RDONLY | O_CLOEXEC); });
        if (fd < 0 && errno == ENOENT) return false;
        if (fd < 0) fail("open", path_);
        st_.fd.emplace(fd, true);
        struct stat s {};
        if (::fstat(fd, &s) != 0) fail("stat", path_);
        st_.regular = S_ISREG(s.st_mode);
        st_.at = {s.st_dev, s.st_ino, 0};
        st_.restart_at(0);
        return true;
    }

    // At the end of a followed file, as tail -F: the name given to another
    // file (rotation) is followed once this one is read to its end; a file
    // shorter than what was read was truncated and is read from its start.
    // What was held of the old content's last line is sent first.
    enum class name_change { none, reopened, stopped };
    name_change look_at_name(bool& renamed) {
        struct stat s {};
        // Gone: rotated away, and the new file is not there yet.
        if (::stat(path_.c_str(), &s) != 0) return name_change::none;
        bool replaced = s.st_dev != st_.at.dev || s.st_ino != st_.at.ino;
        // Lines written to the old file after its last read come first.
        if (replaced && !std::exchange(renamed, true)) return name_change::none;
        if (!replaced && s.st_size >= st_.read_to()) return name_change::none;
        if (!send_rest()) return name_change::stopped;
        if (replaced) {
            detail::stage_log().info("stage {}: {} was replaced (rotated): reading the new file",
                                     io_.id(), path_);
            renamed = false;
            return open_name() ? name_change::reopened : name_change::none;
        }
        detail::stage_log().warn("stage {}: {} was truncated: reading it again from its start",
                                 io_.id(), path_);
        if (::lseek(st_.fd->get(), 0, SEEK_SET) != 0) fail("seek", path_);
        st_.restart_at(0);
        return name_change::reopened;
    }

    // Appends one read to the buffer, dropping what was sent: 0 at the end,
    // -1 when a drain came first.
    long read_more(reader& in) {
        st_.at.offset += static_cast<off_t>(st_.pos);
        st_.buf.erase(0, st_.pos);
        st_.pos = 0;
        std::size_t had = st_.buf.size();
        st_.buf.resize(had + chunk);
        long n = in.read(st_.buf.data() + had, chunk);
        st_.buf.resize(had + static_cast<std::size_t>(std::max(n, 0L)));
        return n;
    }

    // Sends every complete line held; false on a hard stop.
    bool send_lines() {
        const char* data = st_.buf.data();
        while (const void* nl = std::memchr(data + st_.pos, '\n', st_.buf.size() - st_.pos)) {
            auto end = static_cast<std::size_t>(static_cast<const char*>(nl) - data);
            if (!send_line(end, end + 1)) return false;
        }
        return true;
    }
    // Sends an unfinished last line, at the end of a file's input.
    bool send_rest() {
        return st_.pos == st_.buf.size() || send_line(st_.buf.size(), st_.buf.size());
    }
    bool send_line(std::size_t end, std::size_t next) {
        std::string line(st_.buf, st_.pos, end - st_.pos);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!(skip_empty_ && line.empty()) && !out_.send_held(line)) return false;
        st_.pos = next;
        return true;
    }

    // Records what was sent, when it changed: at most once a second unless
    // forced (at the end).
    void save(bool force) {
        if (checkpoint_.empty() || !st_.regular) return;
        auto sent = st_.sent();
        if (st_.saved && st_.saved->same_file(sent) && st_.saved->offset == sent.offset) return;
        auto now = std::chrono::steady_clock::now();
        if (!force && now - st_.saved_at < checkpoint_every) return;
        save_checkpoint(checkpoint_, sent);
        st_.saved = sent;
        st_.saved_at = now;
    }

    stage_io& io_;
    read_state& st_;
    const std::string &path_, &checkpoint_;
    bool follow_, skip_empty_;
    out_port<std::string> out_;
};

void read_lines(stage_io& io) {
    // stdin cannot start over: it always resumes.
    bool resume = io.arg<bool>("resume") || io.arg<std::string>("path") == "-";
    read_state fresh;
    line_reader(io, resume ? io.state<read_state>() : fresh).run();
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
    // Truncated by the worker's first call only: a restart appends to what
    // the run wrote so far rather than erasing it.
    bool& truncated = io.state<bool>();
    bool append = io.arg<bool>("append") || truncated;
    auto fd = open_path(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), STDOUT_FILENO);
    truncated = true;
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
                    "A source: a drain stops its reading, and every line already read is still "
                    "sent (the line in hand is read to its end). Restarted, it resumes after "
                    "the last line it sent (unless resume is false).")
              .output<std::string>("out", "the lines")
              .arg<std::string>("path", "-", "the file to read; - for stdin")
              .arg<bool>("follow", false,
                         "at the end of the file, wait for more lines until a drain, like tail "
                         "-F: a file replaced under its name (rotation) is read to its end and "
                         "then the new one from its start, a truncated file from its start, "
                         "and a file that does not exist yet is waited for")
              .arg<bool>("skip_empty", false, "drop empty lines")
              .arg<bool>("resume", true,
                         "a restart goes on after the last line sent; false: it reads the file "
                         "again from its start (stdin always resumes)")
              .arg<std::string>("checkpoint", "",
                                "a file recording the file and offset of the last line sent "
                                "(replaced atomically at most once a second and at the end): a "
                                "new run resumes there; lines sent after the last record are "
                                "sent again (at least once)"));
    r.add(stage_def("write_lines", write_lines)
              .help("Writes each value as a line to a file or stdout: strings as they are, "
                    "other types as fmt formats them.")
              .input_any("in", "the values to write")
              .arg<std::string>("path", "-", "the file to write; - for stdout")
              .arg<bool>("append", false,
                         "append to the file instead of truncating it when the run starts (a "
                         "restart of the stage always appends: it never erases what the run "
                         "wrote)")
              .arg<bool>("flush", false,
                         "write each line at once (else lines are written when no more are "
                         "waiting, and at the end)"));
}

} // namespace rill::config::stages
