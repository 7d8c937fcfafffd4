// read_lines' checkpoint: which file it read (device and inode) and the
// offset just past the last line it sent, kept in a small text file so that
// the next run resumes there. The file is replaced atomically (written to
// PATH.tmp, fsynced, renamed over PATH, its directory fsynced): a crash
// leaves the old record or the new one, never a torn one.
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>

namespace rill::config::stages {

struct file_position {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t offset = 0;
    bool same_file(const file_position& o) const noexcept { return dev == o.dev && ino == o.ino; }
};

// The recorded position; empty when there is no checkpoint file yet.
// std::runtime_error when the file cannot be read or is not a checkpoint.
std::optional<file_position> load_checkpoint(const std::string& path);
// Replaces the checkpoint file with p; std::system_error on failure.
void save_checkpoint(const std::string& path, const file_position& p);

} // namespace rill::config::stages
