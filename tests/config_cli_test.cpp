// End-to-end tests of the `rill` command and the pipeline example: the
// built programs are run as child processes (RILL_CLI_PATH, RILL_PIPELINE_PATH
// come from tests/CMakeLists.txt) on topology files written here, and their
// exit status, messages and outputs are checked. Signals are sent only once
// the child has shown, in its output, that it reached the state under test,
// so nothing depends on timing.
#include "scratch_dir.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <arpa/inet.h>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

using rill_test::child_result;
using rill_test::contains;
using rill_test::scratch_dir;
using rill_test::soon;

namespace {

const std::string source_dir = RILL_SOURCE_DIR;
const std::string example = source_dir + "/examples/pipeline/pipeline.yaml";

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

rill_test::process start(const std::string& program, std::vector<std::string> args,
                         const std::map<std::string, std::string>& env = {}) {
    args.insert(args.begin(), program);
    return rill_test::start_process(program, std::move(args), env);
}

child_result run(const std::string& program, std::vector<std::string> args,
                 const std::map<std::string, std::string>& env = {}) {
    return rill_test::wait_process(start(program, std::move(args), env));
}

child_result rill_cmd(std::vector<std::string> args) { return run(RILL_CLI_PATH, std::move(args)); }

// One JSON object whose values are all strings, as a map; nullopt if line is
// anything else or not valid JSON (a strict reader of the escapes JSON has).
std::optional<std::map<std::string, std::string>> json_object_of_strings(std::string_view line) {
    std::size_t i = 0;
    auto ws = [&] {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
    };
    auto str = [&]() -> std::optional<std::string> {
        if (i >= line.size() || line[i] != '"') return std::nullopt;
        std::string out;
        for (++i; i < line.size(); ++i) {
            char c = line[i];
            if (c == '"') {
                ++i;
                return out;
            }
            if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (++i == line.size()) return std::nullopt;
            switch (line[i]) {
            case '"':
                out += '"';
                break;
            case '\\':
                out += '\\';
                break;
            case '/':
                out += '/';
                break;
            case 'n':
                out += '\n';
                break;
            case 't':
                out += '\t';
                break;
            case 'r':
                out += '\r';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'u':
                if (i + 4 >= line.size() || line.substr(i + 1, 4).find_first_not_of(
                                                "0123456789abcdefABCDEF") != std::string_view::npos)
                    return std::nullopt;
                out += '?';
                i += 4;
                break;
            default:
                return std::nullopt;
            }
        }
        return std::nullopt;
    };
    std::map<std::string, std::string> out;
    ws();
    if (i >= line.size() || line[i++] != '{') return std::nullopt;
    for (bool first = true;; first = false) {
        ws();
        if (first && i < line.size() && line[i] == '}') break;
        auto k = str();
        ws();
        if (!k || i >= line.size() || line[i++] != ':') return std::nullopt;
        ws();
        auto v = str();
        if (!v) return std::nullopt;
        out[*k] = *v;
        ws();
        if (i < line.size() && line[i] == ',') {
            ++i;
            continue;
        }
        if (i < line.size() && line[i] == '}') break;
        return std::nullopt;
    }
    ++i;
    ws();
    if (i != line.size()) return std::nullopt;
    return out;
}

// "channels: ticks sent 12, left 0; ..." in a run's log: channel -> sent.
std::uint64_t sent_on(const std::string& log, const std::string& channel) {
    std::smatch m;
    REQUIRE(std::regex_search(log, m, std::regex(channel + " sent ([0-9]+), left ([0-9]+)")));
    return std::stoull(m[1]);
}

} // namespace

TEST_CASE("rill: --help, --version and usage errors", "[config][cli]") {
    auto help = rill_cmd({"--help"});
    CHECK(help.exited_with(0));
    CHECK(contains(help.output, "usage: rill COMMAND"));
    for (const char* c : {"check", "graph", "run", "schema", "stages", "test"})
        CHECK(contains(help.output, std::string("  ") + c));

    for (const char* c : {"check", "graph", "run", "schema", "stages", "test"}) {
        auto r = rill_cmd({c, "--help"});
        CHECK(r.exited_with(0));
        CHECK(contains(r.output, std::string("usage: rill ") + c));
    }
    CHECK(contains(rill_cmd({"run", "-h"}).output, "SIGTERM"));

    auto version = rill_cmd({"--version"});
    CHECK(version.exited_with(0));
    CHECK(contains(version.output, "rill"));

    CHECK(rill_cmd({}).exited_with(2));
    CHECK(rill_cmd({"frobnicate"}).exited_with(2));
    CHECK(rill_cmd({"check"}).exited_with(2));
    CHECK(rill_cmd({"check", "a.yaml", "b.yaml"}).exited_with(2));
    CHECK(rill_cmd({"schema", "extra"}).exited_with(2));
    CHECK(rill_cmd({"run", "x.yaml", "--bogus"}).exited_with(2));
    auto grace = rill_cmd({"run", "x.yaml", "--grace", "5"});
    CHECK(grace.exited_with(2));
    CHECK(contains(grace.output, "unit"));
    CHECK(rill_cmd({"run", "x.yaml", "--log-level", "loud"}).exited_with(2));
}

TEST_CASE("rill check: every problem, with file:line:column", "[config][cli]") {
    scratch_dir dir;
    std::string file = dir.file("broken.yaml", "channels:\n"
                                               "  lines: {type: string, capacity: 8}\n"
                                               "stages:\n"
                                               "  read:\n"
                                               "    stage: read_line\n"
                                               "    out: lines\n"
                                               "  print:\n"
                                               "    stage: write_lines\n"
                                               "    in: lines\n"
                                               "    shutdown: soon\n");
    auto r = rill_cmd({"check", file});
    INFO(r.output);
    CHECK(r.exited_with(1));
    CHECK(contains(r.output, file + ":5:12: error: "));
    CHECK(contains(r.output, "did you mean 'read_lines'?"));
    CHECK(contains(r.output, file + ":10:15: error: "));
    CHECK_FALSE(contains(r.output, ": ok"));

    auto missing = rill_cmd({"check", dir.file("none.yaml").append(".gone")});
    CHECK(missing.exited_with(1));
    CHECK(contains(missing.output, "none.yaml.gone"));

    // The example's own stages are not in plain `rill`.
    auto plain = rill_cmd({"check", example});
    CHECK(plain.exited_with(1));
    CHECK(contains(plain.output, "parse_access_log"));
}

namespace {
// A valid chain of n + 1 stages over n channels: generate -> grep x (n-1) ->
// write_lines, about 10 YAML nodes per stage.
std::string chain_text(int n) {
    std::string text = "channels:\n";
    for (int i = 0; i < n; ++i)
        text += fmt::format("  c{}: string\n", i);
    text += "stages:\n  s0: {stage: generate, out: c0}\n";
    for (int i = 1; i < n; ++i)
        text += fmt::format("  s{}: {{stage: grep, in: c{}, out: c{}, args: {{pattern: x}}}}\n", i,
                            i - 1, i);
    text += fmt::format("  s{}: {{stage: write_lines, in: c{}}}\n", n, n - 1);
    return text;
}
} // namespace

// Some 600,000 YAML nodes, under the 1,000,000-node limit: the checks must
// not recurse once per stage (a stack overflow) nor look names up linearly.
TEST_CASE("rill check: a chain of 60,000 stages", "[config][cli]") {
    constexpr int n = 60'000;
    scratch_dir dir;
    std::string file = dir.file("chain.yaml", chain_text(n));
    auto r = rill_cmd({"check", file});
    INFO(r.output.substr(0, 2000));
    CHECK(r.exited_with(0));
    CHECK(r.output ==
          fmt::format("{}: ok ({} channels, {} stages, 1 supervisors)\n", file, n, n + 1));
}

// The graph visits every child of the root supervisor, looking each up by
// id: with topology::find_stage, a linear search, that took 15 s of CPU here.
TEST_CASE("rill graph: a chain of 60,000 stages, every stage and channel drawn once",
          "[config][cli]") {
    constexpr int n = 60'000;
    scratch_dir dir;
    auto r = rill_cmd({"graph", dir.file("chain.yaml", chain_text(n))});
    CHECK(r.exited_with(0));
    std::size_t nodes = 0, edges = 0;
    for (std::size_t at = 0; (at = r.output.find("[label=\"s", at)) != std::string::npos; ++at)
        ++nodes;
    for (std::size_t at = 0; (at = r.output.find(" -> ", at)) != std::string::npos; ++at)
        ++edges;
    CHECK(nodes == n + 1);
    CHECK(edges == n);
    CHECK(contains(r.output, fmt::format("\"stage:s{}\" -> \"stage:s{}\" [label=\"c{}: string",
                                         n - 1, n, n - 1)));
}

// Under 1 GiB of address space (not with a sanitizer, whose shadow memory
// needs far more), so that a search of quadratic memory would abort.
TEST_CASE("rill check: a 16,000-character near-miss name gets no suggestion", "[config][cli]") {
    // An explicit key (?), as a plain one is at most 1024 characters long.
    std::string declared(16'000, 'a'), used = declared;
    used.back() = 'b';
    scratch_dir dir;
    std::string file =
        dir.file("long.yaml", fmt::format("channels:\n  ? {}\n  : string\nstages:\n"
                                          "  gen: {{stage: generate, out: {}}}\n"
                                          "  print: {{stage: write_lines, in: {}}}\n",
                                          declared, used, declared));
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    std::string limit;
#else
    std::string limit = "ulimit -v 1048576; ";
#endif
    auto r = run("/bin/sh", {"-c", limit + "exec \"$0\" check \"$1\"", RILL_CLI_PATH, file});
    INFO(r.output.substr(0, 2000));
    CHECK(r.exited_with(1));
    CHECK(contains(r.output, file + ":5:"));
    CHECK(contains(r.output, "unknown channel"));
    CHECK_FALSE(contains(r.output, "did you mean"));
}

TEST_CASE("rill check: an unreadable file or include, with the OS's reason", "[config][cli]") {
    scratch_dir dir;
    std::string top = dir.file("top.yaml", "include: sub\n");
    std::filesystem::create_directory(std::filesystem::path(top).parent_path() / "sub");
    std::string sub = (std::filesystem::path(top).parent_path() / "sub").string();
    auto as_file = rill_cmd({"check", sub});
    INFO(as_file.output);
    CHECK(as_file.exited_with(1));
    CHECK(contains(as_file.output, "cannot read the file: Is a directory"));
    auto as_include = rill_cmd({"check", top});
    INFO(as_include.output);
    CHECK(as_include.exited_with(1));
    CHECK(contains(as_include.output,
                   top + ":1:10: error: cannot read included file '" + sub + "': Is a directory"));
    auto missing = rill_cmd({"check", sub + ".yaml"});
    CHECK(contains(missing.output, "cannot read the file: No such file or directory"));
}

TEST_CASE("rill check: a file that includes itself, named differently, is one cycle",
          "[config][cli]") {
    scratch_dir dir;
    std::string file = dir.file("x.yaml", "include: x.yaml\n"
                                          "channels: {ticks: string}\n"
                                          "stages:\n"
                                          "  gen: {stage: generate, out: ticks}\n"
                                          "  print: {stage: write_lines, in: ticks}\n");
    auto dotted = (std::filesystem::path(file).parent_path() / "." / "x.yaml").string();
    auto r = rill_cmd({"check", dotted});
    INFO(r.output);
    CHECK(r.exited_with(1));
    CHECK(lines_of(r.output) == std::vector<std::string>{dotted + ":1:10: error: include cycle: " +
                                                         dotted + " -> " + file});
}

// tests/check_corpus: each NAME.yaml with NAME.expected, the exact output of
// `rill check` on it (paths relative to the corpus). The fuzz stage of
// scripts/test.sh seeds from the same files.
TEST_CASE("rill check: the check corpus gives its expected output", "[config][cli]") {
    const std::filesystem::path corpus = source_dir + "/tests/check_corpus";
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(corpus))
        if (e.path().extension() == ".yaml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() >= 10);
    for (const auto& f : files) {
        auto expected = read_file(std::filesystem::path(f).replace_extension(".expected"));
        auto r = rill_cmd({"check", f.string()});
        std::string output = r.output, prefix = corpus.string() + "/";
        for (auto at = output.find(prefix); at != std::string::npos; at = output.find(prefix))
            output.erase(at, prefix.size());
        INFO(f.filename().string() << ":\n" << output);
        CHECK(output == expected);
        CHECK(r.exited_with(expected.find(": ok (") == std::string::npos ? 1 : 0));
    }
}

TEST_CASE("rill check and graph on a valid topology", "[config][cli]") {
    scratch_dir dir;
    std::string file =
        dir.file("ok.yaml", "channels:\n"
                            "  ticks: string\n"
                            "stages:\n"
                            "  gen: {stage: generate, out: ticks, args: {count: 3}}\n"
                            "  print: {stage: write_lines, in: ticks}\n"
                            "supervisor:\n"
                            "  id: top\n"
                            "  children:\n"
                            "    - gen\n"
                            "    - {id: sinks, children: [print]}\n");
    auto check = rill_cmd({"check", file});
    CHECK(check.exited_with(0));
    CHECK(check.output == file + ": ok (1 channels, 2 stages, 2 supervisors)\n");

    auto graph = rill_cmd({"graph", file});
    CHECK(graph.exited_with(0));
    CHECK(graph.output.starts_with("digraph"));
    CHECK(contains(graph.output, "subgraph"));
    CHECK(contains(graph.output, "cluster_sinks"));
    CHECK(contains(graph.output, "ticks"));
}

// A supervisor inside the root, fan-out, two workers, and an id with the
// characters each notation must escape.
// A supervisor inside the root, fan-out and fan-in, two workers, and an id
// with the characters each notation must escape.
const char* const drawn_topology =
    "channels:\n"
    "  ticks: string\n"
    "  copy: {type: string, capacity: 8}\n"
    "  kept: string\n"
    "stages:\n"
    "  gen: {stage: generate, out: [ticks, copy], args: {count: 3}}\n"
    "  'we\"ird<x>#': {stage: grep, in: ticks, out: kept, workers: 2, args: {pattern: x}}\n"
    "  print: {stage: write_lines, in: [copy, kept]}\n"
    "supervisor:\n"
    "  id: top\n"
    "  children:\n"
    "    - gen\n"
    "    - {id: sinks, strategy: one_for_all, children: ['we\"ird<x>#', print]}\n";

TEST_CASE("rill graph --format: dot, mermaid and ascii draw the same topology", "[config][cli]") {
    scratch_dir dir;
    std::string file = dir.file("drawn.yaml", drawn_topology);
    auto dot = rill_cmd({"graph", file, "--format", "dot"});
    CHECK(dot.exited_with(0));
    CHECK(dot.output == rill_cmd({"graph", file}).output); // dot is the default
    CHECK(dot.output ==
          "digraph \"" + file +
              "\" {\n"
              "  rankdir=LR;\n"
              "  node [shape=box];\n"
              "  subgraph \"cluster_top\" {\n"
              "    label=\"top (one_for_one, 10 in 1m)\";\n"
              "    style=rounded;\n"
              "    \"stage:gen\" [label=\"gen\\ngenerate\"];\n"
              "    subgraph \"cluster_sinks\" {\n"
              "      label=\"sinks (one_for_all, 10 in 1m)\";\n"
              "      style=rounded;\n"
              "      \"stage:we\\\"ird<x>#\" [label=\"we\\\"ird<x>#\\ngrep x2\"];\n"
              "      \"stage:print\" [label=\"print\\nwrite_lines\"];\n"
              "    }\n"
              "  }\n"
              "  \"stage:gen\" -> \"stage:we\\\"ird<x>#\" [label=\"ticks: string [64]\"];\n"
              "  \"stage:gen\" -> \"stage:print\" [label=\"copy: string [8]\"];\n"
              "  \"stage:we\\\"ird<x>#\" -> \"stage:print\" [label=\"kept: string [64]\"];\n"
              "}\n");

    auto mermaid = rill_cmd({"graph", file, "--format", "mermaid"});
    CHECK(mermaid.exited_with(0));
    CHECK(mermaid.output == "flowchart LR\n"
                            "  subgraph g0[\"top (one_for_one, 10 in 1m)\"]\n"
                            "    s0[\"gen<br>generate\"]\n"
                            "    subgraph g1[\"sinks (one_for_all, 10 in 1m)\"]\n"
                            "      s1[\"we#quot;ird#lt;x#gt;#35;<br>grep x2\"]\n"
                            "      s2[\"print<br>write_lines\"]\n"
                            "    end\n"
                            "  end\n"
                            "  s0 -->|\"ticks: string [64]\"| s1\n"
                            "  s0 -->|\"copy: string [8]\"| s2\n"
                            "  s1 -->|\"kept: string [64]\"| s2\n");

    auto ascii = rill_cmd({"graph", "--format", "ascii", file});
    CHECK(ascii.exited_with(0));
    CHECK(ascii.output == "topology " + file +
                              "\n"
                              "  supervisor top (one_for_one, 10 in 1m)\n"
                              "    [gen] generate\n"
                              "    supervisor sinks (one_for_all, 10 in 1m)\n"
                              "      [we\"ird<x>#] grep x2\n"
                              "      [print] write_lines\n"
                              "channels\n"
                              "  [gen] --ticks: string [64]--> [we\"ird<x>#]\n"
                              "  [gen] --copy: string [8]--> [print]\n"
                              "  [we\"ird<x>#] --kept: string [64]--> [print]\n");

    auto bad = rill_cmd({"graph", file, "--format", "svg"});
    CHECK(bad.exited_with(2));
    CHECK(contains(bad.output, "--format: expected dot, mermaid or ascii, got 'svg'"));
    CHECK(rill_cmd({"graph", file, "--format"}).exited_with(2));
}

TEST_CASE("rill check and graph read standard input for -", "[config][cli]") {
    scratch_dir dir;
    std::string file = dir.file("drawn.yaml", drawn_topology);
    std::string broken = dir.file("broken.yaml", "stages:\n  x: {stage: grepp}\n");
    auto sh = [](const std::string& cmd) { return run("/bin/sh", {"-c", cmd}); };
    auto ok = sh(std::string(RILL_CLI_PATH) + " check - < " + file);
    CHECK(ok.exited_with(0));
    CHECK(ok.output == "<stdin>: ok (3 channels, 3 stages, 2 supervisors)\n");
    auto bad = sh(std::string(RILL_CLI_PATH) + " check - < " + broken);
    CHECK(bad.exited_with(1));
    CHECK(contains(bad.output, "<stdin>:2:"));
    CHECK(contains(bad.output, "(did you mean 'grep'?)"));
    auto graph = sh(std::string(RILL_CLI_PATH) + " graph - --format ascii < " + file);
    CHECK(graph.exited_with(0));
    CHECK(graph.output.starts_with("topology <stdin>\n  supervisor top"));
}

TEST_CASE("rill check --format json: every diagnostic with its position and suggestion",
          "[config][cli]") {
    scratch_dir dir;
    std::string ok = dir.file("ok.yaml", drawn_topology);
    auto valid = rill_cmd({"check", ok, "--format", "json"});
    CHECK(valid.exited_with(0));
    CHECK(valid.output == "{\"file\": \"" + ok + "\", \"valid\": true, \"diagnostics\": []}\n");

    // Two problems, one with a suggestion, one quoting a name with a quote.
    std::string bad = dir.file("bad.yaml", "channels:\n"
                                           "  c: string\n"
                                           "stages:\n"
                                           "  a: {stage: grepp, in: c}\n"
                                           "  b: {stage: write_lines, in: 'no\"where'}\n");
    auto r = rill_cmd({"check", "--format", "json", bad});
    CHECK(r.exited_with(1));
    auto lines = lines_of(r.output);
    REQUIRE(lines.size() >= 3);
    CHECK(lines.front() == "{\"file\": \"" + bad + "\", \"valid\": false, \"diagnostics\": [");
    CHECK(lines.back() == "]}");
    CHECK(contains(r.output, "{\"file\": \"" + bad +
                                 "\", \"line\": 4, \"column\": 14, \"severity\": \"error\", "
                                 "\"message\": \"unknown stage 'grepp'\", \"suggestion\": "
                                 "\"grep\"}"));
    CHECK(contains(r.output, "no\\\"where"));
    // A file that is not UTF-8: its diagnostic, as JSON, is still UTF-8.
    std::string latin1 = dir.file("latin1.yaml", "stages:\n  caf\xe9: {stage: grep}\n");
    auto l = rill_cmd({"check", latin1, "--format", "json"});
    CHECK(l.exited_with(1));
    CHECK(contains(l.output, "\"line\": 2"));
    CHECK(l.output.find('\xe9') == std::string::npos);
    // Each diagnostic line is one object; the text form has the same problems.
    auto text = rill_cmd({"check", bad});
    CHECK(lines.size() - 2 == lines_of(text.output).size());

    auto usage = rill_cmd({"check", ok, "--format", "yaml"});
    CHECK(usage.exited_with(2));
    CHECK(contains(usage.output, "--format: expected text or json, got 'yaml'"));
}

TEST_CASE("rill run --log-level takes a level in any case", "[config][cli]") {
    scratch_dir dir;
    std::string file = dir.file("one.yaml", "channels:\n"
                                            "  c: string\n"
                                            "stages:\n"
                                            "  gen: {stage: generate, out: c, args: {count: 1}}\n"
                                            "  drop: {stage: write_lines, in: c, args: {path: " +
                                                dir.file("out.txt") + "}}\n");
    CHECK(rill_cmd({"run", file, "--log-level", "WARN"}).exited_with(0));
    CHECK(rill_cmd({"run", file, "--log-level", "Debug"}).exited_with(0));
    auto bad = rill_cmd({"run", file, "--log-level", "LOUD"});
    CHECK(bad.exited_with(2));
    CHECK(contains(bad.output, "unknown log level 'LOUD'"));
}

TEST_CASE("rill schema and rill stages describe the registered stages", "[config][cli]") {
    auto schema = rill_cmd({"schema"});
    CHECK(schema.exited_with(0));
    CHECK(schema.output.starts_with("{"));
    CHECK(contains(schema.output, "read_lines"));

    auto stages = rill_cmd({"stages"});
    CHECK(stages.exited_with(0));
    CHECK(contains(stages.output, "\ngrep\n"));
    CHECK(contains(stages.output, "arg  pattern: regex (required)"));
}

namespace {
// A root supervisor that gives up: boom fails on every value, more than its
// intensity of 2 allows. sink_args: the write_lines sink's, if any.
std::string giving_up_topology(const scratch_dir& dir, const std::string& sink_args = {}) {
    return dir.file("fail.yaml", "channels: {a: string, b: string}\n"
                                 "stages:\n"
                                 "  gen: {stage: generate, out: a, args: {count: 100}}\n"
                                 "  boom: {stage: fail_every, in: a, out: b, args: {n: 1}}\n"
                                 "  sink: {stage: write_lines, in: b" +
                                     (sink_args.empty() ? "" : ", args: " + sink_args) +
                                     "}\n"
                                     "supervisor:\n"
                                     "  id: root\n"
                                     "  intensity: 2\n"
                                     "  period: 1h\n"
                                     "  children: [gen, boom, sink]\n");
}
} // namespace

TEST_CASE("rill run: a supervisor that gives up ends the run with status 3", "[config][cli]") {
    scratch_dir dir;
    std::string file = giving_up_topology(dir);
    auto r = rill_cmd({"run", file});
    INFO(r.output);
    CHECK(r.exited_with(3));
    CHECK(contains(r.output, ": supervisor root gave up: child boom failed more than 2 times in "
                             "1h; last failure: stage boom: "));
    CHECK(contains(r.output, " (gave_up, exit status 3)"));
}

TEST_CASE("rill run --log-format json: every line one JSON object, with its stage, supervisor "
          "and child",
          "[config][cli]") {
    scratch_dir dir;
    // The sink writes to a file: stdout must hold nothing but log records.
    std::string file = giving_up_topology(dir, "{path: " + dir.file("out.txt") + "}");
    auto r = rill_cmd({"run", file, "--log-format", "json"});
    INFO(r.output);
    CHECK(r.exited_with(3));
    std::vector<std::map<std::string, std::string>> records;
    for (auto& line : lines_of(r.output)) {
        auto o = json_object_of_strings(line);
        INFO(line);
        REQUIRE(o);
        CHECK(std::regex_match((*o)["time"],
                               std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{6}Z")));
        CHECK(o->count("level"));
        CHECK(o->count("logger"));
        CHECK(o->count("message"));
        records.push_back(*o);
    }
    auto has = [&](std::map<std::string, std::string> want) {
        return std::any_of(records.begin(), records.end(), [&](const auto& rec) {
            return std::all_of(want.begin(), want.end(), [&](const auto& kv) {
                auto it = rec.find(kv.first);
                return it != rec.end() && it->second.find(kv.second) != std::string::npos;
            });
        });
    };
    CHECK(has({{"logger", "rill.stage"}, {"level", "warning"}, {"stage", "boom"}}));
    CHECK(has({{"logger", "rill.supervisor"},
               {"supervisor", "root"},
               {"child", "boom"},
               {"message", "exited abnormally"}}));
    CHECK(has(
        {{"logger", "rill.config"}, {"level", "error"}, {"message", "(gave_up, exit status 3)"}}));
    // Fields only where the message names them.
    CHECK(std::none_of(records.begin(), records.end(), [](const auto& rec) {
        return rec.at("logger") == "rill.config" && rec.count("child");
    }));

    // FILE's problems are log records too, and a format it does not know is
    // a usage error.
    std::string broken = dir.file("broken.yaml", "stages:\n  x: {stage: grepp}\n");
    auto b = rill_cmd({"run", broken, "--log-format", "json"});
    CHECK(b.exited_with(1));
    auto lines = lines_of(b.output);
    REQUIRE(!lines.empty());
    for (auto& line : lines)
        CHECK(json_object_of_strings(line));
    CHECK(contains(b.output, "unknown stage 'grepp'"));
    CHECK(rill_cmd({"run", file, "--log-format", "xml"}).exited_with(2));
}

TEST_CASE("rill run: SIGTERM drains the pipeline and loses nothing", "[config][cli]") {
    scratch_dir dir;
    std::string out = dir.file("out.txt");
    std::string file = dir.file("endless.yaml", "channels:\n"
                                                "  ticks: {type: string, capacity: 16}\n"
                                                "  kept: {type: string, capacity: 16}\n"
                                                "stages:\n"
                                                "  gen: {stage: generate, out: ticks}\n"
                                                "  keep: {stage: grep, in: ticks, out: kept,\n"
                                                "         args: {pattern: '^tick [0-9]+$'}}\n"
                                                "  sink: {stage: write_lines, in: kept,\n"
                                                "         args: {path: '" +
                                                    out + "', flush: true}}\n");
    auto p = start(RILL_CLI_PATH, {"run", file});
    REQUIRE(soon([&] { return lines_of(read_file(out)).size() >= 100; }));
    kill(p.pid, SIGTERM);
    auto r = rill_test::wait_process(p);
    INFO(r.output);
    CHECK(r.exited_with(0));
    CHECK(contains(r.output, "draining: sources stopped, waiting up to 10s"));
    CHECK(contains(r.output, "drained"));

    auto written = lines_of(read_file(out));
    CHECK(sent_on(r.output, "ticks") == written.size());
    CHECK(sent_on(r.output, "kept") == written.size());
    // Every tick the source made, once each and in order.
    for (std::size_t i = 0; i < written.size(); ++i)
        if (written[i] != "tick " + std::to_string(i + 1))
            FAIL("line " << i + 1 << ": " << written[i]);
}

namespace {
// What systemd would be for `rill run`: a Unix datagram socket it listens on
// (abstract when the name starts with '@'), collecting the notifications.
class notify_socket {
public:
    explicit notify_socket(std::string name) : name_(std::move(name)) {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::string path = name_;
        if (path[0] == '@') path[0] = '\0';
        REQUIRE(path.size() < sizeof addr.sun_path);
        std::memcpy(addr.sun_path, path.data(), path.size());
        REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr),
                     static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size())) == 0);
    }
    ~notify_socket() { close(fd_); }
    const std::string& name() const { return name_; }
    // Reads what has come until pred holds of everything read; the limit only
    // turns a hang into a failure.
    template <class Pred> bool read_until(Pred pred) {
        auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!pred(messages) && std::chrono::steady_clock::now() < give_up) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 100) <= 0) continue;
            char buf[4096];
            ssize_t n = recv(fd_, buf, sizeof buf, 0);
            if (n > 0) messages.emplace_back(buf, static_cast<std::size_t>(n));
        }
        return pred(messages);
    }
    std::vector<std::string> messages;

private:
    std::string name_;
    int fd_ = -1;
};

std::size_t count_of(const std::vector<std::string>& ms, const std::string& m) {
    return static_cast<std::size_t>(std::count(ms.begin(), ms.end(), m));
}
} // namespace

TEST_CASE("rill run under systemd: READY, watchdog pings while it runs, STOPPING on a drain, "
          "STATUS",
          "[config][cli]") {
    scratch_dir dir;
    std::string out = dir.file("out.txt");
    std::string file = dir.file("endless.yaml", "channels: {ticks: string}\n"
                                                "stages:\n"
                                                "  gen: {stage: generate, out: ticks}\n"
                                                "  sink: {stage: write_lines, in: ticks,\n"
                                                "         args: {path: '" +
                                                    out + "'}}\n");
    std::string sock = dir.file("notify.sock");
    std::remove(sock.c_str()); // file() made a plain file; bind needs the name free
    notify_socket systemd(sock);
    auto p = start(RILL_CLI_PATH, {"run", file},
                   {{"NOTIFY_SOCKET", systemd.name()}, {"WATCHDOG_USEC", "20000"}});
    REQUIRE(systemd.read_until([](auto& ms) { return count_of(ms, "WATCHDOG=1") >= 3; }));
    kill(p.pid, SIGTERM);
    auto r = rill_test::wait_process(p);
    INFO(r.output);
    CHECK(r.exited_with(0));
    REQUIRE(systemd.read_until(
        [](auto& ms) { return !ms.empty() && ms.back().starts_with("STATUS=drained"); }));
    auto& ms = systemd.messages;
    CHECK(ms.front() == "READY=1\nSTATUS=running: 2 stages, 1 channels");
    auto stopping = std::find(ms.begin(), ms.end(), "STOPPING=1\nSTATUS=draining (up to 10s)");
    REQUIRE(stopping != ms.end());
    // Pings stop once the run is over: none after the last status.
    CHECK(ms.back() == "STATUS=drained (exit status 0)");
    CHECK(std::count(ms.begin(), ms.end(), "WATCHDOG=1") >= 3);
    for (auto& m : ms)
        CHECK((m == "WATCHDOG=1" || m.starts_with("READY=1\n") || m.starts_with("STOPPING=1\n") ||
               m.starts_with("STATUS=")));
}

TEST_CASE("rill run under systemd: an abstract socket, and no pings for another process's "
          "watchdog",
          "[config][cli]") {
    scratch_dir dir;
    std::string file =
        dir.file("short.yaml", "channels: {ticks: string}\n"
                               "stages:\n"
                               "  gen: {stage: generate, out: ticks, args: {count: 5}}\n"
                               "  sink: {stage: write_lines, in: ticks,\n"
                               "         args: {path: '" +
                                   dir.file("out.txt") + "'}}\n");
    notify_socket systemd("@rill-test-notify-" + std::to_string(getpid()));
    auto r =
        run(RILL_CLI_PATH, {"run", file},
            {{"NOTIFY_SOCKET", systemd.name()}, {"WATCHDOG_USEC", "1000"}, {"WATCHDOG_PID", "1"}});
    INFO(r.output);
    CHECK(r.exited_with(0));
    REQUIRE(systemd.read_until(
        [](auto& ms) { return !ms.empty() && ms.back().starts_with("STATUS=completed"); }));
    CHECK(systemd.messages ==
          std::vector<std::string>{"READY=1\nSTATUS=running: 2 stages, 1 channels",
                                   "STATUS=completed (exit status 0)"});
}

namespace {
// A drain that cannot finish: ten values wait behind a throttle that passes
// one per 1000 s. The first has reached the sink once out has a line.
std::string stuck_topology(const scratch_dir& dir, const std::string& out) {
    return dir.file("stuck.yaml", "channels: {a: string, b: string}\n"
                                  "stages:\n"
                                  "  gen: {stage: generate, out: a, args: {count: 10}}\n"
                                  "  slow: {stage: throttle, in: a, out: b, args: {rate: 0.001}}\n"
                                  "  sink: {stage: write_lines, in: b,\n"
                                  "         args: {path: '" +
                                      out + "', flush: true}}\n");
}
} // namespace

TEST_CASE("rill run: a drain past its grace period ends with status 4", "[config][cli]") {
    scratch_dir dir;
    std::string out = dir.file("out.txt");
    auto p = start(RILL_CLI_PATH, {"run", stuck_topology(dir, out), "--grace", "50ms"});
    REQUIRE(soon([&] { return !read_file(out).empty(); }));
    kill(p.pid, SIGINT);
    auto r = rill_test::wait_process(p);
    INFO(r.output);
    CHECK(r.exited_with(4));
    CHECK(contains(r.output, "waiting up to 50ms"));
    CHECK(contains(r.output, ": the pipeline did not drain within the grace period of 50ms; "));
    // The throttle holds the value it is pacing (once it has taken it),
    // counted with those in channels.
    CHECK(std::regex_search(r.output, std::regex(" values left in channels (and 1 held by stages )?"
                                                 "were lost \\(drain_timeout, exit status 4\\)")));
}

TEST_CASE("rill run: a second signal stops the run with status 5", "[config][cli]") {
    scratch_dir dir;
    std::string out = dir.file("out.txt");
    auto p = start(RILL_CLI_PATH, {"run", stuck_topology(dir, out), "--grace", "1h"});
    REQUIRE(soon([&] { return !read_file(out).empty(); }));
    kill(p.pid, SIGTERM);
    REQUIRE(soon([&] { return contains(rill_test::output_so_far(p), "draining"); }));
    kill(p.pid, SIGTERM);
    auto r = rill_test::wait_process(p);
    INFO(r.output);
    CHECK(r.exited_with(5));
    CHECK(contains(r.output, "stopping"));
    CHECK(contains(r.output, ": every stage was cancelled; "));
    // The throttle holds the value it is pacing (once it has taken it),
    // counted with those in channels.
    CHECK(std::regex_search(r.output, std::regex(" values left in channels (and 1 held by stages )?"
                                                 "were lost \\(stopped, exit status 5\\)")));
}

namespace {
// "stages: f1 received 12, lost 3; ..." in a run's log: stage -> {received, lost}.
std::pair<std::uint64_t, std::uint64_t> stage_counts(const std::string& log,
                                                     const std::string& stage) {
    std::smatch m;
    REQUIRE(std::regex_search(log, m,
                              std::regex("[:;] " + stage + " received ([0-9]+), lost ([0-9]+)")));
    return {std::stoull(m[1]), std::stoull(m[2])};
}

std::uint64_t left_in(const std::string& log, const std::string& channel) {
    std::smatch m;
    REQUIRE(std::regex_search(log, m, std::regex(channel + " sent [0-9]+, left ([0-9]+)")));
    return std::stoull(m[1]);
}

// The values 1..n missing from a file of "tick N" lines, each line checked to
// be one the source made (1..n) and there once.
std::set<std::uint64_t> missing_ticks(const std::vector<std::string>& lines, std::uint64_t n) {
    std::set<std::uint64_t> missing;
    for (std::uint64_t i = 1; i <= n; ++i)
        missing.insert(i);
    std::vector<std::string> unexpected; // not made by the source, or there twice
    for (auto& l : lines) {
        bool tick = l.rfind("tick ", 0) == 0 && l.size() > 5 &&
                    l.find_first_not_of("0123456789", 5) == std::string::npos;
        if (!tick || missing.erase(std::stoull(l.substr(5))) != 1) unexpected.push_back(l);
    }
    CHECK(unexpected == std::vector<std::string>{});
    return missing;
}

// A TCP port nothing listens on (bound once, then closed).
int closed_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}
} // namespace

// Issue 14, fault 2: under rest_for_one, siblings cancelled for a restart
// dropped the value in hand with no trace. The source sits under a
// one_for_one root, out of the restarts (generate starts over when restarted),
// and the sink appends (a restarted write_lines truncates otherwise).
TEST_CASE("rill run: values held by siblings cancelled for a restart are counted as lost",
          "[config][cli]") {
    scratch_dir dir;
    std::string out = dir.file("out.txt");
    const std::uint64_t n = 20000;
    std::string file = dir.file("restarts.yaml",
                                "channels:\n"
                                "  a: {type: string, capacity: 16}\n"
                                "  b: {type: string, capacity: 0}\n"
                                "  c: {type: string, capacity: 0}\n"
                                "stages:\n"
                                "  gen: {stage: generate, out: a, args: {count: " +
                                    std::to_string(n) +
                                    "}}\n"
                                    "  f1: {stage: fail_every, in: a, out: b, args: {n: 50}}\n"
                                    "  f2: {stage: fail_every, in: b, out: c, args: {n: 1000000}}\n"
                                    "  sink: {stage: write_lines, in: c,\n"
                                    "         args: {path: '" +
                                    out +
                                    "', append: true}}\n"
                                    "supervisor:\n"
                                    "  id: root\n"
                                    "  children:\n"
                                    "    - gen\n"
                                    "    - id: body\n"
                                    "      strategy: rest_for_one\n"
                                    "      intensity: 100000\n"
                                    "      period: 1h\n"
                                    "      backoff: null\n"
                                    "      children: [f1, f2, sink]\n");
    auto r = rill_cmd({"run", file});
    INFO(r.output.substr(r.output.size() > 4000 ? r.output.size() - 4000 : 0));
    REQUIRE(r.exited_with(0));
    auto missing = missing_ticks(lines_of(read_file(out)), n);
    auto [f1_received, f1_lost] = stage_counts(r.output, "f1");
    auto [f2_received, f2_lost] = stage_counts(r.output, "f2");
    auto [sink_received, sink_lost] = stage_counts(r.output, "sink");
    CHECK(f1_received == n);
    CHECK(f1_lost >= n / 50);
    CHECK(sink_lost == 0);
    // Every value not written is one a stage counted as lost, exactly.
    CHECK(missing.size() == f1_lost + f2_lost);
    CHECK(sent_on(r.output, "b") == f1_received - f1_lost);
    CHECK(sent_on(r.output, "c") == f2_received - f2_lost);
    // And the log says so for the cancelled sibling, not only for the failures.
    if (f2_lost > 0) CHECK(contains(r.output, "stage f2 (fail_every) stopped holding "));
}

// Issue 14, fault 5: the line written into a connection the peer had just
// closed was lost. The peer here reads one line on its first connection and
// closes it; every line must reach it over the connections that follow (at
// least once: the line in flight may come twice).
TEST_CASE("rill run: tcp_sink resends the line in flight when its peer goes away",
          "[config][cli]") {
    scratch_dir dir;
    const std::uint64_t n = 40;
    std::string input;
    for (std::uint64_t i = 1; i <= n; ++i)
        input += "tick " + std::to_string(i) + "\n";
    std::string in = dir.file("in.txt", input);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(listener, 16) == 0);
    socklen_t len = sizeof a;
    getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    std::vector<std::string> received; // complete lines, from every connection
    std::thread peer([&] {
        for (int conn = 0;; ++conn) {
            int c = accept(listener, nullptr, nullptr);
            if (c < 0) return; // the listener was shut down: the run is over
            std::string data;
            char buf[4096];
            // The first connection ends after its first line, the others at their end.
            while (conn > 0 || data.find('\n') == std::string::npos) {
                auto got = read(c, buf, sizeof buf);
                if (got <= 0) break;
                data.append(buf, static_cast<std::size_t>(got));
            }
            close(c);
            data.erase(data.rfind('\n') + 1); // an unfinished line did not arrive
            for (auto& l : lines_of(data))
                received.push_back(l);
        }
    });
    std::string file =
        dir.file("tcp.yaml", "channels: {a: string, b: string}\n"
                             "stages:\n"
                             "  read: {stage: read_lines, out: a, args: {path: '" +
                                 in +
                                 "'}}\n"
                                 "  pace: {stage: throttle, in: a, out: b, "
                                 "args: {rate: 400}}\n"
                                 "  ship: {stage: tcp_sink, in: b, args: "
                                 "{connect: '127.0.0.1:" +
                                 std::to_string(ntohs(a.sin_port)) + "', reconnect: 10ms}}\n");
    auto r = rill_cmd({"run", file});
    shutdown(listener, SHUT_RDWR);
    peer.join();
    close(listener);
    INFO(r.output);
    CHECK(r.exited_with(0));
    std::set<std::string> distinct(received.begin(), received.end());
    for (std::uint64_t i = 1; i <= n; ++i)
        if (!distinct.count("tick " + std::to_string(i))) FAIL("tick " << i << " never arrived");
    CHECK(distinct.size() == n);
}

// Issue 14, fault 6: the report left out the values held inside stages. A
// sink that cannot reach its peer holds what it took; the drain times out
// and the run says where every value that entered the channel went.
TEST_CASE("rill run: the end-of-run report accounts for every value sent", "[config][cli]") {
    scratch_dir dir;
    std::string input;
    for (int i = 1; i <= 100; ++i)
        input += "tick " + std::to_string(i) + "\n";
    std::string in = dir.file("in.txt", input);
    std::string file =
        dir.file("nobody.yaml", "channels: {lines: {type: string, capacity: 8}}\n"
                                "stages:\n"
                                "  read: {stage: read_lines, out: lines, args: {path: '" +
                                    in +
                                    "'}}\n"
                                    "  ship: {stage: tcp_sink, in: lines, args: {connect: "
                                    "'127.0.0.1:" +
                                    std::to_string(closed_port()) + "', reconnect: 1h}}\n");
    auto p = start(RILL_CLI_PATH, {"run", file, "--grace", "50ms"});
    REQUIRE(soon([&] { return contains(rill_test::output_so_far(p), "retrying in"); }));
    kill(p.pid, SIGTERM);
    auto r = rill_test::wait_process(p);
    INFO(r.output);
    CHECK(r.exited_with(4));
    // Nothing was delivered: every value sent is left in the channel or
    // held by the sink, and counted.
    auto sent = sent_on(r.output, "lines");
    auto left = left_in(r.output, "lines");
    auto [received, lost] = stage_counts(r.output, "ship");
    CHECK(sent >= 1);
    CHECK(received == lost);
    CHECK(sent == left + lost);
    CHECK(contains(r.output, fmt::format("{} values left in channels and {} held by stages were "
                                         "lost (drain_timeout, exit status 4)",
                                         left, lost)));
    CHECK(contains(r.output, fmt::format("stage ship (tcp_sink) stopped holding {} value", lost)));
}

#ifdef RILL_PIPELINE_PATH
TEST_CASE("pipeline example: the output is exactly expected.txt", "[config][cli][example]") {
    scratch_dir dir;
    std::string out = dir.file("counts.txt");
    auto r = run(RILL_PIPELINE_PATH, {"run", example},
                 {{"INPUT", source_dir + "/examples/pipeline/data/access.log"}, {"OUTPUT", out}});
    INFO(r.output);
    CHECK(r.exited_with(0));
    CHECK(read_file(out) == read_file(source_dir + "/examples/pipeline/expected.txt"));
    // The malformed lines failed the parse stage, which was restarted.
    CHECK(contains(r.output, "malformed access-log line"));
}

TEST_CASE("pipeline example: check, graph and stages know its own stages",
          "[config][cli][example]") {
    auto check = run(RILL_PIPELINE_PATH, {"check", example});
    CHECK(check.exited_with(0));
    CHECK(check.output == example + ": ok (4 channels, 5 stages, 2 supervisors)\n");
    auto graph = run(RILL_PIPELINE_PATH, {"graph", example});
    CHECK(graph.exited_with(0));
    CHECK(contains(graph.output, "cluster_processing"));
    auto stages = run(RILL_PIPELINE_PATH, {"stages"});
    CHECK(contains(stages.output, "\nwindow_counts\n"));
    CHECK(contains(stages.output, "in   in (log_record)"));
}
#endif

namespace {
// "prefix1" .. "prefixN", without the multiples of skip (0: none).
std::vector<std::string> numbered(const std::string& prefix, int n, int skip = 0) {
    std::vector<std::string> out;
    for (int i = 1; i <= n; ++i)
        if (skip == 0 || i % skip != 0) out.push_back(prefix + std::to_string(i));
    return out;
}

std::string joined_lines(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& l : lines)
        text += l + "\n";
    return text;
}

// src -> boom (fail_every n, its every n-th value lost) -> sink, under one
// supervisor of the given strategy that never gives up.
std::string failing_chain(const scratch_dir& dir, const std::string& src, int n,
                          const std::string& strategy, const std::string& sink_args) {
    return dir.file(
        "chain.yaml",
        "channels: {a: {type: string, capacity: 4}, b: {type: string, "
        "capacity: 4}}\n"
        "stages:\n"
        "  src: " +
            src + "\n  boom: {stage: fail_every, in: a, out: b, args: {n: " + std::to_string(n) +
            "}}\n"
            "  sink: {stage: write_lines, in: b, args: " +
            sink_args +
            "}\n"
            "supervisor:\n"
            "  strategy: " +
            strategy +
            "\n"
            "  intensity: 1000\n"
            "  period: 1h\n"
            "  backoff: null\n"
            "  children: [src, boom, sink]\n");
}

// Runs failing_chain with write_lines into a file and checks the run
// completes with exactly `expected` in the file.
void check_chain_output(const scratch_dir& dir, const std::string& src, int n,
                        const std::string& strategy, const std::vector<std::string>& expected) {
    std::string out = dir.file("out.txt");
    auto r = rill_cmd({"run", failing_chain(dir, src, n, strategy, "{path: '" + out + "'}")});
    INFO(r.output);
    CHECK(r.exited_with(0));
    CHECK(lines_of(read_file(out)) == expected);
}
} // namespace

TEST_CASE("rill run: a restarted write_lines keeps what the run wrote", "[config][cli]") {
    // rest_for_one: each failure of boom restarts the sink after it, not the source.
    scratch_dir dir;
    check_chain_output(dir, "{stage: generate, out: a, args: {count: 200, text: 'v{n}'}}", 50,
                       "rest_for_one", numbered("v", 200, 50));
}

TEST_CASE("rill run: restarted sources resume where they were, so a finite one completes",
          "[config][cli]") {
    scratch_dir dir;
    SECTION("generate") {
        check_chain_output(dir, "{stage: generate, out: a, args: {count: 300, text: 'v{n}'}}", 50,
                           "one_for_all", numbered("v", 300, 50));
    }
    SECTION("read_lines") {
        // Several 64 KiB reads, so that restarts come with lines read and not yet sent.
        std::string in = dir.file("in.txt", joined_lines(numbered("line ", 20000)));
        check_chain_output(dir, "{stage: read_lines, out: a, args: {path: '" + in + "'}}", 1000,
                           "one_for_all", numbered("line ", 20000, 1000));
    }
}

TEST_CASE("rill run: SIGTERM sends every line read_lines has read", "[config][cli]") {
    // Lines of 12 bytes, read in blocks of 64 KiB; a slow sink keeps
    // read_lines holding a block's lines when SIGTERM comes.
    constexpr std::size_t line_size = 12, block = 64 * 1024;
    constexpr int total = 100000;
    std::vector<std::string> lines;
    for (int i = 1; i <= total; ++i)
        lines.push_back(fmt::format("line {:06d}", i));
    scratch_dir dir;
    std::string in = dir.file("in.txt", joined_lines(lines));
    std::string out = dir.file("out.txt");
    std::string file = dir.file("drain.yaml", "channels: {a: {type: string, capacity: 16}, b: "
                                              "{type: string, capacity: 16}}\n"
                                              "stages:\n"
                                              "  read: {stage: read_lines, out: a, args: {path: '" +
                                                  in +
                                                  "'}}\n"
                                                  "  slow: {stage: throttle, in: a, out: b, "
                                                  "args: {rate: 50000, burst: 16}}\n"
                                                  "  sink: {stage: write_lines, in: b, args: "
                                                  "{path: '" +
                                                  out + "', flush: true}}\n");
    auto p = start(RILL_CLI_PATH, {"run", file});
    REQUIRE(soon([&] { return !read_file(out).empty(); }));
    kill(p.pid, SIGTERM);
    auto r = rill_test::wait_process(p);
    INFO(r.output);
    CHECK(r.exited_with(0));
    auto written = lines_of(read_file(out));
    REQUIRE(written.size() <= lines.size());
    CHECK(std::equal(written.begin(), written.end(), lines.begin()));
    // Every block read was sent to its end, with the line the last one cut
    // in two: the output ends just past a multiple of 64 KiB of input.
    auto bytes = written.size() * line_size;
    INFO("lines written: " << written.size());
    CHECK((written.size() == lines.size() || (bytes > 0 && bytes % block < line_size)));
}

TEST_CASE("rill run: read_lines follows a file that does not exist yet and keeps a checkpoint",
          "[config][cli]") {
    scratch_dir dir;
    std::string log = dir.file("app.log.missing");
    std::filesystem::remove(log);
    std::string cp = dir.file("app.checkpoint.missing");
    std::filesystem::remove(cp);
    std::string out = dir.file("out.txt");
    auto topology = [&](bool follow) {
        return dir.file("tail.yaml", "channels: {a: string}\n"
                                     "stages:\n"
                                     "  read: {stage: read_lines, out: a, args: {path: '" +
                                         log + "', checkpoint: '" + cp +
                                         "', follow: " + (follow ? "true" : "false") +
                                         "}}\n"
                                         "  sink: {stage: write_lines, in: a, args: {path: '" +
                                         out + "', flush: true}}\n");
    };
    // Waited for, not a failure; then read as it grows.
    auto p = start(RILL_CLI_PATH, {"run", topology(true)});
    REQUIRE(soon([&] { return contains(rill_test::output_so_far(p), "waiting for " + log); }));
    {
        std::ofstream f(log);
        f << joined_lines(numbered("a", 3));
    }
    REQUIRE(soon([&] { return lines_of(read_file(out)).size() == 3; }));
    kill(p.pid, SIGTERM);
    auto r = rill_test::wait_process(p);
    INFO(r.output);
    CHECK(r.exited_with(0));
    CHECK(lines_of(read_file(out)) == numbered("a", 3));

    // A new run resumes after the last line sent.
    {
        std::ofstream f(log, std::ios::app);
        f << joined_lines(numbered("b", 2));
    }
    auto again = rill_cmd({"run", topology(false)});
    INFO(again.output);
    CHECK(again.exited_with(0));
    CHECK(contains(again.output, "resuming " + log + " at byte 9"));
    CHECK(lines_of(read_file(out)) == numbered("b", 2));

    // A file replaced since is read from its start.
    std::filesystem::remove(log);
    {
        std::ofstream f(log);
        f << joined_lines(numbered("c", 2));
    }
    auto replaced = rill_cmd({"run", topology(false)});
    INFO(replaced.output);
    CHECK(replaced.exited_with(0));
    CHECK(contains(replaced.output, "was replaced or truncated since checkpoint"));
    CHECK(lines_of(read_file(out)) == numbered("c", 2));
}

TEST_CASE("rill run: default supervision rides out a few failures and logs the tree",
          "[config][cli]") {
    scratch_dir dir;
    std::string out = dir.file("out.txt");
    std::string file = dir.file("flaky.yaml", "channels: {a: string, b: string}\n"
                                              "stages:\n"
                                              "  gen: {stage: generate, out: a, args: {count: 30, "
                                              "text: 'v{n}'}}\n"
                                              "  boom: {stage: fail_every, in: a, out: b, args: "
                                              "{n: 10}}\n"
                                              "  sink: {stage: write_lines, in: b, args: {path: '" +
                                                  out + "'}}\n");
    auto r = rill_cmd({"run", file});
    INFO(r.output);
    CHECK(r.exited_with(0));
    CHECK(lines_of(read_file(out)) == numbered("v", 30, 10));
    CHECK(contains(r.output, "running " + file + ": 3 stages, 2 channels"));
    CHECK(contains(r.output, "supervisor root (one_for_one, at most 10 restarts in 1m, backoff "
                             "10ms to 5s (x2)): gen (generate), boom (fail_every), sink "
                             "(write_lines)"));
}
