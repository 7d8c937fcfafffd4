// A loaded topology as a picture (`rill graph`). Part of the format, not of
// running; runner.hpp includes this header, where to_dot was declared
// before, so code that includes only runner.hpp still finds it.
#pragma once

#include <rill/config/topology.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace rill::config {

// Each shows stages (with the stage they run and their workers), channels as
// edges from every writing stage to every reading one, labelled with name,
// type and capacity, and supervisors as nested groups with their strategy
// and intensity. Declaration order throughout: the same topology always
// gives the same text.
enum class graph_format {
    dot,     // Graphviz: `rill graph f.yaml | dot -Tsvg > f.svg`
    mermaid, // a Mermaid flowchart, which GitHub renders in Markdown
    ascii,   // plain text for a terminal: the supervision tree, then the channels
};

std::string to_dot(const topology& t);
std::string to_mermaid(const topology& t);
std::string to_ascii(const topology& t);
std::string to_graph(const topology& t, graph_format f);
// "dot", "mermaid" or "ascii"; nullopt for anything else.
std::optional<graph_format> parse_graph_format(std::string_view name);

} // namespace rill::config
