#include "stage_log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace rill::config::detail {

spdlog::logger& process_logger(const char* name) {
    auto* logger = new std::shared_ptr<spdlog::logger>([name] {
        if (auto existing = spdlog::get(name)) return existing;
        try {
            return spdlog::stderr_color_mt(name);
        } catch (const spdlog::spdlog_ex&) { // registered meanwhile
            return spdlog::get(name);
        }
    }());
    return **logger;
}

spdlog::logger& stage_log() {
    static spdlog::logger& logger = process_logger("rill.stage");
    return logger;
}

} // namespace rill::config::detail
