#include "run/stage_log.hpp"

#include <rill/sync.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <vector>

namespace rill::config::detail {

spdlog::logger& process_logger(const char* name) {
    // Never freed (see stage_log.hpp); held from a global, so not a leak.
    static auto* kept = new std::vector<std::shared_ptr<spdlog::logger>>;
    static rill::mutex mu; // stages are goroutines (see rill/sync.hpp)
    auto logger = spdlog::get(name);
    if (!logger) {
        try {
            logger = spdlog::stderr_color_mt(name);
        } catch (const spdlog::spdlog_ex&) { // registered meanwhile
            logger = spdlog::get(name);
        }
    }
    std::lock_guard lk(mu);
    kept->push_back(logger);
    return *logger;
}

spdlog::logger& stage_log() {
    static spdlog::logger& logger = process_logger("rill.stage");
    return logger;
}

} // namespace rill::config::detail
