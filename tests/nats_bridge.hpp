// Helpers for the NATS bridge tests (rill/nats/bridge.hpp): options for a
// test's nats_server, a publisher and a subscriber running in goroutines,
// publishing a list of values, and the bridge's log ("rill.nats") kept in
// memory, where a test waits for what the bridge reports (also on stderr when
// RILL_SUP_LOG is set).
// Include it in one file per test program: it registers that logger.
#pragma once

#include "nats_server.hpp"
#include "test_util.hpp"

#include <rill/csp/context.hpp>
#include <rill/nats/bridge.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>

#include <catch2/catch.hpp>
#include <spdlog/sinks/sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

namespace rill_test {

namespace nats = rill::config::nats;

// Log messages, one a line, as written (no pattern: the text is what counts).
class memory_log final : public spdlog::sinks::sink {
public:
    void log(const spdlog::details::log_msg& m) override {
        {
            std::lock_guard lk(mu_);
            text_.append(m.payload.data(), m.payload.size());
            text_ += '\n';
        }
        cv_.notify_all();
    }
    void flush() override {}
    void set_pattern(const std::string&) override {}
    void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

    std::string text() const {
        std::lock_guard lk(mu_);
        return text_;
    }
    // Where the log ends now: a test looks only at what comes after.
    std::size_t mark() const {
        std::lock_guard lk(mu_);
        return text_.size();
    }
    // Waits until a line after `from` holds every one of parts, and returns
    // it; empty after 30 s without one (the limit only turns a hang into a
    // failure). Blocks the thread: call it outside goroutines or inside
    // rill::blocking.
    std::string wait_for_line(std::size_t from, const std::vector<std::string>& parts) const {
        std::unique_lock lk(mu_);
        std::string found;
        cv_.wait_for(lk, std::chrono::seconds(30), [&] {
            for (std::size_t at = from; at < text_.size();) {
                auto end = text_.find('\n', at);
                auto line = text_.substr(at, end - at);
                if (std::all_of(parts.begin(), parts.end(), [&](const std::string& p) {
                        return line.find(p) != std::string::npos;
                    })) {
                    found = line;
                    return true;
                }
                at = end + 1;
            }
            return false;
        });
        return found;
    }

private:
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::string text_;
};

// The bridge's log, registered before the bridge first logs (it uses a
// logger registered under its name as it is).
inline memory_log& nats_log() {
    static memory_log& log = [&]() -> memory_log& {
        auto memory = std::make_shared<memory_log>();
        auto stderr_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
        stderr_sink->set_level(std::getenv("RILL_SUP_LOG") ? spdlog::level::info
                                                           : spdlog::level::off);
        auto logger = std::make_shared<spdlog::logger>(
            "rill.nats", spdlog::sinks_init_list{memory, stderr_sink});
        logger->set_level(spdlog::level::info);
        spdlog::register_logger(logger);
        return *memory;
    }();
    return log;
}
// Registered at start-up, before any test runs.
inline memory_log& nats_log_at_start = nats_log();

// Runs f as the main goroutine; a hang fails the test after two minutes.
template <class F> void in_runtime(F f) {
    watchdog wd("nats test", std::chrono::seconds(120));
    rill::run(std::move(f));
}

inline nats::connection_options connect_to(const nats_server& s, std::string name = "test") {
    nats::connection_options o;
    o.servers = s.url();
    o.name = std::move(name);
    return o;
}

// Options of either bridge for subject on s, delivering as d.
template <class Options>
Options bridge_options(const nats_server& s, std::string subject, nats::delivery d) {
    Options o;
    o.connection = connect_to(s);
    o.subject = std::move(subject);
    o.mode = d;
    return o;
}

inline nats::publish_options publishing(const nats_server& s, std::string subject,
                                        nats::delivery d) {
    return bridge_options<nats::publish_options>(s, std::move(subject), d);
}

inline nats::subscribe_options subscribing(const nats_server& s, std::string subject,
                                           nats::delivery d) {
    return bridge_options<nats::subscribe_options>(s, std::move(subject), d);
}

// nats::publish in a goroutine, taking values from in until it is closed.
template <class T> class publisher {
public:
    // Unbuffered by default: a value sent is one publish has taken.
    rill::chan<T> in;

    explicit publisher(nats::publish_options o, std::size_t capacity = 0) : in(capacity) {
        rill::go([o, in = in, ended = ended_]() mutable {
            std::string error;
            try {
                nats::publish<T>(rill::background(), in.rx(), o);
            } catch (const std::exception& e) {
                error = e.what();
            }
            ended.send(error);
        });
    }
    // Closes in and waits for publish to finish (all flushed or stored).
    void finish() {
        in.close();
        REQUIRE(*ended_.recv() == "");
    }

private:
    rill::chan<std::string> ended_{1};
};

// Publishes values through nats::publish and returns once it has finished
// (everything flushed, or stored by JetStream).
template <class T> void publish_all(const nats::publish_options& po, std::vector<T> values) {
    publisher<T> pub(po, 64);
    for (auto& v : values)
        pub.in.send(std::move(v));
    pub.finish();
}

// nats::subscribe in a goroutine, its values on out; the constructor returns
// once it is subscribed.
template <class T> class subscriber {
public:
    rill::chan<T> out;

    subscriber(nats::subscribe_options o, std::size_t capacity) : out(capacity) {
        std::tie(ctx_, cancel_) = rill::with_cancel(rill::background());
        rill::chan<std::monostate> ready(1);
        o.ready = [ready]() mutable { ready.send({}); };
        rill::go([o, out = out, ctx = ctx_, ended = ended_]() mutable {
            outcome r;
            try {
                r.stats = nats::subscribe<T>(ctx, out.tx(), o);
            } catch (const std::exception& e) {
                r.error = e.what();
            }
            ended.send(std::move(r));
        });
        rill::select(rill::on_recv(ready, [](auto) {}),
                     rill::on_recv(ended_, [](std::optional<outcome> r) {
                         FAIL("subscribe ended at start: " << r->error);
                     }));
    }
    // Cancels the subscription and returns its counts.
    nats::subscribe_stats stop() {
        cancel_();
        auto r = *ended_.recv();
        REQUIRE(r.error == "");
        return r.stats;
    }
    // The next value, failing the test after 30 s without one.
    T next() {
        auto v = next_within(std::chrono::seconds(30));
        if (!v) FAIL("no value from the subscriber in 30 s");
        return std::move(*v);
    }
    // The next value, if one comes within limit.
    std::optional<T> next_within(std::chrono::nanoseconds limit) {
        std::optional<T> v;
        rill::select(rill::on_recv(out, [&](std::optional<T> x) { v = std::move(x); }),
                     rill::on_timeout(limit, [] {}));
        return v;
    }

private:
    struct outcome {
        nats::subscribe_stats stats;
        std::string error;
    };
    rill::context ctx_;
    rill::cancel_func cancel_;
    rill::chan<outcome> ended_{1};
};

inline std::vector<std::string> numbered(int n) {
    std::vector<std::string> v;
    for (int i = 1; i <= n; ++i)
        v.push_back(std::to_string(i));
    return v;
}

} // namespace rill_test
