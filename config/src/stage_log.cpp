#include "stage_log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace rill::config::detail {

spdlog::logger& stage_log() {
    // Kept for the whole process: an abandoned stage may log after main returns.
    static auto* logger = new std::shared_ptr<spdlog::logger>([] {
        if (auto existing = spdlog::get("rill.stage")) return existing;
        try {
            return spdlog::stderr_color_mt("rill.stage");
        } catch (const spdlog::spdlog_ex&) { // registered meanwhile
            return spdlog::get("rill.stage");
        }
    }());
    return **logger;
}

} // namespace rill::config::detail
