#include "log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cerrno>

namespace rill::detail {

spdlog::logger& runtime_log() {
    // Callers write runtime_log().error("...: {}", std::strerror(errno)), and
    // this call comes first: making the logger (isatty, for one) must not
    // change the errno they report.
    int saved_errno = errno;
    // Kept alive for the whole process: goroutines may log after main returns.
    static auto* logger = new std::shared_ptr<spdlog::logger>([] {
        if (auto existing = spdlog::get("rill")) return existing;
        return spdlog::stderr_color_mt("rill");
    }());
    errno = saved_errno;
    return **logger;
}

} // namespace rill::detail
