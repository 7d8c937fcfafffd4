// The loader: files (top-level and included) read into YAML trees, then
// decoded against the format's schema into a topology, then checked as a
// graph. Decoding goes on past every problem, so that one run reports all.
#include "format/interpolation.hpp"
#include "format/schema.hpp"
#include "format/topology_checks.hpp"
#include "format/yaml_tree.hpp"

#include <rill/config/loader.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include <fcntl.h>
#include <unistd.h>

namespace rill::config {
namespace {

namespace fs = std::filesystem;
using yaml::node;
using errors_t = std::vector<diagnostic>;

// A file's bytes, or the OS's reason why not. Read with read(2) rather than
// a stream: an ifstream opens a directory and reads it as empty.
struct file_text {
    std::optional<std::string> text;
    std::string error{};
};

file_text read_from_disk(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {std::nullopt, std::strerror(errno)};
    std::string out;
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return {std::nullopt, std::strerror(err)};
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return {std::move(out)};
}

std::optional<std::string> getenv_from_process(std::string_view name) {
    const char* v = std::getenv(std::string(name).c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
}

template <class T> T get(const arg_value& v) { return std::get<T>(v); }

using entry_index = std::unordered_map<std::string_view, const yaml::entry*>;

class loader {
public:
    explicit loader(const load_options& o)
        : read_file_(o.read_file), getenv_(o.getenv ? o.getenv : getenv_from_process),
          reg_(o.stages ? *o.stages : registry::global()), max_depth_(o.max_include_depth),
          f_(schema::topology_format()) {}

    load_result load(const std::string& path, std::optional<std::string_view> text) {
        topo_.file = path;
        file_order_[path] = 0;
        read_ids_.insert(identity(path));
        std::optional<std::string> read;
        if (!text) {
            file_text f = read_text(path);
            read = std::move(f.text);
            if (!read)
                errors_.push_back({{path, 0, 0}, "cannot read the file" + reason(f)});
            else
                text = *read;
        }
        if (text) {
            const node* root = read_tree(path, *text, true);
            if (root) decode(*root);
        }
        return finish();
    }

private:
    file_text read_text(const std::string& path) const {
        if (!read_file_) return read_from_disk(path);
        return {read_file_(path)};
    }

    // One name per file, however it is spelt (./x.yaml, x.yaml, a/../x.yaml,
    // through a symbolic link), so that a file is never read twice.
    static std::string identity(const std::string& path) {
        std::error_code ec;
        fs::path p = fs::weakly_canonical(path, ec);
        return ec ? fs::path(path).lexically_normal().string() : p.string();
    }

    static std::string reason(const file_text& f) {
        return f.error.empty() ? std::string() : ": " + f.error;
    }

    // Reads one file and, depth first, the files it includes; collects its declarations.
    const node* read_tree(const std::string& path, std::string_view text, bool top) {
        yaml::value_filter filter = [this](std::string_view s, const mark& at, errors_t& errs) {
            auto r = interpolate(s, getenv_);
            if (!r.error.empty()) errs.push_back({at, r.error});
            return r.text;
        };
        yaml::node_ptr root = yaml::parse(text, path, errors_, filter);
        if (!root) {
            unsure_.all = true; // its stages are missing
            return nullptr;
        }
        trees_.push_back(root);
        if (root->kind == node::null) return root.get();
        if (!schema::check_object(*root, f_.top, top ? "the top level" : "an included file",
                                  errors_)) {
            unsure_.all = true;
            return nullptr;
        }
        if (!top)
            for (const auto* key : {&f_.file_key.runtime, &f_.file_key.supervisor})
                if (const auto* e = root->find(key->name))
                    errors_.push_back(
                        {e->key_at,
                         fmt::format("'{}' is only allowed in the top-level file", key->name)});
        open_.push_back({path, identity(path)});
        if (const auto* inc = root->find(f_.file_key.include.name)) include(path, *inc->value);
        open_.pop_back();
        collect(*root, f_.file_key.channels, channel_entries_, channel_keys_, "channel");
        // A stage declared twice is skipped: what it names may lack an end.
        for (const auto* twice :
             collect(*root, f_.file_key.stages, stage_entries_, stage_keys_, "stage"))
            unsure_of_stage(*twice->value);
        return root.get();
    }

    void include(const std::string& from, const node& list) {
        auto one = [&](const node& item) {
            if (item.kind != node::scalar) {
                errors_.push_back({item.at, fmt::format("expected a file name, got {}",
                                                        yaml::describe(item.kind))});
                return;
            }
            fs::path p(item.text);
            if (p.is_relative()) p = fs::path(from).parent_path() / p;
            std::string resolved = p.lexically_normal().string();
            std::string id = identity(resolved);
            auto c = std::find_if(open_.begin(), open_.end(),
                                  [&](const open_file& o) { return o.id == id; });
            if (c != open_.end()) {
                std::string chain;
                for (auto it = c; it != open_.end(); ++it)
                    chain += it->path + " -> ";
                errors_.push_back({item.at, "include cycle: " + chain + resolved});
                return;
            }
            if (read_ids_.count(id)) return; // already read: included once
            if (int(open_.size()) > max_depth_) {
                unsure_.all = true;
                errors_.push_back(
                    {item.at, fmt::format("includes nested deeper than {} files", max_depth_)});
                return;
            }
            file_text text = read_text(resolved);
            if (!text.text) {
                unsure_.all = true;
                errors_.push_back({item.at, fmt::format("cannot read included file '{}'{}",
                                                        resolved, reason(text))});
                return;
            }
            file_order_.emplace(resolved, file_order_.size());
            read_ids_.insert(id);
            read_tree(resolved, *text.text, false);
        };
        if (list.kind == node::sequence)
            for (const auto& item : list.items)
                one(*item);
        else
            one(list);
    }

    // Adds the declarations under `key` to `into`; returns those skipped
    // because their name was declared before.
    std::vector<const yaml::entry*> collect(const node& root, const schema::field& section,
                                            std::vector<const yaml::entry*>& into,
                                            entry_index& keys, std::string_view what) {
        std::vector<const yaml::entry*> skipped;
        const auto* e = root.find(section.name);
        if (!e || e->value->kind == node::null) return skipped;
        if (e->value->kind != node::mapping) {
            errors_.push_back(
                {e->value->at, fmt::format("'{}' must be {}, got {}", section.name,
                                           section.type->title, yaml::describe(e->value->kind))});
            unsure_.all = true;
            return skipped;
        }
        for (const auto& d : e->value->entries) {
            auto [prev, fresh] = keys.emplace(d.key, &d);
            if (!fresh) {
                errors_.push_back(
                    {d.key_at, fmt::format("{} '{}' is already declared at {}:{}", what, d.key,
                                           prev->second->key_at.file, prev->second->key_at.line)});
                skipped.push_back(&d);
                continue;
            }
            into.push_back(&d);
        }
        return skipped;
    }

    // The channels named under a stage's in/out that the graph will not hold.
    void unsure_of_stage(const node& stage) {
        if (stage.kind != node::mapping) return;
        for (const auto* key : {&f_.stage_key.in, &f_.stage_key.out})
            if (const auto* e = stage.find(key->name)) unsure_of(*e->value);
    }

    // Every channel name in a binding: `c`, `[c, d]` or `{port: c or [c, d]}`.
    void unsure_of(const node& binding) {
        if (binding.kind == node::scalar) unsure_.channels.insert(binding.text);
        for (const auto& item : binding.items)
            if (item->kind == node::scalar) unsure_.channels.insert(item->text);
        if (binding.kind == node::mapping)
            for (const auto& e : binding.entries)
                unsure_of(*e.value);
    }

    // A field's value read as its type, or its default (also after an error).
    std::optional<arg_value> field(const node& obj, const schema::field& f) {
        const auto* e = obj.find(f.name);
        if (e && e->value->kind != node::null)
            if (auto v = schema::read(*e->value, *f.type, errors_)) return v;
        if (f.default_value.empty()) return std::nullopt;
        return schema::default_of(f);
    }

    template <class T> void set(T& out, const node& obj, const schema::field& f) {
        if (auto v = field(obj, f)) out = static_cast<T>(std::get<typename value_of<T>::type>(*v));
    }

    // The arg_value alternative each C++ field is read from.
    template <class T, class = void> struct value_of { using type = T; };
    template <class D>
    struct value_of<D, std::enable_if_t<std::is_integral_v<D> && !std::is_same_v<D, bool>>> {
        using type = std::int64_t;
    };

    void decode(const node& root) {
        for (const auto* e : channel_entries_)
            decode_channel(*e);
        for (const auto& c : topo_.channels)
            channel_at_.emplace(c.name, &c);
        for (const auto* e : stage_entries_)
            decode_stage(*e);
        for (const auto& s : topo_.stages)
            stage_at_.emplace(s.id, &s);
        if (const auto* r = root.find(f_.file_key.runtime.name); r && r->value->kind != node::null)
            decode_runtime(*r->value);
        const auto* sup = root.find(f_.file_key.supervisor.name);
        if (sup && sup->value->kind != node::null)
            decode_supervisors(*sup->value);
        else
            default_supervisor();
        if (topo_.stages.empty() && stage_entries_.empty() && errors_.empty())
            errors_.push_back({{topo_.file, 1, 1}, "the topology declares no stages"});
    }

    void decode_runtime(const node& n) {
        if (!schema::check_object(n, f_.runtime, "runtime", errors_)) return;
        auto& r = topo_.runtime;
        const auto& key = f_.runtime_key;
        if (auto v = field(n, key.processors)) r.processors = int(get<std::int64_t>(*v));
        if (auto v = field(n, key.stack_reserve)) r.stack_reserve = get<byte_size>(*v);
        set(r.grace, n, key.grace);
    }

    void decode_channel(const yaml::entry& e) {
        channel_decl c{e.key, {}, 64, e.key_at};
        const node& v = *e.value;
        const node* type_node = &v;
        if (v.kind == node::mapping) {
            if (!schema::check_object(v, f_.channel, fmt::format("channel '{}'", e.key), errors_))
                return;
            const auto* t = v.find(f_.channel_key.type.name);
            type_node = t ? t->value.get() : nullptr;
            std::size_t before = errors_.size();
            set(c.capacity, v, f_.channel_key.capacity);
            // The value's own message does not say what it is the capacity of.
            for (std::size_t i = before; i < errors_.size(); ++i)
                errors_[i].message =
                    fmt::format("channel '{}' capacity {}", e.key, errors_[i].message);
        }
        if (!type_node) return; // missing: reported by check_object
        if (type_node->kind != node::scalar) {
            errors_.push_back({type_node->at, fmt::format("channel '{}' must be {}, got {}", e.key,
                                                          f_.channel_entry.title,
                                                          yaml::describe(type_node->kind))});
            return;
        }
        c.type = type_node->text;
        if (!find_type(c.type)) {
            errors_.push_back({type_node->at, fmt::format("unknown type '{}'", c.type),
                               closest(c.type, type_names())});
            return;
        }
        topo_.channels.push_back(std::move(c));
    }

    void decode_stage(const yaml::entry& e) {
        const node& v = *e.value;
        std::string what = fmt::format("stage '{}'", e.key);
        if (!schema::check_object(v, f_.stage, what, errors_)) return;
        // A misspelt key may be a misspelt in/out: what it names may lack an end.
        for (const auto& k : v.entries)
            if (!f_.stage.find(k.key)) unsure_of(*k.value);
        stage_decl s{e.key, {}};
        s.at = e.key_at;
        const auto& key = f_.stage_key;
        set(s.workers, v, key.workers);
        if (auto r = field(v, key.restart)) s.restart = restart_from(get<std::string>(*r)).value();
        set(s.shutdown, v, key.shutdown);
        const auto* name = v.find(key.stage.name);
        const stage_spec* spec = nullptr;
        if (name && name->value->kind != node::scalar) {
            schema::read(*name->value, f_.name, errors_);
        } else if (name) {
            s.stage = name->value->text;
            spec = reg_.find(s.stage);
            if (!spec)
                errors_.push_back({name->value->at, fmt::format("unknown stage '{}'", s.stage),
                                   closest(s.stage, reg_.names())});
        }
        if (!spec) {
            unsure_of_stage(v);
            return;
        }
        // After a misspelt port, its port is most likely the unbound one: say it once.
        if (const auto* in = v.find(key.in.name); !in || bind(s, *spec, *in, true))
            check_unbound(s, *spec, true);
        if (const auto* out = v.find(key.out.name); !out || bind(s, *spec, *out, false))
            check_unbound(s, *spec, false);
        decode_args(s, *spec, v.find(key.args.name));
        topo_.stages.push_back(std::move(s));
    }

    // False when the binding named no port or an unknown one.
    bool bind(stage_decl& s, const stage_spec& spec, const yaml::entry& e, bool input) {
        const auto& ports = input ? spec.inputs : spec.outputs;
        auto& into = input ? s.inputs : s.outputs;
        const char* direction = input ? "input" : "output";
        std::vector<std::string> names;
        for (const auto& p : ports)
            names.push_back(p.name);
        const node& v = *e.value;
        if (v.kind == node::null) return true;
        if (v.kind != node::mapping) {
            if (const port_spec* p = shorthand_port(ports)) {
                add_binding(into, p->name, v);
                return true;
            }
            errors_.push_back({v.at, shorthand_error(spec, ports, direction, e.key)});
            unsure_of(v);
            return false;
        }
        bool known = true;
        for (const auto& pe : v.entries) {
            if (std::find(names.begin(), names.end(), pe.key) == names.end()) {
                errors_.push_back(
                    {pe.key_at,
                     fmt::format("stage {} has no {} port '{}'", spec.name, direction, pe.key),
                     closest(pe.key, names)});
                unsure_of(*pe.value);
                known = false;
                continue;
            }
            add_binding(into, pe.key, *pe.value).at = pe.key_at;
        }
        return known;
    }

    // The port `in: c` / `out: c` binds: the only port, or else the only
    // required one (grep's optional `rejects` must not force the port form on
    // every grep). None when that is ambiguous.
    static const port_spec* shorthand_port(const std::vector<port_spec>& ports) {
        if (ports.size() == 1) return &ports[0];
        const port_spec* required = nullptr;
        for (const auto& p : ports) {
            if (p.optional) continue;
            if (required) return nullptr;
            required = &p;
        }
        return required;
    }

    static std::string shorthand_error(const stage_spec& spec, const std::vector<port_spec>& ports,
                                       const char* direction, const std::string& key) {
        if (ports.empty()) return fmt::format("stage {} has no {} ports", spec.name, direction);
        std::vector<std::string> required, optional;
        for (const auto& p : ports)
            (p.optional ? optional : required).push_back(p.name);
        std::string which =
            required.empty()
                ? fmt::format("only optional {} ports {}", direction, fmt::join(optional, ", "))
                : fmt::format("required {} ports {}", direction, fmt::join(required, ", "));
        return fmt::format("stage {} has {}: use the port form ({}: {{port: channel}})", spec.name,
                           which, key);
    }

    port_binding& add_binding(std::vector<port_binding>& into, const std::string& port,
                              const node& v) {
        port_binding& b = into.emplace_back(port_binding{port, {}, v.at});
        auto one = [&](const node& n) {
            if (n.kind != node::scalar) {
                errors_.push_back(
                    {n.at, fmt::format("expected a channel name, got {}", yaml::describe(n.kind))});
                return;
            }
            if (!channel_at_.count(n.text)) {
                if (!declared_channel(n.text)) { // declared but invalid: reported already
                    std::string meant = closest(n.text, channel_names());
                    // Most likely the channel meant: it may lack this end.
                    unsure_.channels.insert(meant);
                    errors_.push_back(
                        {n.at, fmt::format("unknown channel '{}'", n.text), std::move(meant)});
                }
                return;
            }
            if (std::find(b.channels.begin(), b.channels.end(), n.text) != b.channels.end()) {
                errors_.push_back(
                    {n.at, fmt::format("channel '{}' is listed twice on port '{}'", n.text, port)});
                return;
            }
            b.channels.push_back(n.text);
        };
        if (v.kind == node::sequence)
            for (const auto& item : v.items)
                one(*item);
        else
            one(v);
        return b;
    }

    bool declared_channel(std::string_view n) const { return channel_keys_.count(n) != 0; }

    std::vector<std::string> channel_names() const {
        std::vector<std::string> out;
        for (const auto* e : channel_entries_)
            out.push_back(e->key);
        return out;
    }

    void check_unbound(const stage_decl& s, const stage_spec& spec, bool input) {
        const auto& bound = input ? s.inputs : s.outputs;
        for (const auto& p : input ? spec.inputs : spec.outputs) {
            bool has = std::any_of(bound.begin(), bound.end(), [&](const port_binding& b) {
                return b.port == p.name && !b.channels.empty();
            });
            bool named = std::any_of(bound.begin(), bound.end(),
                                     [&](const port_binding& b) { return b.port == p.name; });
            if (!has && !p.optional && !named)
                errors_.push_back(
                    {s.at, fmt::format("stage '{}' ({}) leaves its {} port '{}' "
                                       "unbound",
                                       s.id, spec.name, input ? "input" : "output", p.name)});
        }
    }

    void decode_args(stage_decl& s, const stage_spec& spec, const yaml::entry* args) {
        const node* n = args && args->value->kind != node::null ? args->value.get() : nullptr;
        if (n && n->kind != node::mapping) {
            errors_.push_back({n->at, fmt::format("'args' must be {}, got {}", f_.args.title,
                                                  yaml::describe(n->kind))});
            n = nullptr;
        }
        std::vector<std::string> names;
        for (const auto& a : spec.args)
            names.push_back(a.name);
        if (n)
            for (const auto& e : n->entries)
                if (!spec.find_arg(e.key))
                    errors_.push_back(
                        {e.key_at, fmt::format("stage {} has no argument '{}'", spec.name, e.key),
                         closest(e.key, names)});
        for (const auto& a : spec.args) {
            const auto* e = n ? n->find(a.name) : nullptr;
            if (e && e->value->kind != node::null) {
                if (auto v = schema::read(*e->value, schema::arg_type_def(a), errors_))
                    s.args[a.name] = *v;
            } else if (a.default_value) {
                s.args[a.name] = *a.default_value;
            } else {
                errors_.push_back({n ? n->at : s.at,
                                   fmt::format("stage '{}' ({}) is missing required argument '{}'",
                                               s.id, spec.name, a.name)});
            }
        }
    }

    void default_supervisor() {
        supervisor_decl root{"root"};
        for (const auto& s : topo_.stages)
            root.children.push_back({child_ref::stage, s.id});
        topo_.supervisors.push_back(std::move(root));
    }

    void decode_supervisors(const node& n) {
        decode_supervisor(n, f_.supervisor, "root");
        for (const auto& s : topo_.stages)
            if (!placed_.count(s.id))
                errors_.push_back({s.at, fmt::format("stage '{}' is under no supervisor: list it "
                                                     "in supervisor children",
                                                     s.id)});
        for (const auto& sup : topo_.supervisors)
            if (sup.strategy != rill::strategy::one_for_one) check_no_temporary(sup);
    }

    // OTP drops a temporary child when one_for_all or rest_for_one restarts
    // its siblings: a dropped stage would leave its channels open for ever,
    // so such a child is refused here rather than hanging the run.
    void check_no_temporary(const supervisor_decl& sup) {
        for (const auto& c : sup.children) {
            const mark* at = nullptr;
            if (c.kind == child_ref::stage) {
                const auto st = stage_at_.find(c.id);
                if (st != stage_at_.end() && st->second->restart == rill::restart::temporary)
                    at = &st->second->at;
            } else {
                const auto nested = supervisor_at_.find(c.id);
                if (nested != supervisor_at_.end()) {
                    const supervisor_decl& d = topo_.supervisors[nested->second];
                    if (d.restart == rill::restart::temporary) at = &d.at;
                }
            }
            if (at)
                errors_.push_back(
                    {*at, fmt::format("'{}' is temporary under {} supervisor '{}': a sibling's "
                                      "restart would drop it and leave its channels open; use "
                                      "transient, or a one_for_one supervisor",
                                      c.id, rill::to_string(sup.strategy), sup.id)});
        }
    }

    // Decodes n and its nested supervisors (preorder); false when n is unusable.
    bool decode_supervisor(const node& n, const schema::type_def& t, std::string_view fallback) {
        const auto& key = f_.supervisor_key;
        const auto* id = n.find(key.id.name);
        std::string name =
            id && id->value->kind == node::scalar ? id->value->text : std::string(fallback);
        if (!schema::check_object(n, t, fmt::format("supervisor '{}'", name), errors_))
            return false;
        std::size_t index = topo_.supervisors.size();
        topo_.supervisors.push_back({name});
        supervisor_decl& d = topo_.supervisors.back();
        d.at = id ? id->value->at : n.at;
        check_supervisor_id(name, d.at);
        if (auto v = field(n, key.strategy))
            d.strategy = strategy_from(get<std::string>(*v)).value();
        set(d.intensity, n, key.intensity);
        set(d.period, n, key.period);
        if (&t == &f_.child_supervisor)
            if (auto v = field(n, key.restart))
                d.restart = restart_from(get<std::string>(*v)).value();
        if (const auto* b = n.find(key.backoff.name))
            d.backoff = b->value->kind == node::null ? std::nullopt : decode_backoff(*b->value);
        const auto* children = n.find(key.children.name);
        if (!children) return true;
        std::vector<child_ref> refs = decode_children(*children->value, name);
        topo_.supervisors[index].children = std::move(refs);
        return true;
    }

    std::vector<child_ref> decode_children(const node& list, const std::string& parent) {
        std::vector<child_ref> refs;
        if (list.kind != node::sequence) {
            errors_.push_back({list.at, fmt::format("'children' must be {}, got {}",
                                                    f_.children.title, yaml::describe(list.kind))});
            return refs;
        }
        if (list.items.empty())
            errors_.push_back({list.at, fmt::format("supervisor '{}' has no children", parent)});
        for (const auto& item : list.items) {
            if (item->kind == node::mapping) {
                if (decode_supervisor(*item, f_.child_supervisor, ""))
                    refs.push_back({child_ref::supervisor, topo_.supervisors.back().id});
                continue;
            }
            if (item->kind != node::scalar) {
                errors_.push_back({item->at, fmt::format("expected {}, got {}", f_.child.title,
                                                         yaml::describe(item->kind))});
                continue;
            }
            if (place_stage(*item, parent)) refs.push_back({child_ref::stage, item->text});
        }
        return refs;
    }

    bool place_stage(const node& item, const std::string& parent) {
        const std::string& id = item.text;
        if (!stage_at_.count(id)) {
            if (!stage_keys_.count(id)) {
                std::vector<std::string> ids;
                for (const auto* e : stage_entries_)
                    ids.push_back(e->key);
                errors_.push_back(
                    {item.at, fmt::format("supervisor '{}' lists unknown stage '{}'", parent, id),
                     closest(id, ids)});
            }
            return false;
        }
        auto [where, fresh] = placed_.emplace(id, std::make_pair(parent, item.at));
        if (!fresh) {
            errors_.push_back(
                {item.at, fmt::format("stage '{}' is already under supervisor '{}' "
                                      "(line {})",
                                      id, where->second.first, where->second.second.line)});
            return false;
        }
        return true;
    }

    void check_supervisor_id(const std::string& id, const mark& at) {
        if (stage_at_.count(id))
            errors_.push_back({at, fmt::format("supervisor id '{}' is also a stage id", id)});
        auto [first, fresh] = supervisor_at_.emplace(id, topo_.supervisors.size() - 1);
        if (!fresh)
            errors_.push_back({at, fmt::format("duplicate supervisor id '{}' (first at line {})",
                                               id, topo_.supervisors[first->second].at.line)});
    }

    std::optional<rill::backoff> decode_backoff(const node& n) {
        if (!schema::check_object(n, f_.backoff, "backoff", errors_)) return std::nullopt;
        rill::backoff b;
        const auto& key = f_.backoff_key;
        set(b.initial, n, key.initial);
        set(b.max, n, key.max);
        set(b.factor, n, key.factor);
        set(b.jitter, n, key.jitter);
        set(b.reset_after, n, key.reset_after);
        return b;
    }

    load_result finish() {
        check_graph(topo_, reg_, unsure_, errors_);
        auto order = [&](const diagnostic& d) {
            auto f = file_order_.find(d.at.file);
            return std::make_tuple(f == file_order_.end() ? file_order_.size() : f->second,
                                   d.at.line, d.at.column);
        };
        std::stable_sort(
            errors_.begin(), errors_.end(),
            [&](const diagnostic& a, const diagnostic& b) { return order(a) < order(b); });
        // An aliased subtree is decoded wherever it is used: report its problems once.
        errors_.erase(std::unique(errors_.begin(), errors_.end()), errors_.end());
        load_result r;
        if (errors_.empty()) r.topo = std::move(topo_);
        r.errors = std::move(errors_);
        return r;
    }

    std::function<std::optional<std::string>(const std::string&)> read_file_;
    getenv_fn getenv_;
    const registry& reg_;
    int max_depth_;
    const schema::format& f_;
    errors_t errors_;
    topology topo_;
    std::vector<yaml::node_ptr> trees_;
    std::map<std::string, std::size_t> file_order_;
    // The files being read, outermost first, as named and as identified.
    struct open_file {
        std::string path, id;
    };
    std::vector<open_file> open_;
    std::set<std::string> read_ids_;
    std::vector<const yaml::entry*> channel_entries_, stage_entries_;
    // Lookups by name, so that loading is linear in the number of declarations.
    // Keys view the YAML trees' keys and the decoded names, which stay put once
    // indexed (the stages and channels are all decoded before indexing).
    entry_index channel_keys_, stage_keys_;
    std::unordered_map<std::string_view, const channel_decl*> channel_at_;
    std::unordered_map<std::string_view, const stage_decl*> stage_at_;
    std::unordered_map<std::string, std::size_t> supervisor_at_; // into topo_.supervisors
    std::map<std::string, std::pair<std::string, mark>> placed_;
    unsure_ends unsure_;
};

} // namespace

load_result load_file(const std::string& path, const load_options& opts) {
    return loader(opts).load(path, std::nullopt);
}

load_result load_string(std::string_view yaml, const std::string& name, const load_options& opts) {
    return loader(opts).load(name, yaml);
}

topology load_file_or_throw(const std::string& path, const load_options& opts) {
    load_result r = load_file(path, opts);
    if (!r.topo) throw topology_error(std::move(r.errors));
    return std::move(*r.topo);
}

} // namespace rill::config
