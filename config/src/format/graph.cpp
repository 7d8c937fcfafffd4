// Graphviz dot of a topology: stages as boxes, channels as labelled edges
// from the writing stage to the reading stage (one edge per channel, so fan-in
// and fan-out show as several), supervisors as nested clusters. Everything is
// emitted in declaration order, so the same topology always gives the same text.
#include <rill/config/graph.hpp>

#include "format/scalars.hpp"
#include "format/topology_index.hpp"

#include <fmt/format.h>

#include <map>

namespace rill::config {

namespace {
// The text of a dot string literal.
std::string escaped(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

std::string quoted(const std::string& s) { return "\"" + escaped(s) + "\""; }

// Two lines: the id, then the stage it runs (and its workers).
std::string stage_node(const stage_decl& s) {
    auto second = s.workers > 1 ? fmt::format("{} x{}", s.stage, s.workers) : s.stage;
    return fmt::format("{} [label=\"{}\\n{}\"];\n", quoted("stage:" + s.id), escaped(s.id),
                       escaped(second));
}

void write_supervisor(std::string& out, const detail::topology_index& t, const supervisor_decl& d,
                      int depth) {
    std::string pad(static_cast<std::size_t>(depth + 1) * 2, ' ');
    out += fmt::format("{}subgraph {} {{\n", pad, quoted("cluster_" + d.id));
    out += fmt::format("{}  label={};\n", pad,
                       quoted(fmt::format("{} ({}, {} in {})", d.id, rill::to_string(d.strategy),
                                          d.intensity, scalars::format_duration(d.period))));
    out += pad + "  style=rounded;\n";
    for (auto& c : d.children) {
        if (c.kind == child_ref::supervisor) {
            if (auto* nested = t.supervisor(c.id)) write_supervisor(out, t, *nested, depth + 1);
        } else if (auto* s = t.stage(c.id)) {
            out += pad + "  " + stage_node(*s);
        }
    }
    out += pad + "}\n";
}
} // namespace

std::string to_dot(const topology& t) {
    std::string out = "digraph " + quoted(t.file.empty() ? "topology" : t.file) + " {\n";
    out += "  rankdir=LR;\n  node [shape=box];\n";
    if (t.supervisors.empty()) {
        for (auto& s : t.stages)
            out += "  " + stage_node(s);
    } else {
        write_supervisor(out, detail::topology_index(t), t.supervisors.front(), 0);
    }
    // Who writes and who reads each channel, by port.
    std::map<std::string, std::vector<std::string>> writers, readers;
    for (auto& s : t.stages) {
        for (auto& b : s.outputs)
            for (auto& c : b.channels)
                writers[c].push_back("stage:" + s.id);
        for (auto& b : s.inputs)
            for (auto& c : b.channels)
                readers[c].push_back("stage:" + s.id);
    }
    for (auto& c : t.channels) {
        auto label = quoted(fmt::format("{}: {} [{}]", c.name, c.type, c.capacity));
        for (auto& from : writers[c.name])
            for (auto& to : readers[c.name])
                out += fmt::format("  {} -> {} [label={}];\n", quoted(from), quoted(to), label);
    }
    return out + "}\n";
}

} // namespace rill::config
