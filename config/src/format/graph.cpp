// Pictures of a topology (`rill graph`): stages as boxes, channels as
// labelled edges from the writing stage to the reading stage (one edge per
// channel, so fan-in and fan-out show as several), supervisors as nested
// groups. Three notations share one walk over the supervision tree and one
// list of edges; everything is emitted in declaration order, so the same
// topology always gives the same text.
#include <rill/config/graph.hpp>

#include "format/scalars.hpp"
#include "format/topology_index.hpp"

#include <fmt/format.h>

#include <map>
#include <stdexcept>
#include <unordered_map>

namespace rill::config {

namespace {

// What a notation writes as the walk meets each supervisor and stage, at a
// nesting depth (0: outermost).
struct tree_writer {
    virtual ~tree_writer() = default;
    virtual void enter(const supervisor_decl& d, int depth) = 0;
    virtual void stage(const stage_decl& s, int depth) = 0;
    virtual void leave(const supervisor_decl& d, int depth) = 0;
};

void walk_supervisor(const detail::topology_index& t, const supervisor_decl& d, int depth,
                     tree_writer& w) {
    w.enter(d, depth);
    for (auto& c : d.children) {
        if (c.kind == child_ref::supervisor) {
            if (auto* nested = t.supervisor(c.id)) walk_supervisor(t, *nested, depth + 1, w);
        } else if (auto* s = t.stage(c.id)) {
            w.stage(*s, depth + 1);
        }
    }
    w.leave(d, depth);
}

// The root supervisor's tree, or, in a topology without one, its stages.
void walk(const topology& t, tree_writer& w) {
    if (t.supervisors.empty()) {
        for (auto& s : t.stages)
            w.stage(s, 0);
        return;
    }
    walk_supervisor(detail::topology_index(t), t.supervisors.front(), 0, w);
}

struct edge {
    const stage_decl& from;
    const stage_decl& to;
    const channel_decl& channel;
};

// Every writer-to-reader pair of every channel, in channel declaration order.
std::vector<edge> edges(const topology& t) {
    std::unordered_map<std::string_view, std::vector<const stage_decl*>> writers, readers;
    for (auto& s : t.stages) {
        for (auto& b : s.outputs)
            for (auto& c : b.channels)
                writers[c].push_back(&s);
        for (auto& b : s.inputs)
            for (auto& c : b.channels)
                readers[c].push_back(&s);
    }
    std::vector<edge> out;
    for (auto& c : t.channels)
        for (auto* from : writers[c.name])
            for (auto* to : readers[c.name])
                out.push_back({*from, *to, c});
    return out;
}

std::string supervisor_label(const supervisor_decl& d) {
    return fmt::format("{} ({}, {} in {})", d.id, rill::to_string(d.strategy), d.intensity,
                       scalars::format_duration(d.period));
}

// The stage it runs, and its workers.
std::string stage_kind(const stage_decl& s) {
    return s.workers > 1 ? fmt::format("{} x{}", s.stage, s.workers) : s.stage;
}

std::string channel_label(const channel_decl& c) {
    return fmt::format("{}: {} [{}]", c.name, c.type, c.capacity);
}

std::string pad(int depth) { return std::string(static_cast<std::size_t>(depth + 1) * 2, ' '); }

// ---- Graphviz dot ----

// The text of a dot string literal.
std::string dot_escaped(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

std::string dot_quoted(const std::string& s) { return "\"" + dot_escaped(s) + "\""; }

std::string dot_node(const stage_decl& s) { return dot_quoted("stage:" + s.id); }

struct dot_writer : tree_writer {
    std::string& out;
    explicit dot_writer(std::string& o) : out(o) {}
    void enter(const supervisor_decl& d, int depth) override {
        out += fmt::format("{}subgraph {} {{\n", pad(depth), dot_quoted("cluster_" + d.id));
        out += fmt::format("{}  label={};\n", pad(depth), dot_quoted(supervisor_label(d)));
        out += pad(depth) + "  style=rounded;\n";
    }
    // Two lines: the id, then the stage it runs.
    void stage(const stage_decl& s, int depth) override {
        out += fmt::format("{}{} [label=\"{}\\n{}\"];\n", pad(depth), dot_node(s),
                           dot_escaped(s.id), dot_escaped(stage_kind(s)));
    }
    void leave(const supervisor_decl&, int depth) override { out += pad(depth) + "}\n"; }
};

// ---- Mermaid ----

// Mermaid takes ids of letters, digits and underscores only, and labels in
// double quotes, where a quote is the entity #quot; and <br> breaks a line:
// the text of a label, with what Mermaid would read as markup escaped.
std::string mermaid_text(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"')
            out += "#quot;";
        else if (c == '<')
            out += "#lt;";
        else if (c == '>')
            out += "#gt;";
        else if (c == '#')
            out += "#35;";
        else
            out += c;
    }
    return out;
}

std::string mermaid_label(const std::string& s) { return "\"" + mermaid_text(s) + "\""; }

struct mermaid_writer : tree_writer {
    std::string& out;
    // Stages and supervisors by declaration order: s0, s1, ... and g0, g1, ...
    std::unordered_map<const stage_decl*, std::size_t> stage_ids;
    std::unordered_map<const supervisor_decl*, std::size_t> group_ids;
    mermaid_writer(std::string& o, const topology& t) : out(o) {
        for (auto& s : t.stages)
            stage_ids.emplace(&s, stage_ids.size());
        for (auto& d : t.supervisors)
            group_ids.emplace(&d, group_ids.size());
    }
    std::string id(const stage_decl& s) const { return fmt::format("s{}", stage_ids.at(&s)); }
    void enter(const supervisor_decl& d, int depth) override {
        out += fmt::format("{}subgraph g{}[{}]\n", pad(depth), group_ids.at(&d),
                           mermaid_label(supervisor_label(d)));
    }
    void stage(const stage_decl& s, int depth) override {
        out += fmt::format("{}{}[\"{}<br>{}\"]\n", pad(depth), id(s), mermaid_text(s.id),
                           mermaid_text(stage_kind(s)));
    }
    void leave(const supervisor_decl&, int depth) override { out += pad(depth) + "end\n"; }
};

// ---- ASCII ----

struct ascii_writer : tree_writer {
    std::string& out;
    explicit ascii_writer(std::string& o) : out(o) {}
    void enter(const supervisor_decl& d, int depth) override {
        out += pad(depth) + "supervisor " + supervisor_label(d) + "\n";
    }
    void stage(const stage_decl& s, int depth) override {
        out += pad(depth) + "[" + s.id + "] " + stage_kind(s) + "\n";
    }
    void leave(const supervisor_decl&, int) override {}
};

} // namespace

std::string to_dot(const topology& t) {
    std::string out = "digraph " + dot_quoted(t.file.empty() ? "topology" : t.file) + " {\n";
    out += "  rankdir=LR;\n  node [shape=box];\n";
    dot_writer w(out);
    walk(t, w);
    for (auto& e : edges(t))
        out += fmt::format("  {} -> {} [label={}];\n", dot_node(e.from), dot_node(e.to),
                           dot_quoted(channel_label(e.channel)));
    return out + "}\n";
}

std::string to_mermaid(const topology& t) {
    std::string out = "flowchart LR\n";
    mermaid_writer w(out, t);
    walk(t, w);
    for (auto& e : edges(t))
        out += fmt::format("  {} -->|{}| {}\n", w.id(e.from),
                           mermaid_label(channel_label(e.channel)), w.id(e.to));
    return out;
}

std::string to_ascii(const topology& t) {
    std::string out = "topology " + (t.file.empty() ? std::string("topology") : t.file) + "\n";
    ascii_writer w(out);
    walk(t, w);
    auto es = edges(t);
    if (!es.empty()) out += "channels\n";
    for (auto& e : es)
        out += fmt::format("  [{}] --{}--> [{}]\n", e.from.id, channel_label(e.channel), e.to.id);
    return out;
}

std::string to_graph(const topology& t, graph_format f) {
    switch (f) {
    case graph_format::dot:
        return to_dot(t);
    case graph_format::mermaid:
        return to_mermaid(t);
    case graph_format::ascii:
        return to_ascii(t);
    }
    throw std::invalid_argument("to_graph: unknown format");
}

std::optional<graph_format> parse_graph_format(std::string_view name) {
    if (name == "dot") return graph_format::dot;
    if (name == "mermaid") return graph_format::mermaid;
    if (name == "ascii") return graph_format::ascii;
    return std::nullopt;
}

} // namespace rill::config
