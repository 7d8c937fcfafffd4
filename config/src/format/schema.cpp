#include "format/schema.hpp"

#include "format/regex_limits.hpp"
#include "format/scalars.hpp"

#include <rill/supervisor/child_spec.hpp>
#include <rill/supervisor/options.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <regex>

namespace rill::config::schema {

const field* type_def::find(std::string_view n) const noexcept {
    auto it =
        std::find_if(fields.begin(), fields.end(), [&](const field& f) { return f.name == n; });
    return it == fields.end() ? nullptr : &*it;
}

std::vector<std::string> type_def::field_names() const {
    std::vector<std::string> out;
    for (const auto& f : fields)
        out.emplace_back(f.name);
    return out;
}

namespace {

type_def scalar(kind k, std::string title, std::optional<double> min = {},
                std::optional<double> max = {}) {
    return {.k = k, .title = std::move(title), .min = min, .max = max};
}

type_def choice(std::vector<std::string> words) {
    return {.k = kind::choice,
            .title = fmt::format("one of {}", fmt::join(words, ", ")),
            .words = std::move(words)};
}

// The words of every enumerator in `all` (restart types, strategies), as the
// supervisor layer spells them.
template <class E, std::size_t N> std::vector<std::string> words_of(const std::array<E, N>& all) {
    std::vector<std::string> words;
    for (E e : all)
        words.emplace_back(to_string(e));
    return words;
}

type_def either(std::string title, std::vector<const type_def*> alternatives) {
    return {.k = kind::either, .title = std::move(title), .alternatives = std::move(alternatives)};
}

type_def container(kind k, std::string title, const type_def* item) {
    return {.k = k, .title = std::move(title), .item = item};
}

type_def object(std::string title, std::vector<field> fields, std::string help = {}) {
    return {.k = kind::object,
            .title = std::move(title),
            .fields = std::move(fields),
            .help = std::move(help)};
}

// The shutdown words, as durations.
std::optional<std::chrono::nanoseconds> duration_word(std::string_view w) {
    if (w == "infinity") return rill::shutdown_infinity;
    if (w == "brutal_kill") return std::chrono::nanoseconds(0);
    return std::nullopt;
}

} // namespace

format::format() {
    text = scalar(kind::string, "a string");
    texts = container(kind::list, "a string or a list of strings", &text);
    name = scalar(kind::string, "a name");
    names = container(kind::list, "a name or a list of names", &name);
    // Every integer has a maximum, so that none is truncated to the field's C++
    // type; these are far above any sensible value, and the capacity's bound
    // keeps a channel's buffer allocatable.
    capacity = scalar(kind::integer, "an integer from 0 to 1048576", 0, max_capacity);
    workers = scalar(kind::integer, "an integer from 1 to 4096", 1, 4096);
    intensity = scalar(kind::integer, "an integer from 0 to 1000000", 0, 1'000'000);
    processors = scalar(kind::integer, "an integer >= 1", 1, 4096);
    stack_reserve = scalar(kind::size, "a size like 256KiB", 16 * 1024);
    positive_duration = scalar(kind::duration, "a duration like 250ms", 0);
    positive_duration.exclusive_min = true;
    factor = scalar(kind::number, "a number >= 1", 1);
    jitter = scalar(kind::number, "a number from 0 to 1", 0, 1);
    restart = choice(words_of(restart_types));
    strategy = choice(words_of(strategies));
    shutdown = scalar(kind::duration, "a duration like 5s, infinity or brutal_kill", 0);
    shutdown.words = {"infinity", "brutal_kill"};

    runtime_key = {
        {"processors", &processors, false, "", "worker threads (default: the CPUs)"},
        {"stack_reserve", &stack_reserve, false, "", "address space reserved per goroutine stack"},
        {"grace", &positive_duration, false, "10s",
         "how long SIGINT/SIGTERM waits for the drain before stopping hard"}};
    const auto& rk = runtime_key;
    runtime = object("a mapping of runtime settings", {rk.processors, rk.stack_reserve, rk.grace},
                     "runtime settings (top-level file only)");
    channel_key = {{"type", &name, true, "", "the element type (a registered type name)"},
                   {"capacity", &capacity, false, "64", "buffered values"}};
    channel = object("a channel declaration", {channel_key.type, channel_key.capacity});
    channel_entry = either("a type name or a mapping {type, capacity}", {&name, &channel});
    channels = container(kind::map, "a mapping of channel name to declaration", &channel_entry);
    channels.help = "channels by name";

    channel_list = either("a channel name or a list of channel names", {&name, &names});
    port_map = container(kind::map, "a mapping of port name to channels", &channel_list);
    ports = either("a channel name, a list of channel names or a mapping of port to channels",
                   {&name, &names, &port_map});
    args = {.k = kind::args, .title = "a mapping of argument name to value"};
    stage_key = {
        {"stage", &name, true, "", "the registered stage it runs"},
        {"in", &ports, false, "",
         "input channels: a channel or a list (fan-in) when the stage has one input port, "
         "else a mapping of port to channels"},
        {"out", &ports, false, "",
         "output channels: a channel or a list (fan-out) when the stage has one output port, "
         "else a mapping of port to channels"},
        {"workers", &workers, false, "1", "goroutines sharing the ports (a pool)"},
        {"args", &args, false, "", "the stage's arguments"},
        {"restart", &restart, false, "transient", "when a finished worker is restarted"},
        {"shutdown", &shutdown, false, "5s", "how long a stopping worker is waited for"}};
    const auto& sk = stage_key;
    stage = object("a stage declaration",
                   {sk.stage, sk.in, sk.out, sk.workers, sk.args, sk.restart, sk.shutdown});
    stages = container(kind::map, "a mapping of stage id to declaration", &stage);
    stages.help = "stages by id";

    backoff_key = {{"initial", &positive_duration, false, "10ms", "the first restart's delay"},
                   {"max", &positive_duration, false, "5s", "the longest delay"},
                   {"factor", &factor, false, "2", "each consecutive restart waits this * longer"},
                   {"jitter", &jitter, false, "0.1", "random spread, a fraction of the delay"},
                   {"reset_after", &positive_duration, false, "10s",
                    "a child that ran this long starts over at initial"}};
    const auto& bk = backoff_key;
    backoff = object("a mapping of backoff settings",
                     {bk.initial, bk.max, bk.factor, bk.jitter, bk.reset_after});
    const char* id_help = "the supervisor's name (unique among supervisors and stage ids)";
    supervisor_key = {
        {"id", &name, false, "root", id_help},
        {"id", &name, true, "", id_help},
        {"strategy", &strategy, false, "one_for_one",
         "which children restart when one fails (as OTP)"},
        {"intensity", &intensity, false, "10",
         "more than this many restarts within period and the supervisor gives up"},
        {"period", &positive_duration, false, "1m", "the window intensity counts restarts in"},
        {"backoff", &backoff, false, "",
         "delay consecutive restarts of a child (default: the backoff defaults below; null: "
         "restart at once)",
         true},
        {"restart", &restart, false, "permanent",
         "when this supervisor is restarted as a child of its parent"},
        {"children", &children, true, "", "stage ids and nested supervisors, in start order"}};
    const auto& vk = supervisor_key;
    supervisor = object("a supervisor",
                        {vk.id, vk.strategy, vk.intensity, vk.period, vk.backoff, vk.children},
                        "the supervision tree (default: one one_for_one supervisor 'root' over "
                        "every stage)");
    child_supervisor =
        object("a nested supervisor", {vk.nested_id, vk.strategy, vk.intensity, vk.period,
                                       vk.backoff, vk.restart, vk.children});
    child = either("a stage id or a nested supervisor", {&name, &child_supervisor});
    children = container(kind::list, "a list of stage ids and nested supervisors", &child);

    file_key = {{"runtime", &runtime, false, "", "runtime settings"},
                {"include", &texts, false, "",
                 "files whose channels and stages join this file's (relative to this file)"},
                {"channels", &channels, false, "", "channels by name"},
                {"stages", &stages, false, "", "stages by id"},
                {"supervisor", &supervisor, false, "", "the supervision tree"}};
    const auto& fk = file_key;
    included = object("an included topology file", {fk.include, fk.channels, fk.stages});
    included.extensions = true;
    top = object("a topology file", {fk.runtime, fk.include, fk.channels, fk.stages, fk.supervisor},
                 "a rill topology: channels, stages, supervisors");
    top.extensions = true;
}

const format& topology_format() {
    static const format f;
    return f;
}

type_def arg_type_def(const arg_spec& a) {
    const format& f = topology_format();
    type_def t;
    switch (a.type) {
    case arg_type::boolean:
        t = scalar(kind::boolean, "true or false");
        break;
    case arg_type::integer:
        t = scalar(kind::integer, "an integer");
        break;
    case arg_type::number:
        t = scalar(kind::number, "a number");
        break;
    case arg_type::string:
        t = a.choices.empty() ? f.text : choice(a.choices);
        break;
    case arg_type::duration:
        t = scalar(kind::duration, "a duration like 250ms");
        break;
    case arg_type::size:
        t = scalar(kind::size, "a size like 64KiB");
        break;
    case arg_type::regex:
        t = scalar(kind::regex, "a regular expression");
        break;
    case arg_type::string_list:
        t = f.texts;
        break;
    }
    t.min = a.min;
    t.max = a.max;
    t.help = a.help;
    return t;
}

namespace {

using errors_t = std::vector<diagnostic>;

std::string bound_text(const type_def& t, double v) {
    if (t.k == kind::duration)
        return scalars::format_duration(std::chrono::nanoseconds(std::llround(v * 1e9)));
    if (t.k == kind::size) return scalars::format_size({static_cast<std::uint64_t>(v)});
    return scalars::format_number(v);
}

// Whether v is within t's bounds; else an error at n.
bool in_bounds(const yaml::node& n, const type_def& t, double v, errors_t& errors) {
    if (t.min && (t.exclusive_min ? v <= *t.min : v < *t.min)) {
        errors.push_back(
            {n.at, fmt::format("'{}' is too small: must be {} {}", n.text,
                               t.exclusive_min ? "more than" : "at least", bound_text(t, *t.min))});
        return false;
    }
    if (t.max && v > *t.max) {
        errors.push_back({n.at, fmt::format("'{}' is too large: must be at most {}", n.text,
                                            bound_text(t, *t.max))});
        return false;
    }
    return true;
}

template <class T> std::optional<arg_value> checked(const yaml::node& n, const type_def& t,
                                                    const scalars::parsed<T>& p, double magnitude,
                                                    errors_t& errors) {
    if (!p) {
        errors.push_back({n.at, p.error});
        return std::nullopt;
    }
    if (!in_bounds(n, t, magnitude, errors)) return std::nullopt;
    return arg_value(*p.value);
}

std::optional<arg_value> read_scalar(const yaml::node& n, const type_def& t, errors_t& errors) {
    const std::string& s = n.text;
    switch (t.k) {
    case kind::integer: {
        auto p = scalars::integer(s);
        return checked(n, t, p, p ? double(*p.value) : 0, errors);
    }
    case kind::number: {
        auto p = scalars::number(s);
        return checked(n, t, p, p ? *p.value : 0, errors);
    }
    case kind::boolean:
        return checked(n, t, scalars::boolean(s), 0, errors);
    case kind::duration: {
        if (std::find(t.words.begin(), t.words.end(), s) != t.words.end())
            return arg_value(*duration_word(s));
        auto p = scalars::duration(s);
        return checked(n, t, p, p ? std::chrono::duration<double>(*p.value).count() : 0, errors);
    }
    case kind::size: {
        auto p = scalars::size(s);
        return checked(n, t, p, p ? double(p.value->bytes) : 0, errors);
    }
    case kind::choice:
        if (std::find(t.words.begin(), t.words.end(), s) != t.words.end()) return arg_value(s);
        errors.push_back(
            {n.at, fmt::format("expected {}, got '{}'", t.title, s), closest(s, t.words)});
        return std::nullopt;
    case kind::regex:
        if (auto why = regex_refusal(s)) {
            errors.push_back({n.at, fmt::format("invalid regular expression '{}': {}", s, *why)});
            return std::nullopt;
        }
        try {
            std::regex re(s, std::regex::ECMAScript);
            return arg_value(s);
        } catch (const std::regex_error& e) {
            errors.push_back(
                {n.at, fmt::format("invalid regular expression '{}': {}", s, e.what())});
            return std::nullopt;
        }
    default:
        return arg_value(s);
    }
}

} // namespace

std::optional<arg_value> read(const yaml::node& n, const type_def& t, errors_t& errors) {
    auto wrong_shape = [&] {
        errors.push_back(
            {n.at, fmt::format("expected {}, got {}", t.title, yaml::describe(n.kind))});
        return std::nullopt;
    };
    if (t.k == kind::list) {
        std::vector<std::string> out;
        if (n.kind == yaml::node::scalar) return arg_value(std::vector<std::string>{n.text});
        if (n.kind != yaml::node::sequence) return wrong_shape();
        bool ok = true;
        for (const auto& item : n.items) {
            if (item->kind != yaml::node::scalar) {
                errors.push_back(
                    {item->at, fmt::format("expected {} in the list, got {}", t.item->title,
                                           yaml::describe(item->kind))});
                ok = false;
                continue;
            }
            out.push_back(item->text);
        }
        return ok ? std::optional<arg_value>(std::move(out)) : std::nullopt;
    }
    if (n.kind != yaml::node::scalar) return wrong_shape();
    return read_scalar(n, t, errors);
}

arg_value default_of(const field& f) {
    yaml::node n;
    n.kind = yaml::node::scalar;
    n.text = std::string(f.default_value);
    errors_t ignored;
    return *read(n, *f.type, ignored);
}

bool check_object(const yaml::node& n, const type_def& t, std::string_view what, errors_t& errors) {
    if (n.kind != yaml::node::mapping) {
        errors.push_back(
            {n.at, fmt::format("{} must be {}, got {}", what, t.title, yaml::describe(n.kind))});
        return false;
    }
    for (const auto& e : n.entries)
        if (!t.find(e.key) && !(t.extensions && e.key.starts_with("x-")))
            errors.push_back({e.key_at, fmt::format("unknown key '{}' in {}", e.key, what),
                              closest(e.key, t.field_names())});
    for (const auto& f : t.fields)
        if (f.required && !n.find(f.name))
            errors.push_back({n.at, fmt::format("{} is missing required key '{}'", what, f.name)});
    return true;
}

} // namespace rill::config::schema
