// The one typed description of the topology format: which objects exist,
// their fields, each field's type, whether it is required, its default and
// its help text. The loader checks files against it (unknown keys, missing
// fields, value types and bounds, defaults) and json_schema() is generated
// from it, so the two cannot drift. Stage arguments use the same types,
// made from each stage's arg_specs.
#pragma once

#include "format/yaml_tree.hpp"

#include <rill/config/registry.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rill::config::schema {

enum class kind {
    string,
    integer,
    number,
    boolean,
    duration,
    size,
    regex,  // a string holding an ECMAScript regular expression
    choice, // one of `words`
    object, // `fields`, nothing else
    map,    // any names -> `item`
    list,   // of `item`; a single item counts as a list of one
    either, // the first alternative whose shape (scalar / list / mapping) fits
    args,   // a stage's arguments: an object made from its arg_specs
};

struct type_def;

struct field {
    std::string_view name;
    const type_def* type;
    bool required = false;
    std::string_view default_value{}; // read like a value written in a file
    std::string_view help{};
    // `key: null` means something of its own (backoff: restart at once),
    // rather than "the default" as for every other field.
    bool nullable = false;
};

struct type_def {
    kind k;
    std::string title{}; // how errors and the JSON Schema name it: "a duration like 250ms"
    std::optional<double> min{}, max{};
    bool exclusive_min = false;
    std::vector<std::string> words{}; // choice: the values; duration: words also accepted
    std::vector<field> fields{};      // object
    const type_def* item = nullptr;   // map, list
    std::vector<const type_def*> alternatives{}; // either
    std::string help{};
    // object: keys starting with "x-" are free (anchors for merge keys live there).
    bool extensions = false;

    const field* find(std::string_view name) const noexcept;
    std::vector<std::string> field_names() const;
};

// The format's types; the roots are `top` (the file given to the loader) and
// `included` (a file named by include:).
// The largest channel capacity a file may ask for, in values.
inline constexpr std::size_t max_capacity = 1 << 20;

// The keys of each object, by handle: the loader reads a field through its
// handle (a misspelt one does not compile), and each object's table is made
// of the same fields, so the two cannot disagree.
struct runtime_keys {
    field processors, stack_reserve, grace;
};
struct channel_keys {
    field type, capacity;
};
struct stage_keys {
    field stage, in, out, workers, args, restart, shutdown;
};
struct backoff_keys {
    field initial, max, factor, jitter, reset_after;
};
struct supervisor_keys {
    field id, nested_id, strategy, intensity, period, backoff, restart, children;
};
struct file_keys {
    field runtime, include, channels, stages, supervisor;
};

struct format {
    type_def text, texts, name, names;
    type_def capacity, workers, intensity, processors, stack_reserve, positive_duration, factor,
        jitter;
    type_def restart, strategy, shutdown;
    type_def runtime, channel, channel_entry, channels;
    type_def channel_list, port_map, ports, args, stage, stages;
    type_def backoff, supervisor, child_supervisor, child, children;
    type_def top, included;
    runtime_keys runtime_key;
    channel_keys channel_key;
    stage_keys stage_key;
    backoff_keys backoff_key;
    supervisor_keys supervisor_key;
    file_keys file_key;
    format();
    format(const format&) = delete;
};
const format& topology_format();

// The type of one stage argument.
type_def arg_type_def(const arg_spec& a);

// A scalar (or, for lists, a list of scalars) read as type t, bounds and
// choices checked; none, with an error at the value, when it is not one.
std::optional<arg_value> read(const yaml::node& n, const type_def& t,
                              std::vector<diagnostic>& errors);
// The field's default, read as its type (the schema's defaults are valid).
arg_value default_of(const field& f);

// Checks that n is a mapping whose keys are fields of t (did you mean) and
// that t's required fields are present; false when n is not a mapping.
bool check_object(const yaml::node& n, const type_def& t, std::string_view what,
                  std::vector<diagnostic>& errors);

} // namespace rill::config::schema
