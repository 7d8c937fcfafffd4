// The `rill` command line: subcommands, their help, and check / graph /
// schema / stages. `run` is in run_command.cpp.
#include "format/scalars.hpp"
#include "run/run_command.hpp"
#include "test/test_command.hpp"

#include <rill/config/command.hpp>
#include <rill/config/graph.hpp>
#include <rill/config/loader.hpp>
#include <rill/config/registry.hpp>
#include <rill/config/runner.hpp>
#include <rill/net.hpp>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <spdlog/common.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <iostream>
#include <iterator>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rill::config {
namespace {

constexpr std::string_view version = RILL_VERSION;

// What every subcommand sees: the program's name and its arguments.
struct invocation {
    std::string program;
    std::vector<std::string> args; // after the subcommand's name
};

struct subcommand {
    std::string_view name;
    std::string_view synopsis; // after "<program> <name>"
    std::string_view summary;
    std::string_view details; // printed after the usage line by --help
    int (*fn)(const invocation&);
};

int check(const invocation& inv);
int graph(const invocation& inv);
int run(const invocation& inv);
int schema(const invocation& inv);
int stages(const invocation& inv);
int test(const invocation& inv);

constexpr subcommand subcommands[] = {
    {"check", "FILE [--format text|json]", "validate a topology and report every problem in it",
     "Loads FILE (with its includes; - reads standard input), checks it against the\n"
     "format and the registered stages, and prints every problem.\n"
     "\n"
     "options:\n"
     "  --format text  (default) each problem on stderr as FILE:LINE:COLUMN: error:\n"
     "                 MESSAGE, and FILE: ok (...) on stdout when there is none\n"
     "  --format json  one JSON object on stdout, for editors and CI annotations:\n"
     "                 {\"file\", \"valid\", \"diagnostics\": [{\"file\", \"line\",\n"
     "                 \"column\", \"severity\", \"message\", \"suggestion\"}]}\n"
     "Exit status: 0 valid, 1 problems found, 2 usage error.\n",
     check},
    {"graph", "FILE [--format dot|mermaid|ascii]", "draw a topology",
     "Prints FILE (- reads standard input) as a graph on stdout: stages as nodes,\n"
     "channels as edges labelled with their type and capacity, supervisors as\n"
     "nested groups.\n"
     "\n"
     "options:\n"
     "  --format dot      (default) Graphviz:\n"
     "                    rill graph pipeline.yaml | dot -Tsvg > pipeline.svg\n"
     "  --format mermaid  a Mermaid flowchart, for Markdown (GitHub renders it)\n"
     "  --format ascii    plain text for a terminal: the supervision tree, then\n"
     "                    the channels\n"
     "Exit status: 0, 1 if FILE has problems (printed as by check), 2 usage error.\n",
     graph},
    {"run", "FILE [--grace DURATION] [--log-level LEVEL] [--log-format text|json] [--http ADDR]",
     "run a topology, supervised, until it finishes or is signalled",
     "Checks FILE, then runs it: one channel per declared channel, each stage's\n"
     "workers under the supervisors the file nests them in. It ends when every stage\n"
     "has finished (the sources ran dry and everything downstream drained).\n"
     "\n"
     "options:\n"
     "  --grace DURATION   how long a drain may take before every stage is stopped\n"
     "                     (e.g. 30s; default: the file's runtime.grace, else 10s)\n"
     "  --log-level LEVEL  trace, debug, info (default), warn, error, critical or off,\n"
     "                     in any case\n"
     "  --log-format FMT   text (default), or json: each log line one JSON object\n"
     "                     with time, level, logger, message, and the stage,\n"
     "                     supervisor and child it is about where there is one\n"
     "  --http IP:PORT     serve the admin endpoint there (e.g. 127.0.0.1:9090):\n"
     "                     /metrics (Prometheus), /healthz, /readyz (200 once every\n"
     "                     stage has started, 503 while starting or draining),\n"
     "                     /debug/goroutines\n"
     "\n"
     "signals:\n"
     "  SIGINT, SIGTERM    the first drains: the sources stop, and everything already\n"
     "                     read flows through to the sinks before the command exits;\n"
     "                     a second one stops every stage at once\n"
     "  SIGQUIT            prints the supervision tree, channel fill levels and every\n"
     "                     goroutine to stderr; the run goes on\n"
     "\n"
     "exit status:\n"
     "  0  completed, or drained in time    4  the drain outran its grace period\n"
     "  1  FILE has problems (nothing ran)  5  stopped by a second signal\n"
     "  2  usage error                      6  a stage failed to start\n"
     "  3  a supervisor gave up (a stage kept failing past its restart intensity)\n",
     run},
    {"schema", "", "print the JSON Schema of topology files",
     "Prints the JSON Schema (draft 2020-12) of topology files, with the registered\n"
     "stages' names, ports and arguments, for editors to complete and check with.\n",
     schema},
    {"stages", "", "list the registered stages with their ports and arguments",
     "Lists every registered stage: what it does, its input and output ports with\n"
     "their element types, and its arguments with their types and defaults.\n",
     stages},
    {"test", "PATH [--log-level LEVEL]", "run the unit tests of topologies (*.test.yaml)",
     "Runs the tests in PATH: a test file, or a directory searched recursively for\n"
     "*.test.yaml files. Each test runs some stages of the topology beside it with\n"
     "their real functions and arguments, feeds their input channels values from\n"
     "the test, and checks what comes out of their output channels (count, equals,\n"
     "regex, record fields). See docs/testing.md.\n"
     "\n"
     "Prints one line per test (FILE: NAME: ok, or FILE:LINE:COLUMN: NAME: FAILED\n"
     "followed by each failure at the condition that failed), then a summary line.\n"
     "\n"
     "options:\n"
     "  --log-level LEVEL  as for run; default warn\n"
     "\n"
     "Exit status: 0 all passed, 1 a test failed, 2 usage error or no test file,\n"
     "3 a test file (or the topology it tests) is invalid.\n",
     test},
};

std::string program_name(const char* argv0) {
    std::string_view p = argv0 && *argv0 ? argv0 : "rill";
    return std::string(p.substr(p.rfind('/') + 1));
}

void print_usage(std::ostream& os, const std::string& program) {
    fmt::print(os, "usage: {} COMMAND [ARG...]\n\n", program);
    fmt::print(os, "Checks, draws, runs and tests rill topologies: channels, stages and\n"
                   "supervisors declared in YAML.\n\ncommands:\n");
    for (const auto& c : subcommands)
        fmt::print(os, "  {:<8} {}\n", c.name, c.summary);
    fmt::print(os,
               "\noptions:\n"
               "  -h, --help  this help; `{0} COMMAND --help` describes a command\n"
               "  --version   the version\n"
               "\nExit status: 0 success, 1 the topology has problems, 2 usage error; see\n"
               "`{0} run --help` and `{0} test --help` for the exit status of those.\n",
               program);
}

void print_help(std::ostream& os, const std::string& program, const subcommand& c) {
    std::string summary(c.summary);
    summary[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(summary[0])));
    fmt::print(os, "usage: {} {}{}{}\n\n{}.\n\n{}", program, c.name, c.synopsis.empty() ? "" : " ",
               c.synopsis, summary, c.details);
}

int usage_error(const invocation& inv, std::string_view command, std::string_view what) {
    fmt::print(std::cerr, "{}: {}\ntry '{} {}--help'\n", inv.program, what, inv.program,
               command.empty() ? std::string() : std::string(command) + " ");
    return 2;
}

// What check, graph and run take: one FILE (- is standard input for check
// and graph) and options that each take a value, `--name VALUE`.
struct file_and_options {
    std::string file;
    std::map<std::string, std::string, std::less<>> values; // the last of each
    std::string value_or(std::string_view option, std::string fallback) const {
        auto it = values.find(option);
        return it == values.end() ? fallback : it->second;
    }
};

// The arguments, or nullopt when they are not what `command` takes (the
// usage error is printed).
std::optional<file_and_options> parse_args(const invocation& inv, std::string_view command,
                                           std::initializer_list<std::string_view> options) {
    file_and_options out;
    bool have_file = false;
    for (std::size_t i = 0; i < inv.args.size(); ++i) {
        const std::string& a = inv.args[i];
        if (std::find(options.begin(), options.end(), a) != options.end()) {
            if (i + 1 == inv.args.size()) {
                usage_error(inv, command, a + " needs a value");
                return std::nullopt;
            }
            out.values[a] = inv.args[++i];
        } else if (a.starts_with("-") && a != "-") {
            usage_error(inv, command, "unknown option '" + a + "'");
            return std::nullopt;
        } else if (have_file) {
            usage_error(inv, command, "expected one FILE, got '" + out.file + "' and '" + a + "'");
            return std::nullopt;
        } else {
            out.file = a;
            have_file = true;
        }
    }
    if (!have_file) {
        usage_error(inv, command, "missing FILE");
        return std::nullopt;
    }
    return out;
}

// FILE loaded, or standard input for "-" (named <stdin> in diagnostics; its
// includes are found from the working directory).
struct loaded_input {
    std::string name;
    load_result result;
};
loaded_input load_input(const std::string& file) {
    if (file != "-") return {file, load_file(file)};
    std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    return {"<stdin>", load_string(text, "<stdin>")};
}

// The topology in file, or every problem printed to stderr.
std::optional<topology> load_or_report(const std::string& file) {
    auto in = load_input(file);
    for (const auto& d : in.result.errors)
        std::cerr << format(d) << '\n';
    return std::move(in.result.topo);
}

int check(const invocation& inv) {
    auto a = parse_args(inv, "check", {"--format"});
    if (!a) return 2;
    std::string format_name = a->value_or("--format", "text");
    if (format_name != "text" && format_name != "json")
        return usage_error(inv, "check",
                           "--format: expected text or json, got '" + format_name + "'");
    if (format_name == "json") {
        auto in = load_input(a->file);
        std::cout << to_json(in.name, in.result.errors);
        return in.result.topo ? 0 : 1;
    }
    auto topo = load_or_report(a->file);
    if (!topo) return 1;
    fmt::print(std::cout, "{}: ok ({} channels, {} stages, {} supervisors)\n",
               a->file == "-" ? "<stdin>" : a->file, topo->channels.size(), topo->stages.size(),
               topo->supervisors.size());
    return 0;
}

int graph(const invocation& inv) {
    auto a = parse_args(inv, "graph", {"--format"});
    if (!a) return 2;
    std::string format_name = a->value_or("--format", "dot");
    auto format = parse_graph_format(format_name);
    if (!format)
        return usage_error(inv, "graph",
                           "--format: expected dot, mermaid or ascii, got '" + format_name + "'");
    auto topo = load_or_report(a->file);
    if (!topo) return 1;
    std::cout << to_graph(*topo, *format);
    return 0;
}

int schema(const invocation& inv) {
    if (!inv.args.empty()) return usage_error(inv, "schema", "schema takes no arguments");
    std::cout << json_schema();
    return 0;
}

// An argument's default as a topology file would spell it.
std::string to_text(const arg_value& v) {
    struct spell {
        std::string operator()(bool b) const { return b ? "true" : "false"; }
        std::string operator()(std::int64_t i) const { return std::to_string(i); }
        std::string operator()(double d) const { return scalars::format_number(d); }
        std::string operator()(const std::string& s) const { return fmt::format("'{}'", s); }
        std::string operator()(std::chrono::nanoseconds d) const {
            return scalars::format_duration(d);
        }
        std::string operator()(byte_size s) const { return scalars::format_size(s); }
        std::string operator()(const std::vector<std::string>& l) const {
            return l.empty() ? "[]" : fmt::format("['{}']", fmt::join(l, "', '"));
        }
    };
    return std::visit(spell{}, v);
}

void print_ports(std::ostream& os, std::string_view direction, const std::vector<port_spec>& ps) {
    for (const auto& p : ps)
        fmt::print(os, "    {:<4} {} ({}){}{}\n", direction, p.name, port_type_text(p),
                   p.help.empty() ? "" : ": ", p.help);
}

int stages(const invocation& inv) {
    if (!inv.args.empty()) return usage_error(inv, "stages", "stages takes no arguments");
    for (const stage_spec* s : registry::global().all()) {
        fmt::print(std::cout, "{}\n", s->name);
        if (!s->help.empty()) fmt::print(std::cout, "    {}\n", s->help);
        print_ports(std::cout, "in", s->inputs);
        print_ports(std::cout, "out", s->outputs);
        for (const auto& a : s->args) {
            std::string def = a.default_value ? "= " + to_text(*a.default_value) : "(required)";
            std::string choices =
                a.choices.empty() ? "" : fmt::format(" (one of {})", fmt::join(a.choices, ", "));
            fmt::print(std::cout, "    arg  {}: {} {}{}{}{}\n", a.name, to_string(a.type), def,
                       choices, a.help.empty() ? "" : ": ", a.help);
        }
        std::cout << '\n';
    }
    return 0;
}

// A --log-level value, in any case; none when it is no level's name.
std::optional<spdlog::level::level_enum> parse_log_level(std::string level) {
    for (char& c : level)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto l = spdlog::level::from_str(level);
    if (l == spdlog::level::off && level != "off") return std::nullopt;
    return l;
}

int run(const invocation& inv) {
    auto a = parse_args(inv, "run", {"--grace", "--log-level", "--log-format", "--http"});
    if (!a) return 2;
    run_command_options opts;
    if (auto it = a->values.find("--grace"); it != a->values.end()) {
        auto grace = scalars::duration(it->second);
        if (!grace || grace.value->count() <= 0)
            return usage_error(inv, "run",
                               "--grace: " + (grace ? "must be more than 0" : grace.error));
        opts.grace = grace.value;
    }
    if (auto it = a->values.find("--log-level"); it != a->values.end()) {
        opts.log_level = parse_log_level(it->second);
        if (!opts.log_level)
            return usage_error(inv, "run", "unknown log level '" + it->second + "'");
    }
    std::string log_format = a->value_or("--log-format", "text");
    if (log_format != "text" && log_format != "json")
        return usage_error(inv, "run",
                           "--log-format: expected text or json, got '" + log_format + "'");
    opts.json_logs = log_format == "json";
    if (auto it = a->values.find("--http"); it != a->values.end()) {
        if (!net::address::parse(it->second))
            return usage_error(inv, "run",
                               "--http: expected IP:PORT with a numeric IP (127.0.0.1:9090, "
                               "[::1]:9090), got '" +
                                   it->second + "'");
        opts.http = it->second;
    }
    return run_command(a->file, opts);
}

int test(const invocation& inv) {
    auto a = parse_args(inv, "test", {"--log-level"});
    if (!a) return 2;
    std::string level = a->value_or("--log-level", "warn");
    auto log_level = parse_log_level(level);
    if (!log_level) return usage_error(inv, "test", "unknown log level '" + level + "'");
    return test_command(a->file, *log_level);
}

bool wants_help(const std::string& a) { return a == "-h" || a == "--help"; }

} // namespace

int command_main(int argc, char** argv) {
    invocation inv{program_name(argc > 0 ? argv[0] : nullptr), {}};
    std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
    if (args.empty()) return usage_error(inv, "", "missing COMMAND");
    if (wants_help(args[0]) || args[0] == "help") {
        print_usage(std::cout, inv.program);
        return 0;
    }
    if (args[0] == "--version") {
        fmt::print(std::cout, "{} (rill) {}\n", inv.program, version);
        return 0;
    }
    for (const auto& c : subcommands) {
        if (c.name != args[0]) continue;
        inv.args.assign(args.begin() + 1, args.end());
        for (const auto& a : inv.args)
            if (wants_help(a)) {
                print_help(std::cout, inv.program, c);
                return 0;
            }
        // No input may abort the program: a file that needs more memory than
        // there is ends with a message and a failure status instead.
        try {
            return c.fn(inv);
        } catch (const std::bad_alloc&) {
            fmt::print(std::cerr, "{} {}: out of memory\n", inv.program, c.name);
            return 1;
        }
    }
    return usage_error(inv, "", "unknown command '" + args[0] + "'");
}

} // namespace rill::config
