// The loader's own YAML tree, read through yaml-cpp's event parser so that
// every key and every value keeps its position (yaml-cpp's Node API has
// neither key marks nor duplicate-key errors). While reading: duplicate keys
// are errors at the second key; aliases share the anchored subtree; merge
// keys `<<` are resolved (explicit keys win, merged keys never count as
// duplicates); scalar values, not keys, pass through `value_filter` (the
// ${VAR} substitution). The size after alias expansion and the nesting depth
// are capped, so no input can exhaust memory, time or the stack.
#pragma once

#include <rill/config/diagnostic.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rill::config::yaml {

struct node;
using node_ptr = std::shared_ptr<const node>;

struct entry {
    std::string key;
    mark key_at;
    node_ptr value;
};

struct node {
    enum kind_t { null, scalar, sequence, mapping } kind = null;
    mark at;                       // the value's position
    std::string text{};            // scalar
    std::vector<node_ptr> items{}; // sequence
    std::vector<entry> entries{};  // mapping, in file order
    std::size_t weight = 1;        // nodes in this subtree, aliases expanded
    int height = 1;                // nesting depth of this subtree

    const entry* find(std::string_view key) const noexcept;
};

// "a mapping", "a list", "a scalar", "nothing"
const char* describe(node::kind_t k) noexcept;

struct limits {
    std::size_t max_nodes = 1'000'000;
    // Below yaml-cpp's own recursion limit (about 500 levels, reported only
    // as "bad file"), so that this check, with its message, always fires first.
    int max_depth = 256;
};

// Rewrites a scalar value; an error is reported at the scalar and the text
// returned is kept.
using value_filter = std::function<std::string(std::string_view text, const mark& at,
                                               std::vector<diagnostic>& errors)>;

// Reads the one YAML document in text (a null node when empty); problems are
// appended to errors, and after a syntax error the result is null.
node_ptr parse(std::string_view text, const std::string& file, std::vector<diagnostic>& errors,
               const value_filter& filter = {}, const limits& lim = {});

} // namespace rill::config::yaml
