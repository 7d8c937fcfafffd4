// The stage registry and the stage_def builder. add() rejects specs the
// loader could not check against (unknown port types, defaults of the wrong
// type or outside their own constraints) so that mistakes in C++ registration
// show at startup, not as confusing topology errors. The registry is the
// stages' declarations (names, ports, argument schemas), all the loader needs;
// registry::global(), which fills it with the built-in stages' functions, is
// in stages/builtin.cpp, so that the format half knows nothing of running.
#include "format/regex_limits.hpp"

#include <rill/config/registry.hpp>
#include <rill/sync.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <stdexcept>

namespace rill::config {

const char* to_string(arg_type t) noexcept {
    switch (t) {
    case arg_type::boolean:
        return "bool";
    case arg_type::integer:
        return "int";
    case arg_type::number:
        return "float";
    case arg_type::string:
        return "string";
    case arg_type::duration:
        return "duration";
    case arg_type::size:
        return "size";
    case arg_type::regex:
        return "regex";
    case arg_type::string_list:
        return "string list";
    }
    return "?";
}

namespace {

template <class Spec> const Spec* find_named(const std::vector<Spec>& v, std::string_view n) {
    auto it = std::find_if(v.begin(), v.end(), [&](const Spec& s) { return s.name == n; });
    return it == v.end() ? nullptr : &*it;
}

// The arg_value alternative an arg_type holds (regex: its pattern, a string).
std::size_t value_index(arg_type t) {
    switch (t) {
    case arg_type::boolean:
        return 0;
    case arg_type::integer:
        return 1;
    case arg_type::number:
        return 2;
    case arg_type::string:
    case arg_type::regex:
        return 3;
    case arg_type::duration:
        return 4;
    case arg_type::size:
        return 5;
    case arg_type::string_list:
        return 6;
    }
    return std::variant_npos;
}

// The quantity min/max bound: integers and numbers as they are, durations in
// seconds, sizes in bytes; none for the other types.
std::optional<double> magnitude(const arg_value& v) {
    if (auto* i = std::get_if<std::int64_t>(&v)) return double(*i);
    if (auto* d = std::get_if<double>(&v)) return *d;
    if (auto* n = std::get_if<std::chrono::nanoseconds>(&v))
        return std::chrono::duration<double>(*n).count();
    if (auto* b = std::get_if<byte_size>(&v)) return double(b->bytes);
    return std::nullopt;
}

void check_ports(const std::string& stage, const std::vector<port_spec>& ports,
                 const char* direction) {
    std::set<std::string_view> seen;
    for (const auto& p : ports) {
        if (p.name.empty())
            throw std::invalid_argument(stage + ": a " + direction + " port has no name");
        if (!seen.insert(p.name).second)
            throw std::invalid_argument(stage + ": duplicate " + direction + " port '" + p.name +
                                        "'");
        if (p.type != type_param && !find_type(p.type))
            throw std::invalid_argument(stage + ": " + direction + " port '" + p.name +
                                        "' has unknown type '" + p.type + "'");
    }
}

void check_arg(const std::string& stage, const arg_spec& a) {
    auto fail = [&](const std::string& why) {
        throw std::invalid_argument(stage + ": argument '" + a.name + "': " + why);
    };
    bool bounded = a.type == arg_type::integer || a.type == arg_type::number ||
                   a.type == arg_type::duration || a.type == arg_type::size;
    if ((a.min || a.max) && !bounded)
        fail(std::string("min/max do not apply to ") + to_string(a.type));
    if (!a.choices.empty() && a.type != arg_type::string)
        fail("choices apply to string arguments only");
    if (!a.default_value) return;
    const arg_value& d = *a.default_value;
    if (d.index() != value_index(a.type))
        fail(std::string("the default is not of the declared type ") + to_string(a.type));
    if (auto m = magnitude(d); m && ((a.min && *m < *a.min) || (a.max && *m > *a.max)))
        fail("the default is outside min/max");
    if (!a.choices.empty() &&
        std::find(a.choices.begin(), a.choices.end(), std::get<std::string>(d)) == a.choices.end())
        fail("the default is not one of the choices");
    if (a.type == arg_type::regex) {
        if (auto why = regex_refusal(std::get<std::string>(d)))
            fail("the default is not a valid regular expression: " + *why);
        try {
            std::regex re(std::get<std::string>(d), std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
            fail(std::string("the default is not a valid regular expression: ") + e.what());
        }
    }
}

void check_spec(const stage_spec& s) {
    if (s.name.empty()) throw std::invalid_argument("rill::config: a stage has no name");
    if (!s.fn) throw std::invalid_argument(s.name + ": no stage function");
    check_ports(s.name, s.inputs, "input");
    check_ports(s.name, s.outputs, "output");
    std::set<std::string_view> seen;
    for (const auto& a : s.args) {
        if (a.name.empty()) throw std::invalid_argument(s.name + ": an argument has no name");
        if (!seen.insert(a.name).second)
            throw std::invalid_argument(s.name + ": duplicate argument '" + a.name + "'");
        check_arg(s.name, a);
    }
}

} // namespace

const port_spec* stage_spec::find_input(std::string_view n) const noexcept {
    return find_named(inputs, n);
}
const port_spec* stage_spec::find_output(std::string_view n) const noexcept {
    return find_named(outputs, n);
}
const arg_spec* stage_spec::find_arg(std::string_view n) const noexcept {
    return find_named(args, n);
}

stage_def::stage_def(std::string name, stage_fn fn) {
    spec_.name = std::move(name);
    spec_.fn = std::move(fn);
}

stage_def& stage_def::help(std::string text) {
    spec_.help = std::move(text);
    return *this;
}

stage_def& stage_def::input_any(std::string name, std::string help) {
    return port(spec_.inputs, std::move(name), std::string(type_param), std::move(help));
}

stage_def& stage_def::output_any(std::string name, std::string help) {
    return port(spec_.outputs, std::move(name), std::string(type_param), std::move(help));
}

stage_def& stage_def::port(std::vector<port_spec>& ports, std::string name, std::string type,
                           std::string help) {
    ports.push_back({std::move(name), std::move(type), false, std::move(help)});
    last_ports_ = &ports;
    return *this;
}

stage_def& stage_def::optional() {
    if (!last_ports_) throw std::logic_error(spec_.name + ": optional() before any port");
    last_ports_->back().optional = true;
    return *this;
}

stage_def& stage_def::needs_codec() {
    if (!last_ports_) throw std::logic_error(spec_.name + ": needs_codec() before any port");
    last_ports_->back().needs_codec = true;
    return *this;
}

std::string port_type_text(const port_spec& p) {
    return p.type + (p.needs_codec ? " with a codec" : "") + (p.optional ? ", optional" : "");
}

stage_def& stage_def::add_arg(std::string name, arg_type t, std::optional<arg_value> def,
                              std::string help) {
    spec_.args.push_back({std::move(name), t, std::move(def), std::move(help)});
    return *this;
}

stage_def& stage_def::regex_arg(std::string name, std::optional<std::string> default_value,
                                std::string help) {
    std::optional<arg_value> def;
    if (default_value) def = arg_value(std::move(*default_value));
    return add_arg(std::move(name), arg_type::regex, std::move(def), std::move(help));
}

namespace {
arg_spec& last_arg(stage_spec& s) {
    if (s.args.empty()) throw std::logic_error(s.name + ": a constraint before any argument");
    return s.args.back();
}
} // namespace

stage_def& stage_def::min(double v) {
    last_arg(spec_).min = v;
    return *this;
}

stage_def& stage_def::max(double v) {
    last_arg(spec_).max = v;
    return *this;
}

stage_def& stage_def::choices(std::vector<std::string> values) {
    last_arg(spec_).choices = std::move(values);
    return *this;
}

stage_spec stage_def::build() && { return std::move(spec_); }

struct registry::impl {
    mutable rill::mutex mu; // goroutines look stages up (see rill/sync.hpp)
    // Node-based, so the pointers find() and all() hand out stay valid.
    std::map<std::string, stage_spec, std::less<>> stages;
};

registry::registry() : impl_(std::make_shared<impl>()) {}

void registry::add(stage_spec s) {
    check_spec(s);
    std::lock_guard lock(impl_->mu);
    if (impl_->stages.count(s.name))
        throw std::invalid_argument("rill::config: stage '" + s.name + "' is already registered");
    std::string name = s.name;
    impl_->stages.emplace(std::move(name), std::move(s));
}

const stage_spec* registry::find(std::string_view name) const {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->stages.find(name);
    return it == impl_->stages.end() ? nullptr : &it->second;
}

std::vector<std::string> registry::names() const {
    std::lock_guard lock(impl_->mu);
    std::vector<std::string> out;
    for (const auto& [name, s] : impl_->stages)
        out.push_back(name);
    return out;
}

std::vector<const stage_spec*> registry::all() const {
    std::lock_guard lock(impl_->mu);
    std::vector<const stage_spec*> out;
    for (const auto& [name, s] : impl_->stages)
        out.push_back(&s);
    return out;
}

} // namespace rill::config
