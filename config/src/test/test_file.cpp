// Reading a test file: the loader's YAML tree (positions, duplicate keys,
// syntax errors explained) and schema checks (unknown keys with "did you
// mean", scalar types and bounds), then every name resolved against the
// topology under test. Reading goes on past every problem, so one run
// reports all of them.
#include "test/test_file.hpp"

#include "format/schema.hpp"
#include "format/yaml_tree.hpp"

#include <rill/config/loader.hpp>
#include <rill/config/record_fields.hpp>
#include <rill/config/stage_io.hpp>
#include <rill/config/types.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

namespace rill::config::testing {
namespace {

namespace fs = std::filesystem;
using schema::field;
using schema::kind;
using schema::type_def;
using yaml::node;
using errors_t = std::vector<diagnostic>;

// The test-file format, as schema tables: check_object reports unknown keys
// and missing required ones from these, as it does for topology files.
struct test_format {
    type_def text{.k = kind::string, .title = "a string"};
    type_def names{.k = kind::list, .title = "a stage id or a list of stage ids", .item = &text};
    type_def timeout{.k = kind::duration, .title = "a duration like 5s", .min = 0};
    type_def count{.k = kind::integer, .title = "an integer >= 0", .min = 0, .max = 1e9};
    type_def regex{.k = kind::regex, .title = "a regular expression"};
    type_def values{.k = kind::list, .title = "a list of values", .item = &text};
    type_def records{.k = kind::list, .title = "a list of mappings of field name to value"};
    type_def conditions{
        .k = kind::object,
        .title = "a mapping of conditions (count, equals, regex, fields)",
        .fields = {{"count", &count, false, "", "how many values came out"},
                   {"equals", &values, false, "", "the values, in order"},
                   {"regex", &regex, false, "", "every value matches, whole"},
                   {"fields", &records, false, "", "each value's named fields, in order"}}};
    type_def ports{.k = kind::map, .title = "a mapping of channel (or stage.port) to values"};
    type_def test{.k = kind::object,
                  .title = "a mapping",
                  .fields = {{"name", &text, true, "", "what the test checks"},
                             {"target", &names, true, "", "the stages run"},
                             {"timeout", &timeout, false, "10s", "longest run"},
                             {"inputs", &ports, false, "", "values sent into the targets"},
                             {"outputs", &ports, false, "", "conditions on what comes out"}}};
    type_def tests{.k = kind::list, .title = "a list of tests", .item = &test};
    type_def top{.k = kind::object,
                 .title = "a mapping with tests",
                 .fields = {{"topology", &text, false, "", "the topology file under test"},
                            {"tests", &tests, true, "", "the tests"}}};
    test_format() { timeout.exclusive_min = true; }
};

const test_format& fmt_tables() {
    static const test_format f;
    return f;
}

std::optional<std::string> read_text(const std::string& path, std::string& why) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
        why = fs::exists(path, ec) ? "not a regular file" : "no such file";
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        why = "cannot open it";
        return std::nullopt;
    }
    return std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// pipeline.test.yaml -> pipeline.yaml, beside it.
std::string default_topology(const std::string& path) {
    std::string p = path;
    for (std::string_view ext : {".test.yaml", ".test.yml"})
        if (p.ends_with(ext)) return p.substr(0, p.size() - ext.size()) + ".yaml";
    return p + ".yaml";
}

// One end of a channel: the stage and port that write or read it.
struct end {
    const stage_decl* stage = nullptr;
    std::string port;
};

class reader {
public:
    reader(const topology& t, errors_t& errors) : topo_(t), errors_(errors) {
        for (const auto& s : t.stages) {
            stage_ids_.push_back(s.id);
            for (const auto& b : s.inputs)
                for (const auto& c : b.channels)
                    readers_[c] = {&s, b.port};
            for (const auto& b : s.outputs)
                for (const auto& c : b.channels)
                    writers_[c] = {&s, b.port};
        }
        for (const auto& c : t.channels)
            channel_names_.push_back(c.name);
    }

    std::optional<test_case> read_test(const node& n) {
        const auto& f = fmt_tables();
        if (!schema::check_object(n, f.test, "a test", errors_)) return std::nullopt;
        std::size_t before = errors_.size();
        test_case t;
        if (const auto* e = n.find("name"))
            if (auto v = schema::read(*e->value, f.text, errors_)) {
                t.name = std::get<std::string>(*v);
                t.at = e->value->at;
            }
        if (t.at.line == 0) t.at = n.at;
        if (!t.name.empty() && !names_.insert(t.name).second)
            errors_.push_back({t.at, fmt::format("a second test named '{}'", t.name)});
        if (const auto* e = n.find("target")) read_target(*e->value, t);
        if (const auto* e = n.find("timeout"))
            if (auto v = schema::read(*e->value, f.timeout, errors_))
                t.timeout = std::get<std::chrono::nanoseconds>(*v);
        std::set<std::string> targets(t.target.begin(), t.target.end());
        if (const auto* e = n.find("inputs")) read_inputs(*e->value, targets, t);
        if (const auto* e = n.find("outputs")) read_outputs(*e->value, targets, t);
        if (errors_.size() != before) return std::nullopt;
        return t;
    }

private:
    void read_target(const node& n, test_case& t) {
        auto v = schema::read(n, fmt_tables().names, errors_);
        if (!v) return;
        auto ids = std::get<std::vector<std::string>>(*v);
        if (ids.empty()) errors_.push_back({n.at, "target names no stage"});
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const mark& at = n.kind == node::sequence ? n.items[i]->at : n.at;
            if (!topo_.find_stage(ids[i]))
                errors_.push_back(
                    {at, fmt::format("unknown stage '{}'", ids[i]), closest(ids[i], stage_ids_)});
            else if (std::find(t.target.begin(), t.target.end(), ids[i]) != t.target.end())
                errors_.push_back({at, fmt::format("stage '{}' is named twice", ids[i])});
            else
                t.target.push_back(ids[i]);
        }
    }

    // The channel a key names: a channel, or stage.port bound to one channel.
    std::optional<std::string> channel_of(const yaml::entry& e, bool input) {
        const std::string& key = e.key;
        auto dot = key.find('.');
        if (dot == std::string::npos) {
            if (topo_.find_channel(key)) return key;
            errors_.push_back(
                {e.key_at, fmt::format("unknown channel '{}'", key), closest(key, channel_names_)});
            return std::nullopt;
        }
        std::string id = key.substr(0, dot), port = key.substr(dot + 1);
        const stage_decl* s = topo_.find_stage(id);
        if (!s) {
            errors_.push_back(
                {e.key_at, fmt::format("unknown stage '{}'", id), closest(id, stage_ids_)});
            return std::nullopt;
        }
        const auto& bindings = input ? s->inputs : s->outputs;
        std::vector<std::string> ports;
        for (const auto& b : bindings) {
            ports.push_back(b.port);
            if (b.port != port) continue;
            if (b.channels.size() == 1) return b.channels.front();
            errors_.push_back(
                {e.key_at, fmt::format("port '{}' of stage '{}' is bound to {} channels; name "
                                       "one of them ({}) instead",
                                       port, id, b.channels.size(), fmt::join(b.channels, ", "))});
            return std::nullopt;
        }
        errors_.push_back({e.key_at,
                           fmt::format("stage '{}' has no bound {} port '{}'", id,
                                       input ? "input" : "output", port),
                           closest(port, ports)});
        return std::nullopt;
    }

    static bool in(const std::set<std::string>& targets, const end& x) {
        return x.stage && targets.count(x.stage->id);
    }

    // The channel e names, when the test may use it: as an input, one that a
    // target reads and no target writes; as an output, one that a target
    // writes and no target reads; each once (`given`).
    std::optional<std::string> boundary(const yaml::entry& e, const std::set<std::string>& targets,
                                        bool input, std::set<std::string>& given) {
        auto ch = channel_of(e, input);
        if (!ch) return std::nullopt;
        const end& inner = input ? readers_[*ch] : writers_[*ch];
        const end& outer = input ? writers_[*ch] : readers_[*ch];
        if (!in(targets, inner))
            errors_.push_back({e.key_at, fmt::format("channel '{}' is not {} by a target stage",
                                                     *ch, input ? "read" : "written")});
        else if (in(targets, outer))
            errors_.push_back(
                {e.key_at, fmt::format("channel '{}' is {} by target stage '{}': its values {}",
                                       *ch, input ? "written" : "read", outer.stage->id,
                                       input ? "come from there, not from the test"
                                             : "go there, not to the test")});
        else if (!given.insert(*ch).second)
            errors_.push_back({e.key_at, fmt::format("channel '{}' is given twice", *ch)});
        else
            return ch;
        return std::nullopt;
    }

    // f(entry, channel) for each entry of the `inputs` or `outputs` mapping
    // n whose channel the test may use (boundary).
    template <class F>
    void each_boundary(const node& n, const std::set<std::string>& targets, bool input, F&& f) {
        if (!mapping(n, input ? "inputs" : "outputs")) return;
        std::set<std::string> given;
        for (const auto& e : n.entries)
            if (auto ch = boundary(e, targets, input, given)) f(e, *ch);
    }

    // Values for each channel must decode as its element type (its codec),
    // so that a typo in a number is found here, not in the run.
    void read_inputs(const node& n, const std::set<std::string>& targets, test_case& t) {
        each_boundary(n, targets, true, [&](const yaml::entry& e, const std::string& ch) {
            injection inj{ch, values(*e.value), e.key_at};
            check_decodes(ch, inj, e.key_at);
            t.inputs.push_back(std::move(inj));
        });
    }

    void read_outputs(const node& n, const std::set<std::string>& targets, test_case& t) {
        each_boundary(n, targets, false, [&](const yaml::entry& e, const std::string& ch) {
            const type_desc* type = find_type(topo_.find_channel(ch)->type);
            if (type && !type->to_string && !type->encode)
                errors_.push_back(
                    {e.key_at, fmt::format("channel '{}' carries {}, which has neither a "
                                           "formatter nor a codec: its values cannot be compared",
                                           ch, type->name)});
            else if (auto x = conditions(*e.value, ch, e.key_at))
                t.outputs.push_back(std::move(*x));
        });
    }

    std::optional<expectation> conditions(const node& n, const std::string& ch, const mark& at) {
        const auto& f = fmt_tables();
        std::string what = fmt::format("the conditions on '{}'", ch);
        if (!schema::check_object(n, f.conditions, what, errors_)) return std::nullopt;
        expectation x{ch, at};
        if (const auto* e = n.find("count"))
            if (auto v = schema::read(*e->value, f.count, errors_)) {
                x.count = std::get<std::int64_t>(*v);
                x.count_at = e->value->at;
            }
        if (const auto* e = n.find("equals")) {
            x.equals = values(*e->value);
            x.equals_at = e->value->at;
        }
        if (const auto* e = n.find("regex"))
            if (auto v = schema::read(*e->value, f.regex, errors_)) {
                x.regex = std::get<std::string>(*v);
                x.regex_at = e->value->at;
            }
        if (const auto* e = n.find("fields")) {
            x.fields = records(*e->value, ch);
            x.fields_at = e->value->at;
        }
        if (n.entries.empty())
            errors_.push_back({n.at, what + " are empty: give count, equals, regex or fields"});
        return x;
    }

    // `fields:` on channel ch: one mapping per value, of field names of its
    // type (record_fields.hpp) to their expected text.
    std::vector<record_text> records(const node& n, const std::string& ch) {
        std::vector<record_text> out;
        const type_desc* type = find_type(topo_.find_channel(ch)->type);
        const record_desc* rec = type ? find_record_fields(*type) : nullptr;
        if (!rec) {
            errors_.push_back({n.at, fmt::format("channel '{}' carries {}, which declares no "
                                                 "fields (record_fields.hpp): use equals or regex",
                                                 ch, type ? type->name : "?")});
            return out;
        }
        if (n.kind != node::sequence) {
            errors_.push_back(
                {n.at, fmt::format("fields must be {}, got {}", fmt_tables().records.title,
                                   yaml::describe(n.kind))});
            return out;
        }
        for (const auto& item : n.items) {
            if (!mapping(*item, "a record")) continue;
            record_text r{{}, item->at};
            for (const auto& e : item->entries) {
                auto it = std::find(rec->names.begin(), rec->names.end(), e.key);
                if (it == rec->names.end())
                    errors_.push_back({e.key_at,
                                       fmt::format("{} has no field '{}'", type->name, e.key),
                                       closest(e.key, rec->names)});
                else if (e.value->kind != node::scalar)
                    errors_.push_back({e.value->at, fmt::format("expected a value (a scalar), "
                                                                "got {}",
                                                                yaml::describe(e.value->kind))});
                else
                    r.fields.push_back({e.key,
                                        static_cast<std::size_t>(it - rec->names.begin()),
                                        {e.value->text, e.value->at}});
            }
            out.push_back(std::move(r));
        }
        return out;
    }

    bool mapping(const node& n, std::string_view what) {
        if (n.kind == node::mapping) return true;
        errors_.push_back(
            {n.at, fmt::format("{} must be a mapping, got {}", what, yaml::describe(n.kind))});
        return false;
    }

    // A list of scalars (or one scalar: a list of one), with positions.
    std::vector<value_text> values(const node& n) {
        std::vector<value_text> out;
        if (n.kind == node::scalar) return {{n.text, n.at}};
        if (n.kind != node::sequence) {
            errors_.push_back(
                {n.at, fmt::format("expected a list of values, got {}", yaml::describe(n.kind))});
            return out;
        }
        for (const auto& item : n.items) {
            if (item->kind == node::scalar)
                out.push_back({item->text, item->at});
            else
                errors_.push_back({item->at, fmt::format("expected a value (a scalar), got {}",
                                                         yaml::describe(item->kind))});
        }
        return out;
    }

    void check_decodes(const std::string& ch, const injection& inj, const mark& at) {
        const type_desc* type = find_type(topo_.find_channel(ch)->type);
        if (!type) return; // the loader has checked every channel's type
        if (!type->decode) {
            errors_.push_back(
                {at, fmt::format("channel '{}' carries {}, which has no codec: values cannot be "
                                 "written for it; give values to the stage that writes it",
                                 ch, type->name)});
            return;
        }
        for (const auto& v : inj.values) {
            box b(*type);
            try {
                type->decode(v.text, b.storage());
                b.filled();
            } catch (const std::exception& e) {
                errors_.push_back({v.at, fmt::format("not a value of type {} for channel '{}': {}",
                                                     type->name, ch, e.what())});
            }
        }
    }

    const topology& topo_;
    errors_t& errors_;
    std::map<std::string, end> readers_, writers_;
    std::vector<std::string> stage_ids_, channel_names_;
    std::set<std::string> names_; // of the tests read so far
};

} // namespace

test_file_result load_test_file(const std::string& path) {
    test_file_result out;
    errors_t& errors = out.errors;
    std::string why;
    auto text = read_text(path, why);
    if (!text) {
        errors.push_back({{path, 0, 0}, "cannot read the test file: " + why});
        return out;
    }
    yaml::node_ptr root = yaml::parse(*text, path, errors);
    const auto& f = fmt_tables();
    if (!root || !schema::check_object(*root, f.top, "a test file", errors)) return out;

    std::string topo_path = default_topology(path);
    mark topo_at{path, 0, 0};
    if (const auto* e = root->find("topology")) {
        auto v = schema::read(*e->value, f.text, errors);
        if (!v) return out;
        fs::path p(std::get<std::string>(*v));
        if (p.is_relative()) p = fs::path(path).parent_path() / p;
        topo_path = p.lexically_normal().string();
        topo_at = e->value->at;
    }
    load_result loaded = load_file(topo_path);
    if (!loaded.topo) {
        errors.push_back(
            {topo_at, fmt::format("the topology under test, {}, has problems:", topo_path)});
        errors.insert(errors.end(), loaded.errors.begin(), loaded.errors.end());
        return out;
    }
    test_file file{path, std::move(*loaded.topo), {}};

    const auto* tests = root->find("tests");
    if (!tests) return out; // reported by check_object
    if (tests->value->kind != node::sequence) {
        errors.push_back({tests->value->at, fmt::format("tests must be {}, got {}", f.tests.title,
                                                        yaml::describe(tests->value->kind))});
        return out;
    }
    reader r(file.topo, errors);
    for (const auto& item : tests->value->items)
        if (auto t = r.read_test(*item)) file.tests.push_back(std::move(*t));
    if (file.tests.empty() && errors.empty())
        errors.push_back({tests->value->at, "the file has no tests"});
    if (errors.empty()) out.file = std::move(file);
    return out;
}

} // namespace rill::config::testing
