// json_schema(): the format's schema tables (schema.hpp) and the registered
// stages written as a JSON Schema (draft 2020-12). Objects are sorted by key
// and stages by name, so the output is deterministic and diffable.
#include "format/json_text.hpp"
#include "format/scalars.hpp"
#include "format/schema.hpp"

#include <rill/config/loader.hpp>

#include <fmt/format.h>

#include <map>
#include <variant>

namespace rill::config {
namespace {

struct json {
    using object = std::map<std::string, json>;
    using array = std::vector<json>;
    std::variant<bool, std::int64_t, double, std::string, array, object> v = object{};

    json() = default;
    template <class T> json(T x) : v(std::move(x)) {}
    json(const char* s) : v(std::string(s)) {}
    json(std::string_view s) : v(std::string(s)) {}
    json(int i) : v(std::int64_t(i)) {}

    json& operator[](const std::string& k) { return std::get<object>(v)[k]; }
};

void write(std::string& out, const json& j, int indent) {
    std::string pad(indent * 2, ' '), inner((indent + 1) * 2, ' ');
    if (auto* b = std::get_if<bool>(&j.v))
        out += *b ? "true" : "false";
    else if (auto* i = std::get_if<std::int64_t>(&j.v))
        out += std::to_string(*i);
    else if (auto* d = std::get_if<double>(&j.v))
        out += scalars::format_number(*d);
    else if (auto* s = std::get_if<std::string>(&j.v))
        json_text::append_string(out, *s);
    else if (auto* a = std::get_if<json::array>(&j.v)) {
        out += '[';
        for (std::size_t n = 0; n < a->size(); ++n) {
            out += (n ? ",\n" : "\n") + inner;
            write(out, (*a)[n], indent + 1);
        }
        out += a->empty() ? "]" : "\n" + pad + "]";
    } else {
        const auto& o = std::get<json::object>(j.v);
        out += '{';
        bool first = true;
        for (const auto& [k, x] : o) {
            out += (first ? "\n" : ",\n") + inner;
            first = false;
            write(out, json(k), indent + 1);
            out += ": ";
            write(out, x, indent + 1);
        }
        out += o.empty() ? "}" : "\n" + pad + "}";
    }
}

constexpr const char* duration_pattern = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";
constexpr const char* size_pattern = "^[0-9]+(\\.[0-9]+)?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$";

json string_with_pattern(const char* p) { return json::object{{"type", "string"}, {"pattern", p}}; }

// Any scalar may come from the environment: `${VAR}` must not be flagged.
json or_env(json j) {
    json env = string_with_pattern("\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}");
    return json::object{{"anyOf", json::array{std::move(j), std::move(env)}}};
}

json value_json(const arg_value& v) {
    return std::visit(
        [](const auto& x) -> json {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::chrono::nanoseconds>)
                return x == rill::shutdown_infinity ? "infinity" : scalars::format_duration(x);
            else if constexpr (std::is_same_v<T, byte_size>)
                return scalars::format_size(x);
            else if constexpr (std::is_same_v<T, std::vector<std::string>>)
                return json::array(x.begin(), x.end());
            else
                return x;
        },
        v);
}

class generator {
public:
    explicit generator(const registry& r) : r_(r), f_(schema::topology_format()) {
        named_ = {{&f_.runtime, "runtime"},
                  {&f_.channel, "channel"},
                  {&f_.channels, "channels"},
                  {&f_.ports, "ports"},
                  {&f_.stage, "stage"},
                  {&f_.stages, "stages"},
                  {&f_.backoff, "backoff"},
                  {&f_.supervisor, "supervisor"},
                  {&f_.child_supervisor, "nested_supervisor"},
                  {&f_.children, "children"}};
    }

    std::string run() {
        json root = object(f_.top);
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema";
        root["title"] = "rill topology";
        json defs = json::object{};
        for (const auto& [t, name] : named_)
            defs[name] = object_or_type(*t);
        add_stages(defs["stage"]);
        root["$defs"] = std::move(defs);
        std::string out;
        write(out, root, 0);
        return out + "\n";
    }

private:
    json object_or_type(const schema::type_def& t) {
        return t.k == schema::kind::object ? object(t) : inline_type(t);
    }

    json type(const schema::type_def& t) {
        if (auto it = named_.find(&t); it != named_.end())
            return json::object{{"$ref", "#/$defs/" + it->second}};
        return inline_type(t);
    }

    json bounded(const char* type_name, const schema::type_def& t) {
        json j = json::object{{"type", type_name}};
        if (t.min) j[t.exclusive_min ? "exclusiveMinimum" : "minimum"] = *t.min;
        if (t.max) j["maximum"] = *t.max;
        return j;
    }

    json inline_type(const schema::type_def& t) {
        using schema::kind;
        json j;
        switch (t.k) {
        case kind::string:
            j = json::object{{"type", "string"}};
            break;
        case kind::regex:
            j = json::object{{"type", "string"}, {"format", "regex"}};
            break;
        case kind::integer:
            j = or_env(bounded("integer", t));
            break;
        case kind::number:
            j = or_env(bounded("number", t));
            break;
        case kind::boolean:
            j = or_env(json::object{{"type", "boolean"}});
            break;
        case kind::choice:
            j = or_env(json::object{{"enum", words(t)}});
            break;
        case kind::duration: {
            json alts = json::array{string_with_pattern(duration_pattern)};
            if (!t.words.empty())
                std::get<json::array>(alts.v).push_back(json::object{{"enum", words(t)}});
            j = or_env(json::object{{"anyOf", std::move(alts)}});
            break;
        }
        case kind::size:
            j = or_env(json::object{
                {"anyOf", json::array{json::object{{"type", "integer"}, {"minimum", 0}},
                                      string_with_pattern(size_pattern)}}});
            break;
        case kind::object:
            j = object(t);
            break;
        case kind::map:
            j = json::object{{"type", "object"}, {"additionalProperties", type(*t.item)}};
            break;
        case kind::list:
            j = json::object{
                {"anyOf", json::array{type(*t.item),
                                      json::object{{"type", "array"}, {"items", type(*t.item)}}}}};
            break;
        case kind::either: {
            json::array alts;
            for (const auto* a : t.alternatives)
                alts.push_back(type(*a));
            j = json::object{{"anyOf", std::move(alts)}};
            break;
        }
        case kind::args:
            j = json::object{{"type", "object"}};
            break;
        }
        j["description"] = t.help.empty() ? t.title : t.help;
        return j;
    }

    static json words(const schema::type_def& t) {
        return json::array(t.words.begin(), t.words.end());
    }

    json object(const schema::type_def& t) {
        json props = json::object{};
        json::array required;
        for (const auto& fd : t.fields) {
            json p = type(*fd.type);
            // A $ref keeps its own description; siblings of $ref are allowed in 2020-12.
            if (!fd.help.empty()) p["description"] = fd.help;
            if (!fd.default_value.empty()) p["default"] = value_json(schema::default_of(fd));
            if (fd.nullable) {
                json description = p["description"];
                p = json::object{
                    {"anyOf", json::array{std::move(p), json::object{{"type", "null"}}}},
                    {"description", std::move(description)}};
            }
            props[std::string(fd.name)] = std::move(p);
            if (fd.required) required.push_back(std::string(fd.name));
        }
        json j = json::object{
            {"type", "object"}, {"properties", std::move(props)}, {"additionalProperties", false}};
        if (!required.empty()) j["required"] = std::move(required);
        if (t.extensions) j["patternProperties"] = json::object{{"^x-", json::object{}}};
        j["description"] = t.help.empty() ? t.title : t.help;
        return j;
    }

    json ports(const std::vector<port_spec>& ps) {
        json props = json::object{};
        for (const auto& p : ps)
            props[p.name] = json::object{
                {"$ref", "#/$defs/ports"},
                {"description", port_type_text(p) + (p.help.empty() ? "" : ": " + p.help)}};
        json by_port = json::object{
            {"type", "object"}, {"properties", std::move(props)}, {"additionalProperties", false}};
        json::array alts{json::object{{"type", "string"}}, json::object{{"type", "array"}}};
        alts.push_back(std::move(by_port));
        return json::object{{"anyOf", std::move(alts)}};
    }

    json args(const stage_spec& s) {
        json props = json::object{};
        json::array required;
        for (const auto& a : s.args) {
            json p = inline_type(schema::arg_type_def(a));
            p["description"] = fmt::format("{} ({}){}", a.help, to_string(a.type),
                                           a.default_value ? "" : ", required");
            if (a.default_value) p["default"] = value_json(*a.default_value);
            props[a.name] = std::move(p);
            if (!a.default_value) required.push_back(a.name);
        }
        json j = json::object{
            {"type", "object"}, {"properties", std::move(props)}, {"additionalProperties", false}};
        if (!required.empty()) j["required"] = std::move(required);
        return j;
    }

    void add_stages(json& stage) {
        json::array names, cases;
        for (const stage_spec* s : r_.all()) {
            names.push_back(s->name);
            json then = json::object{{"description", s->help},
                                     {"properties", json::object{{"in", ports(s->inputs)},
                                                                 {"out", ports(s->outputs)},
                                                                 {"args", args(*s)}}}};
            cases.push_back(json::object{
                {"if", json::object{{"properties",
                                     json::object{{"stage", json::object{{"const", s->name}}}}},
                                    {"required", json::array{"stage"}}}},
                {"then", std::move(then)}});
        }
        if (names.empty()) return;
        stage["properties"]["stage"]["enum"] = std::move(names);
        stage["allOf"] = std::move(cases);
    }

    const registry& r_;
    const schema::format& f_;
    std::map<const schema::type_def*, std::string> named_;
};

} // namespace

std::string json_schema(const registry& r) { return generator(r).run(); }

} // namespace rill::config
