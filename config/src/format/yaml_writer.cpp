// to_yaml: the topology written back explicitly (every default spelled out,
// the full port form, the supervisor tree), so that loading it again gives
// the same topology. `$` in values is written `$$`: the loader substitutes
// values, never keys.
#include "format/scalars.hpp"
#include "format/topology_index.hpp"

#include <rill/config/loader.hpp>

#include <yaml-cpp/emitter.h>

namespace rill::config {
namespace {

std::string escaped(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '$') out += '$';
        out += c;
    }
    return out;
}

const char* restart_name(rill::restart r) { return rill::to_string(r); }

void write_duration_or_word(YAML::Emitter& y, std::chrono::nanoseconds d) {
    if (d == rill::shutdown_infinity)
        y << "infinity";
    else
        y << scalars::format_duration(d);
}

struct value_writer {
    YAML::Emitter& y;
    void operator()(bool v) { y << (v ? "true" : "false"); }
    void operator()(std::int64_t v) { y << std::to_string(v); }
    void operator()(double v) { y << scalars::format_number(v); }
    void operator()(const std::string& v) { y << YAML::DoubleQuoted << escaped(v); }
    void operator()(std::chrono::nanoseconds v) { y << scalars::format_duration(v); }
    void operator()(byte_size v) { y << scalars::format_size(v); }
    void operator()(const std::vector<std::string>& v) {
        y << YAML::Flow << YAML::BeginSeq;
        for (const auto& s : v)
            y << YAML::DoubleQuoted << escaped(s);
        y << YAML::EndSeq;
    }
};

void write_ports(YAML::Emitter& y, const char* key, const std::vector<port_binding>& ports) {
    if (ports.empty()) return;
    y << YAML::Key << key << YAML::Value << YAML::BeginMap;
    for (const auto& p : ports) {
        y << YAML::Key << p.port << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const auto& c : p.channels)
            y << escaped(c);
        y << YAML::EndSeq;
    }
    y << YAML::EndMap;
}

void write_stage(YAML::Emitter& y, const stage_decl& s) {
    y << YAML::Key << s.id << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "stage" << YAML::Value << escaped(s.stage);
    write_ports(y, "in", s.inputs);
    write_ports(y, "out", s.outputs);
    y << YAML::Key << "workers" << YAML::Value << s.workers;
    y << YAML::Key << "restart" << YAML::Value << restart_name(s.restart);
    y << YAML::Key << "shutdown" << YAML::Value;
    write_duration_or_word(y, s.shutdown);
    if (!s.args.empty()) {
        y << YAML::Key << "args" << YAML::Value << YAML::BeginMap;
        for (const auto& [name, v] : s.args) {
            y << YAML::Key << name << YAML::Value;
            std::visit(value_writer{y}, v);
        }
        y << YAML::EndMap;
    }
    y << YAML::EndMap;
}

void write_supervisor(YAML::Emitter& y, const detail::topology_index& t, const supervisor_decl& s,
                      bool nested) {
    y << YAML::BeginMap;
    y << YAML::Key << "id" << YAML::Value << escaped(s.id);
    y << YAML::Key << "strategy" << YAML::Value << rill::to_string(s.strategy);
    y << YAML::Key << "intensity" << YAML::Value << s.intensity;
    y << YAML::Key << "period" << YAML::Value << scalars::format_duration(s.period);
    if (nested) y << YAML::Key << "restart" << YAML::Value << restart_name(s.restart);
    if (const auto& b = s.backoff) {
        y << YAML::Key << "backoff" << YAML::Value << YAML::BeginMap;
        y << YAML::Key << "initial" << YAML::Value << scalars::format_duration(b->initial);
        y << YAML::Key << "max" << YAML::Value << scalars::format_duration(b->max);
        y << YAML::Key << "factor" << YAML::Value << scalars::format_number(b->factor);
        y << YAML::Key << "jitter" << YAML::Value << scalars::format_number(b->jitter);
        y << YAML::Key << "reset_after" << YAML::Value << scalars::format_duration(b->reset_after);
        y << YAML::EndMap;
    } else {
        y << YAML::Key << "backoff" << YAML::Value << YAML::Null;
    }
    y << YAML::Key << "children" << YAML::Value << YAML::BeginSeq;
    for (const auto& c : s.children) {
        const supervisor_decl* sub = c.kind == child_ref::supervisor ? t.supervisor(c.id) : nullptr;
        if (sub)
            write_supervisor(y, t, *sub, true);
        else
            y << escaped(c.id);
    }
    y << YAML::EndSeq << YAML::EndMap;
}

} // namespace

std::string to_yaml(const topology& t) {
    YAML::Emitter y;
    y << YAML::BeginMap;
    y << YAML::Key << "runtime" << YAML::Value << YAML::BeginMap;
    if (t.runtime.processors)
        y << YAML::Key << "processors" << YAML::Value << *t.runtime.processors;
    if (t.runtime.stack_reserve)
        y << YAML::Key << "stack_reserve" << YAML::Value
          << scalars::format_size(*t.runtime.stack_reserve);
    y << YAML::Key << "grace" << YAML::Value << scalars::format_duration(t.runtime.grace);
    y << YAML::EndMap;
    y << YAML::Key << "channels" << YAML::Value << YAML::BeginMap;
    for (const auto& c : t.channels) {
        y << YAML::Key << c.name << YAML::Value << YAML::Flow << YAML::BeginMap;
        y << YAML::Key << "type" << YAML::Value << escaped(c.type);
        y << YAML::Key << "capacity" << YAML::Value << c.capacity << YAML::EndMap;
    }
    y << YAML::EndMap;
    y << YAML::Key << "stages" << YAML::Value << YAML::BeginMap;
    for (const auto& s : t.stages)
        write_stage(y, s);
    y << YAML::EndMap;
    if (!t.supervisors.empty()) {
        y << YAML::Key << "supervisor" << YAML::Value;
        write_supervisor(y, detail::topology_index(t), t.supervisors.front(), false);
    }
    y << YAML::EndMap << YAML::Newline;
    return y.c_str();
}

} // namespace rill::config
