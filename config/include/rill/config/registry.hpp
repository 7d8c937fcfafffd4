// The stage registry: C++ stage functions registered by name, with typed
// input and output ports and typed, validated arguments. The loader checks a
// topology against it; the runner calls the functions. Registration is one
// statement beside the function:
//
//   static void parse(rill::config::stage_io& io) { ... }
//   RILL_STAGE(rill::config::stage_def("parse_log", parse)
//                  .help("parses access-log lines")
//                  .input<std::string>("in")
//                  .output<log_record>("out")
//                  .arg<std::int64_t>("max_len", 4096, "longest line accepted").min(1)
//                  .required<std::string>("source", "where the lines come from"));
//
// A port's type is a registered element type (types.hpp) or, for generic
// stages, the type parameter T (input_any / output_any): the loader binds T
// to the type of the channels on those ports and checks they agree. A port
// marked needs_codec() takes only types with a codec (codec.hpp), also
// checked at load: the NATS bridge stages' ports.
// Static registration runs only for object files that are linked: stages in
// a static library must be registered by a function the program calls (the
// built-in stages are registered when the registry is first used).
#pragma once

#include <rill/config/topology.hpp>
#include <rill/config/types.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rill::config {

class stage_io;
using stage_fn = std::function<void(stage_io&)>;

enum class arg_type { boolean, integer, number, string, duration, size, regex, string_list };
const char* to_string(arg_type t) noexcept;

struct arg_spec {
    std::string name;
    arg_type type;
    std::optional<arg_value> default_value{}; // none: required
    std::string help{};
    std::optional<double> min{}, max{}; // integer, number, duration (seconds), size (bytes)
    std::vector<std::string> choices{}; // string: the allowed values (empty: any)
};

// The type parameter of generic stages, as a port type.
inline constexpr std::string_view type_param = "T";

struct port_spec {
    std::string name;
    std::string type;      // a registered type name, or "T"
    bool optional = false; // may be left unbound (an unbound output discards)
    std::string help{};
    bool needs_codec = false; // its element type must have a codec
};

// The port's type as help texts show it: "string", "T with a codec, optional".
std::string port_type_text(const port_spec& p);

struct stage_spec {
    std::string name;
    std::string help{};
    std::vector<port_spec> inputs{};
    std::vector<port_spec> outputs{};
    std::vector<arg_spec> args{};
    stage_fn fn{};
    // True for a stage with no inputs: a source, stopped first when draining.
    bool is_source() const noexcept { return inputs.empty(); }
    const port_spec* find_input(std::string_view n) const noexcept;
    const port_spec* find_output(std::string_view n) const noexcept;
    const arg_spec* find_arg(std::string_view n) const noexcept;
};

// Builds a stage_spec fluently; see the example above.
class stage_def {
public:
    stage_def(std::string name, stage_fn fn);
    stage_def& help(std::string text);
    template <class T> stage_def& input(std::string name, std::string help = {}) {
        return port(spec_.inputs, std::move(name), type_name<T>(), std::move(help));
    }
    template <class T> stage_def& output(std::string name, std::string help = {}) {
        return port(spec_.outputs, std::move(name), type_name<T>(), std::move(help));
    }
    stage_def& input_any(std::string name, std::string help = {});
    stage_def& output_any(std::string name, std::string help = {});
    // Makes the last port added optional.
    stage_def& optional();
    // Makes the last port added take only element types with a codec.
    stage_def& needs_codec();
    // Arguments of C++ type A: bool, std::int64_t, double, std::string,
    // std::chrono::nanoseconds, byte_size, std::vector<std::string>. The two
    // kinds have different names because one overloaded name could not tell
    // arg<std::string>("path", "-") (a default) from (name, help).
    // An argument the topology must give.
    template <class A> stage_def& required(std::string name, std::string help = {}) {
        return add_arg(std::move(name), arg_type_of<A>(), std::nullopt, std::move(help));
    }
    // An argument with a default: never required.
    template <class A> stage_def& arg(std::string name, A default_value, std::string help = {}) {
        return add_arg(std::move(name), arg_type_of<A>(), arg_value(std::move(default_value)),
                       std::move(help));
    }
    // A string argument holding a regular expression (ECMAScript), checked at
    // load; required when default_value is std::nullopt.
    stage_def& regex_arg(std::string name, std::optional<std::string> default_value,
                         std::string help = {});
    // Constraints on the last argument added.
    stage_def& min(double v);
    stage_def& max(double v);
    stage_def& choices(std::vector<std::string> values);

    stage_spec build() &&;

private:
    template <class A> static constexpr arg_type arg_type_of() {
        if constexpr (std::is_same_v<A, bool>)
            return arg_type::boolean;
        else if constexpr (std::is_same_v<A, std::int64_t>)
            return arg_type::integer;
        else if constexpr (std::is_same_v<A, double>)
            return arg_type::number;
        else if constexpr (std::is_same_v<A, std::string>)
            return arg_type::string;
        else if constexpr (std::is_same_v<A, std::chrono::nanoseconds>)
            return arg_type::duration;
        else if constexpr (std::is_same_v<A, byte_size>)
            return arg_type::size;
        else if constexpr (std::is_same_v<A, std::vector<std::string>>)
            return arg_type::string_list;
        else
            static_assert(sizeof(A) == 0, "unsupported stage argument type");
    }
    stage_def& port(std::vector<port_spec>& ports, std::string name, std::string type,
                    std::string help);
    stage_def& add_arg(std::string name, arg_type t, std::optional<arg_value> def,
                       std::string help);
    stage_spec spec_;
    std::vector<port_spec>* last_ports_ = nullptr;
};

// The process-wide registry (built-in stages included). Thread-safe.
class registry {
public:
    static registry& global();
    // Throws std::invalid_argument: duplicate name, duplicate port or arg
    // names, a default of the wrong type, an unknown port type.
    void add(stage_spec s);
    // The built spec of a fluent chain: r.add(stage_def("x", f).output<int>("out")).
    void add(stage_def& d) { add(std::move(d).build()); }
    const stage_spec* find(std::string_view name) const;
    std::vector<std::string> names() const;     // sorted
    std::vector<const stage_spec*> all() const; // sorted by name

    registry();
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

namespace detail {
struct stage_registration {
    explicit stage_registration(stage_def& d) { registry::global().add(std::move(d).build()); }
};
} // namespace detail

} // namespace rill::config

// Registers a stage_def in registry::global() at static initialisation.
#define RILL_STAGE(def)                                                                            \
    static const ::rill::config::detail::stage_registration RILL_CONFIG_CONCAT(rill_config_stage_, \
                                                                               __LINE__) {         \
        def                                                                                        \
    }
