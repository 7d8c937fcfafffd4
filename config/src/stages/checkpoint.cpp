#include "stages/checkpoint.hpp"

#include <rill/runtime.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

namespace rill::config::stages {

namespace {
constexpr const char* magic = "rill read_lines checkpoint 1";

[[noreturn]] void fail(const std::string& what, const std::string& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path);
}

// Writes all of text to a new file at path and fsyncs it.
void write_synced(const std::string& path, const std::string& text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("open", path);
    std::size_t done = 0;
    while (done < text.size()) {
        auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int saved = errno;
            ::close(fd);
            errno = saved;
            fail("write", path);
        }
        done += static_cast<std::size_t>(n);
    }
    bool synced = ::fsync(fd) == 0;
    int saved = errno;
    ::close(fd);
    errno = saved;
    if (!synced) fail("fsync", path);
}

// Makes a rename in dir durable.
void sync_dir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail("open", dir);
    bool synced = ::fsync(fd) == 0;
    int saved = errno;
    ::close(fd);
    errno = saved;
    if (!synced) fail("fsync", dir);
}
} // namespace

std::optional<file_position> load_checkpoint(const std::string& path) {
    return rill::blocking([&]() -> std::optional<file_position> {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec) && !ec) return std::nullopt;
        std::ifstream f(path);
        if (!f) fail("open", path);
        std::string first;
        std::getline(f, first);
        file_position p;
        unsigned long long dev = 0, ino = 0;
        long long offset = -1;
        if (first != magic || !(f >> dev >> ino >> offset) || offset < 0)
            throw std::runtime_error("read_lines: " + path + " is not a read_lines checkpoint");
        p.dev = static_cast<dev_t>(dev);
        p.ino = static_cast<ino_t>(ino);
        p.offset = static_cast<off_t>(offset);
        return p;
    });
}

void save_checkpoint(const std::string& path, const file_position& p) {
    rill::blocking([&] {
        auto tmp = path + ".tmp";
        write_synced(tmp,
                     fmt::format("{}\n{} {} {}\n", magic, static_cast<unsigned long long>(p.dev),
                                 static_cast<unsigned long long>(p.ino),
                                 static_cast<long long>(p.offset)));
        if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", tmp);
        auto dir = std::filesystem::path(path).parent_path();
        sync_dir(dir.empty() ? "." : dir.string());
    });
}

} // namespace rill::config::stages
