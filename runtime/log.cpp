#include "log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace rill::detail {

spdlog::logger& runtime_log() {
    // Kept alive for the whole process: goroutines may log after main returns.
    static auto* logger = new std::shared_ptr<spdlog::logger>([] {
        if (auto existing = spdlog::get("rill")) return existing;
        return spdlog::stderr_color_mt("rill");
    }());
    return **logger;
}

} // namespace rill::detail
