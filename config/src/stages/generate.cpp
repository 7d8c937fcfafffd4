// generate (alias ticker): a source of numbered text lines, as fast as the
// pipeline takes them or one per interval.
#include "stages/stages.hpp"

#include <rill/csp/time.hpp>
#include <rill/select.hpp>

namespace rill::config::stages {

namespace {
std::string render(const std::string& text, std::int64_t n) {
    std::string out;
    auto num = std::to_string(n);
    std::size_t at = 0;
    for (auto hit = text.find("{n}"); hit != std::string::npos; hit = text.find("{n}", at)) {
        out.append(text, at, hit - at).append(num);
        at = hit + 3;
    }
    return out.append(text, at);
}

void generate(stage_io& io) {
    auto interval = io.arg<std::chrono::nanoseconds>("interval");
    auto count = io.arg<std::int64_t>("count");
    auto& text = io.arg<std::string>("text");
    auto out = io.out<std::string>("out");
    // The last number sent in this run: a restart goes on after it (resume)
    // or starts again from 1.
    auto& sent = io.state<std::int64_t>();
    if (!io.arg<bool>("resume")) sent = 0;
    std::optional<rill::ticker> tick;
    if (interval.count() > 0) tick.emplace(interval);
    for (std::int64_t n = sent + 1; count == 0 || n <= count; ++n) {
        if (tick && n > 1) {
            bool done = false;
            rill::select(rill::on_recv(io.ctx().done(), [&](auto) { done = true; }),
                         rill::on_recv(tick->c(), [](auto) {}));
            if (done) return;
        }
        if (!out.send(render(text, n))) return;
        sent = n;
    }
}
} // namespace

void register_generate(registry& r) {
    for (const char* name : {"generate", "ticker"})
        r.add(stage_def(name, generate)
                  .help("Sends numbered lines: text with {n} replaced by 1, 2, ... A source: a "
                        "drain stops it. Restarted, it resumes after the last number it sent "
                        "(unless resume is false), so a finite count always completes.")
                  .output<std::string>("out", "the lines")
                  .arg<std::chrono::nanoseconds>("interval", std::chrono::nanoseconds(0),
                                                 "time between lines; 0: as fast as they are taken")
                  .min(0)
                  .arg<std::int64_t>("count", 0, "how many lines; 0: until drained")
                  .min(0)
                  .arg<std::string>("text", "tick {n}", "the line; {n} is the counter")
                  .arg<bool>("resume", true,
                             "a restart goes on after the last number sent; false: it starts "
                             "again from 1"));
}

} // namespace rill::config::stages
