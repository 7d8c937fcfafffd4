// Loading a topology file: YAML (anchors, aliases, merge keys `<<`,
// `include:` of other files, `${VAR}` / `${VAR:-default}` from the
// environment) read through yaml-cpp's event parser into a tree that keeps
// every key's and value's position, then checked against the format's schema
// and the stage registry. Nothing partial comes back: either a topology in
// which every name and type has been checked, or every problem found, each
// with file:line:column.
#pragma once

#include <rill/config/diagnostic.hpp>
#include <rill/config/registry.hpp>
#include <rill/config/topology.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rill::config {

struct load_options {
    // Reads an included (or the top-level) file; empty when it cannot be read.
    // Default: the file system.
    std::function<std::optional<std::string>(const std::string& path)> read_file{};
    // Looks up ${VAR}; empty when unset. Default: std::getenv.
    std::function<std::optional<std::string>(std::string_view name)> getenv{};
    const registry* stages = nullptr; // default: registry::global()
    int max_include_depth = 16;
};

struct load_result {
    std::optional<topology> topo;   // set exactly when errors is empty
    std::vector<diagnostic> errors; // in file order
};

load_result load_file(const std::string& path, const load_options& opts = {});
// `name` stands for the file in marks; includes resolve against name's directory.
load_result load_string(std::string_view yaml, const std::string& name,
                        const load_options& opts = {});
// Throwing forms: topology_error with every diagnostic.
topology load_file_or_throw(const std::string& path, const load_options& opts = {});

// The topology written back as YAML (explicit, defaults included, nothing
// included or substituted): loading it again gives the same topology.
std::string to_yaml(const topology& t);

// The JSON Schema (draft 2020-12) of the format, generated from the same
// schema tables the loader checks with, with the registered stages' names,
// ports and arguments, so that editors complete and check topology files.
std::string json_schema(const registry& r = registry::global());

} // namespace rill::config
