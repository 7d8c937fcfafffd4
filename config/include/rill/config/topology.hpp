// The model of a topology file after loading and validation: what `rill run`
// starts, `rill graph` draws and the round-trip writer prints. Every name in
// it has been checked: channels exist and have exactly one writer and one
// reader, stages exist in the registry, port and channel types agree, args
// have their declared types, and every stage sits under exactly one
// supervisor. Marks point at the declaration in the (possibly included) file.
#pragma once

#include <rill/config/diagnostic.hpp>
#include <rill/supervisor/backoff.hpp>
#include <rill/supervisor/child_spec.hpp>
#include <rill/supervisor/options.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace rill::config {

// A size in bytes, written `64KiB`, `1MiB`, `512` in a topology file.
struct byte_size {
    std::uint64_t bytes = 0;
    friend bool operator==(const byte_size&, const byte_size&) = default;
};

// The value of one stage argument, of the type the stage declared for it
// (regex arguments are held as their pattern, checked at load).
using arg_value = std::variant<bool, std::int64_t, double, std::string, std::chrono::nanoseconds,
                               byte_size, std::vector<std::string>>;

struct runtime_decl {
    std::optional<int> processors{};          // default: the number of CPUs
    std::optional<byte_size> stack_reserve{}; // default: the runtime's (RILL_STACK_RESERVE)
    // How long SIGINT/SIGTERM waits for the pipeline to drain before stopping it hard.
    std::chrono::nanoseconds grace = std::chrono::seconds(10);
    friend bool operator==(const runtime_decl&, const runtime_decl&) = default;
};

struct channel_decl {
    std::string name;
    std::string type;          // a registered element type
    std::size_t capacity = 64; // buffered values
    mark at{};
    friend bool operator==(const channel_decl&, const channel_decl&) = default;
};

// One port of a stage and the channels bound to it: several channels on an
// input port are merged (fan-in); several on an output port each receive a
// copy of every value (fan-out).
struct port_binding {
    std::string port;
    std::vector<std::string> channels;
    mark at{};
    friend bool operator==(const port_binding&, const port_binding&) = default;
};

struct stage_decl {
    std::string id;
    std::string stage; // the registered stage it runs
    std::vector<port_binding> inputs{};
    std::vector<port_binding> outputs{};
    int workers = 1; // goroutines (each a supervised child) sharing the ports
    std::map<std::string, arg_value> args{}; // every declared arg, defaults filled in
    // Stages end normally once their input is drained, so the default is
    // transient (restart only after a failure), unlike OTP's permanent.
    rill::restart restart = rill::restart::transient;
    std::chrono::nanoseconds shutdown = std::chrono::seconds(5);
    std::string type_param{}; // the element type bound to a generic stage's T, else empty
    mark at{};
    friend bool operator==(const stage_decl&, const stage_decl&) = default;
};

struct child_ref {
    enum kind_t { stage, supervisor } kind;
    std::string id;
    friend bool operator==(const child_ref&, const child_ref&) = default;
};

struct supervisor_decl {
    std::string id;
    rill::strategy strategy = rill::strategy::one_for_one;
    // Defaults for a long-running service: a transient fault (a peer down
    // for a few seconds) is ridden out with growing delays, while a stage that
    // keeps failing still ends the run, within about ten seconds.
    int intensity = 10;
    std::chrono::nanoseconds period = std::chrono::minutes(1);
    std::optional<rill::backoff> backoff = rill::backoff{}; // empty: restart at once
    rill::restart restart = rill::restart::permanent;       // as a child of its parent
    std::vector<child_ref> children{};                      // in start order
    mark at{};
};

struct topology {
    std::string file; // the top-level file it was loaded from
    runtime_decl runtime{};
    std::vector<channel_decl> channels{};       // in declaration order
    std::vector<stage_decl> stages{};           // in declaration order
    std::vector<supervisor_decl> supervisors{}; // supervisors[0] is the root

    const channel_decl* find_channel(std::string_view name) const noexcept;
    const stage_decl* find_stage(std::string_view id) const noexcept;
    const supervisor_decl* find_supervisor(std::string_view id) const noexcept;
    // Structural equality, ignoring marks and the file name (round trips).
    bool same_as(const topology& o) const;
};

} // namespace rill::config
