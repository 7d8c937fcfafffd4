#include "run/run_state_json.hpp"
#include "format/json_text.hpp"
#include "format/topology_index.hpp"

#include <fmt/format.h>

#include <map>

namespace rill::config::detail {

namespace {

using json_text::append_string;

// "key": "value" (with a leading comma unless first).
void field(std::string& out, const char* key, std::string_view value, bool first = false) {
    if (!first) out += ',';
    append_string(out, key);
    out += ':';
    append_string(out, value);
}

// "key": number or literal (true, false), as given.
template <class T> void raw(std::string& out, const char* key, const T& value) {
    out += ',';
    append_string(out, key);
    fmt::format_to(std::back_inserter(out), ":{}", value);
}

void channel_names(std::string& out, const char* key, const std::vector<port_binding>& ports) {
    out += ',';
    append_string(out, key);
    out += ":[";
    bool first = true;
    for (const auto& p : ports)
        for (const auto& c : p.channels) {
            if (!std::exchange(first, false)) out += ',';
            append_string(out, c);
        }
    out += ']';
}

void stage_json(std::string& out, const stage_decl& d, const run_snapshot::stage& s) {
    out += '{';
    field(out, "id", s.id, true);
    field(out, "stage", d.stage);
    field(out, "supervisor", s.supervisor);
    channel_names(out, "inputs", d.inputs);
    channel_names(out, "outputs", d.outputs);
    raw(out, "received", s.received);
    raw(out, "lost", s.lost);
    out += ",\"workers\":[";
    for (std::size_t i = 0; i < s.workers.size(); ++i) {
        const auto& w = s.workers[i];
        out += i ? ",{" : "{";
        field(out, "id", w.id, true);
        field(out, "phase", w.phase);
        raw(out, "failures", w.failures);
        raw(out, "received", w.received);
        out += '}';
    }
    out += "]}";
}

void supervisor_json(std::string& out, const supervisor_decl& d, const std::string& parent,
                     const run_snapshot::supervisor& s) {
    out += '{';
    field(out, "id", s.id, true);
    field(out, "parent", parent);
    field(out, "strategy", to_string(d.strategy));
    raw(out, "intensity", s.intensity);
    raw(out, "restarts", s.restarts);
    raw(out, "recent_restarts", s.recent_restarts);
    raw(out, "gave_up", s.gave_up ? "true" : "false");
    out += ",\"children\":[";
    for (std::size_t i = 0; i < d.children.size(); ++i) {
        out += i ? ",{" : "{";
        field(out, "kind", d.children[i].kind == child_ref::stage ? "stage" : "supervisor", true);
        field(out, "id", d.children[i].id);
        out += '}';
    }
    out += "]}";
}

} // namespace

std::string state_json(const topology& t, const run_snapshot& s) {
    topology_index index(t);
    std::string out = "{";
    field(out, "file", t.file, true);
    field(out, "state", s.state);
    raw(out, "ready", s.ready ? "true" : "false");
    out += ",\"channels\":[";
    for (std::size_t i = 0; i < s.channels.size(); ++i) {
        const auto& c = s.channels[i];
        out += i ? ",{" : "{";
        field(out, "name", c.name, true);
        field(out, "type", t.channels[i].type);
        raw(out, "capacity", c.capacity);
        raw(out, "depth", c.depth);
        raw(out, "sent", c.sent);
        raw(out, "closed", c.closed ? "true" : "false");
        out += '}';
    }
    out += "],\"stages\":[";
    for (std::size_t i = 0; i < s.stages.size(); ++i) {
        if (i) out += ',';
        stage_json(out, *index.stage(s.stages[i].id), s.stages[i]);
    }
    // Each supervisor's parent: the one that lists it as a child.
    std::map<std::string, std::string> parent_of;
    for (const auto& d : t.supervisors)
        for (const auto& c : d.children)
            if (c.kind == child_ref::supervisor) parent_of[c.id] = d.id;
    out += "],\"supervisors\":[";
    for (std::size_t i = 0; i < s.supervisors.size(); ++i) {
        if (i) out += ',';
        const auto& id = s.supervisors[i].id;
        supervisor_json(out, *index.supervisor(id), parent_of[id], s.supervisors[i]);
    }
    out += "]}";
    return out;
}

} // namespace rill::config::detail
