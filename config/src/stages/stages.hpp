// The built-in stages, one family per file, each registered by its
// register_* function (called from builtin.cpp), and what they share.
#pragma once

#include <rill/config/registry.hpp>
#include <rill/config/stage_io.hpp>

#include <chrono>
#include <cstring>
#include <string>

namespace rill::config::stages {

void register_lines(registry& r);      // read_lines, write_lines
void register_tcp(registry& r);        // tcp_source, tcp_sink
void register_generate(registry& r);   // generate, ticker
void register_grep(registry& r);       // grep
void register_split(registry& r);      // split
void register_batch(registry& r);      // batch
void register_throttle(registry& r);   // throttle
void register_count(registry& r);      // count
void register_fail_every(registry& r); // fail_every

// Waits for d; false when ctx was cancelled first.
bool pause(const context& ctx, std::chrono::nanoseconds d);

// Splits text into lines, keeping an unfinished last line for the next
// chunk; emit(std::string&&) returns false to stop.
class line_splitter {
public:
    template <class Emit> bool feed(const char* data, std::size_t n, Emit&& emit) {
        const char* const end = data + n;
        // memchr: a byte-by-byte loop cost more than all the rest of read_lines.
        while (const void* found = std::memchr(data, '\n', static_cast<std::size_t>(end - data))) {
            const char* nl = static_cast<const char*>(found);
            std::string line;
            if (partial_.empty()) {
                line.assign(data, nl);
            } else {
                line = std::move(partial_);
                partial_.clear();
                line.append(data, nl);
            }
            if (!line.empty() && line.back() == '\r') line.pop_back();
            data = nl + 1;
            if (!emit(std::move(line))) return false;
        }
        partial_.append(data, end);
        return true;
    }
    std::size_t partial_size() const noexcept { return partial_.size(); }
    // The unfinished last line, if any (at the end of the input).
    std::string take_partial() { return std::exchange(partial_, {}); }

private:
    std::string partial_;
};

// Writes a value as a line: strings as they are, other types through fmt.
void append_line(std::string& out, box& v);

} // namespace rill::config::stages
