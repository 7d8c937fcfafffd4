// Helpers shared by the config loader tests: a registry of test stages (not
// the global one), in-memory files and environment, and a loader call.
#pragma once

#include <rill/config/loader.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>

struct test_record {
    std::string text;
};
// Not formattable and not copyable: what fan-out and sinks must reject.
struct test_handle {
    test_handle() = default;
    test_handle(test_handle&&) = default;
    test_handle(const test_handle&) = delete;
};

inline const rill::config::registry& test_stages() {
    using namespace rill::config;
    static const registry& r = []() -> registry& {
        static registry reg;
        register_type(describe_type<test_record>("record"));
        register_type(describe_type<test_handle>("handle"));
        auto nop = [](stage_io&) {};
        reg.add(stage_def("source", nop)
                    .help("emits lines")
                    .output<std::string>("out")
                    .arg<std::string>("path", "-", "file to read")
                    .arg<std::int64_t>("count", 0, "values to emit")
                    .min(0)
                    .arg<bool>("follow", false));
        reg.add(stage_def("parse", nop)
                    .input<std::string>("in")
                    .output<test_record>("records")
                    .output<std::string>("rejects")
                    .optional()
                    .regex_arg("pattern", std::nullopt, "what a line must match")
                    .arg<std::string>("mode", "fast", "how strict")
                    .choices({"fast", "strict"}));
        reg.add(stage_def("route", nop)
                    .input<std::string>("in")
                    .output<std::string>("left")
                    .output<std::string>("right"));
        reg.add(stage_def("taps", nop)
                    .input<std::string>("in")
                    .output<std::string>("seen")
                    .optional()
                    .output<std::string>("missed")
                    .optional());
        reg.add(stage_def("sink", nop).input_any("in"));
        reg.add(stage_def("copy", nop).input_any("in").output_any("out"));
        reg.add(stage_def("handles", nop).output<test_handle>("out"));
        reg.add(stage_def("batch", nop)
                    .input<std::string>("in")
                    .output<std::vector<std::string>>("out")
                    .arg<std::int64_t>("size", 10)
                    .min(1)
                    .arg<std::chrono::nanoseconds>("max_wait", std::chrono::seconds(1))
                    .arg<rill::config::byte_size>("limit", rill::config::byte_size{1 << 20})
                    .arg<double>("rate", 1.5)
                    .arg<std::vector<std::string>>("tags", std::vector<std::string>{"a", "$b"}));
        return reg;
    }();
    return r;
}

// In-memory files and environment for the loader.
struct fixture {
    std::map<std::string, std::string> files;
    std::map<std::string, std::string> env;
    rill::config::load_options options() const {
        rill::config::load_options o;
        o.stages = &test_stages();
        o.read_file = [this](const std::string& p) -> std::optional<std::string> {
            auto it = files.find(p);
            return it == files.end() ? std::nullopt : std::optional<std::string>(it->second);
        };
        o.getenv = [this](std::string_view n) -> std::optional<std::string> {
            auto it = env.find(std::string(n));
            return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
        };
        return o;
    }
    rill::config::load_result load(const std::string& text, const std::string& name = "t.yaml") {
        return rill::config::load_string(text, name, options());
    }
};

namespace Catch {
template <> struct StringMaker<rill::config::mark> {
    static std::string convert(const rill::config::mark& m) {
        return m.file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column);
    }
};
} // namespace Catch

// Every error, formatted, for Catch2's messages.
inline std::string dump(const rill::config::load_result& r) {
    std::string out;
    for (const auto& d : r.errors)
        out += format(d) + "\n";
    return out;
}
