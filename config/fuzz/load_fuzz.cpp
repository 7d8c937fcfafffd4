// libFuzzer target for the loader: any bytes as a topology file, with an
// in-memory include (the same bytes under another name, and a fixed file)
// and a fixed environment. The loader must neither crash, hang nor leak.
#include <rill/config/loader.hpp>

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = [] {
        spdlog::set_level(spdlog::level::off);
        return true;
    }();
    (void)quiet;
    std::string text(reinterpret_cast<const char*>(data), size);
    rill::config::load_options o;
    o.read_file = [&text](const std::string& path) -> std::optional<std::string> {
        if (path == "self.yaml") return text;
        if (path == "common.yaml") return "channels: {shared: string}\n";
        return std::nullopt;
    };
    o.getenv = [](std::string_view name) -> std::optional<std::string> {
        if (name == "HOME") return "/home/fuzz";
        return std::nullopt;
    };
    auto r = rill::config::load_string(text, "fuzz.yaml", o);
    if (r.topo) (void)rill::config::to_yaml(*r.topo);
    return 0;
}
