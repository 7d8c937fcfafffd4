// `rill test`: test files written here beside a topology of built-in stages,
// run by the built `rill` (RILL_CLI_PATH) as a child process; its exit
// status, per-test lines, failure positions and summary are checked. The
// example pipeline's own tests run through the `pipeline` program
// (RILL_PIPELINE_PATH), as CI runs them.
#include "scratch_dir.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

using rill_test::child_result;
using rill_test::scratch_dir;

namespace {

child_result run(const std::string& program, std::vector<std::string> args) {
    args.insert(args.begin(), program);
    return rill_test::wait_process(rill_test::start_process(program, std::move(args), {}));
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Every one of `parts` is in r's output (each checked, and named when missing).
void check_shows(const child_result& r, const std::vector<std::string>& parts) {
    INFO(r.output);
    for (const auto& part : parts) {
        INFO("missing: " << part);
        CHECK(contains(r.output, part));
    }
}

// `program test path` exits with `code` and shows every one of `parts`.
void check_run(const std::string& path, int code, const std::vector<std::string>& parts,
               const std::string& program = RILL_CLI_PATH) {
    auto r = run(program, {"test", path});
    INFO(r.output);
    CHECK(r.exited_with(code));
    check_shows(r, parts);
}

// raw -> keep (grep ^keep) -> kept -> sink; src writes raw from 1 to count.
const char* topology_text = R"(channels:
  raw: string
  kept: string
stages:
  src: {stage: generate, out: raw, args: {count: 3, text: 'keep {n}'}}
  keep: {stage: grep, in: raw, out: kept, args: {pattern: '^keep'}}
  sink: {stage: write_lines, in: kept, args: {path: /dev/null}}
)";

// The topology as t.yaml and the test file as t.test.yaml in dir.
std::string write_pair(const scratch_dir& dir, const std::string& tests) {
    dir.file("t.yaml", topology_text);
    return dir.file("t.test.yaml", tests);
}

} // namespace

TEST_CASE("rill test: passing tests print ok and a summary, exit 0", "[config][test_cmd]") {
    scratch_dir dir;
    auto file = write_pair(dir, R"(tests:
  - name: keeps lines that start with keep
    target: keep
    inputs:
      raw: [keep a, drop b, keep c]
    outputs:
      kept: {count: 2, equals: [keep a, keep c], regex: 'keep .'}
  - name: a sub-graph with its source, by port
    target: [src, keep]
    outputs:
      keep.out: {equals: [keep 1, keep 2, keep 3]}
  - name: an input left out is empty
    target: keep
    outputs:
      kept: {count: 0}
)");
    check_run(file, 0,
              {file + ": keeps lines that start with keep: ok",
               file + ": a sub-graph with its source, by port: ok",
               file + ": an input left out is empty: ok", "3 tests: 3 passed, 0 failed (1 file)"});
}

TEST_CASE("rill test: each failed condition is reported at its position, exit 1",
          "[config][test_cmd]") {
    scratch_dir dir;
    auto file = write_pair(dir, R"(tests:
  - name: wrong count
    target: keep
    inputs: {raw: [keep a, keep b]}
    outputs: {kept: {count: 3}}
  - name: wrong value
    target: keep
    inputs: {raw: [keep a, keep b]}
    outputs: {kept: {equals: [keep a, keep x]}}
  - name: a value missing
    target: keep
    inputs: {raw: [keep a]}
    outputs: {kept: {equals: [keep a, keep b]}}
  - name: a value too many
    target: keep
    inputs: {raw: [keep a, keep b]}
    outputs: {kept: {equals: [keep a]}}
  - name: no match
    target: keep
    inputs: {raw: [keep a, keep bb, keep cc]}
    outputs: {kept: {regex: 'keep .'}}
  - name: passes
    target: keep
    outputs: {kept: {count: 0}}
)");
    check_run(file, 1,
              {file + ":2:11: wrong count: FAILED",
               file + ":5:29: error: 'kept': expected 3 values, got 2",
               file + ":9:39: error: 'kept' value 2: expected 'keep x', got 'keep b'",
               file + ":13:39: error: 'kept': expected 2 values, got 1; the first "
                      "missing is 'keep b'",
               file + ":17:30: error: 'kept': expected 1 value, got 2; the first "
                      "extra is 'keep b'",
               file + ":21:29: error: 'kept' value 2 does not match /keep ./: "
                      "'keep bb' (2 values in all)",
               file + ": passes: ok", "6 tests: 1 passed, 5 failed (1 file)"});
}

TEST_CASE("rill test: an invalid test file is reported like a topology, exit 3",
          "[config][test_cmd]") {
    scratch_dir dir;
    auto file = write_pair(dir, R"(tests:
  - name: typos
    tagret: keep
  - name: names
    target: [kep]
    inputs: {rwa: [a]}
  - name: ends
    target: keep
    inputs: {kept: [a], keep.inn: [b]}
    outputs: {raw: {count: x}}
  - name: conditions
    target: keep
    outputs: {kept: {regex: '(', cuont: 1}}
  - name: inner channels
    target: [src, keep]
    inputs: {raw: [a]}
    outputs: {raw: {count: 1}}
  - name: inner channels
    target: keep
    outputs: {kept: {count: 0}}
)");
    check_run(file, 3,
              {file + ":3:5: error: unknown key 'tagret' in a test (did you mean "
                      "'target'?)",
               file + ":2:5: error: a test is missing required key 'target'",
               file + ":5:14: error: unknown stage 'kep' (did you mean 'keep'?)",
               file + ":6:14: error: unknown channel 'rwa' (did you mean 'raw'?)",
               file + ":9:14: error: channel 'kept' is not read by a target stage",
               file + ":9:25: error: stage 'keep' has no bound input port 'inn' "
                      "(did you mean 'in'?)",
               file + ":10:15: error: channel 'raw' is not written by a target stage",
               file + ":13:34: error: unknown key 'cuont' in the conditions on "
                      "'kept' (did you mean 'count'?)",
               file + ":13:29: error: invalid regular expression '('",
               file + ":16:14: error: channel 'raw' is written by target stage "
                      "'src': its values come from there, not from the test",
               file + ":17:15: error: channel 'raw' is read by target stage 'keep': "
                      "its values go there, not to the test",
               file + ":18:11: error: a second test named 'inner channels'",
               file + ": invalid test file (12 problems), not run",
               "0 tests: 0 passed, 0 failed, 1 invalid test file (1 file)"});
}

TEST_CASE("rill test: a value that is not of the channel's type, or no YAML, is refused",
          "[config][test_cmd]") {
    scratch_dir dir;
    dir.file("n.yaml", R"(channels: {raw: string, b: lines, c: lines}
stages:
  src: {stage: generate, out: raw, args: {count: 4}}
  group: {stage: batch, in: raw, out: b, args: {size: 2}}
  pass: {stage: throttle, in: b, out: c, args: {rate: 1000}}
  sink: {stage: write_lines, in: c, args: {path: /dev/null}}
)");
    auto bad_value = dir.file("n.test.yaml", R"(tests:
  - name: lines end with a newline
    target: pass
    inputs: {b: ["x\ny\n", 'no newline']}
    outputs: {c: {count: 2}}
)");
    check_run(bad_value, 3,
              {bad_value + ":4:28: error: not a value of type lines for channel 'b': "
                           "not lines: the message does not end with a newline"});

    // A value of another type than string, in and out; a failure quotes it on one line.
    auto other_type = dir.file("o.test.yaml", R"(topology: n.yaml
tests:
  - name: lines in, lines out
    target: pass
    inputs: {b: ["x\ny\n", "z\n"]}
    outputs: {c: {count: 2, equals: ["x\ny", "w"]}}
)");
    check_run(other_type, 1, {other_type + ":6:46: error: 'c' value 2: expected 'w', got 'z'"});

    auto bad_yaml = dir.file("y.test.yaml", "topology: n.yaml\ntests: [\n");
    check_run(bad_yaml, 3, {bad_yaml + ":3:1: error: the '[' list at 2:8 is not closed"});

    auto bad_topology = dir.file("b.test.yaml", "topology: missing.yaml\ntests: []\n");
    check_run(bad_topology, 3, {bad_topology + ":1:11: error: the topology under test"});
}

TEST_CASE("rill test: a target that never ends is stopped at its timeout, or once its values "
          "overflow",
          "[config][test_cmd]") {
    scratch_dir dir;
    // A test of the source src alone: `args` for src, the test's timeout.
    auto endless = [&](const std::string& args, const std::string& timeout) {
        dir.file("t.yaml", R"(channels: {raw: string}
stages:
  src: {stage: generate, out: raw, args: )" +
                               args + R"(}
  sink: {stage: write_lines, in: raw, args: {path: /dev/null}}
)");
        return dir.file("t.test.yaml", R"(tests:
  - name: an endless source
    target: src
    timeout: )" + timeout + R"(
    outputs: {raw: {count: 1}}
)");
    };
    SECTION("one line at once, the next in an hour: the timeout") {
        auto file = endless("{interval: 1h}", "200ms");
        check_run(file, 1,
                  {file + ":2:11: error: timed out after 200ms: a target stage never ended",
                   "1 tests: 0 passed, 1 failed (1 file)"});
    }
    SECTION("lines as fast as they are taken: stopped at 100000, long before the timeout") {
        auto file = endless("{}", "1h");
        check_run(file, 1,
                  {file + ":2:11: error: more than 100000 values came out of 'raw': a test keeps "
                          "at most 100000 (is a target a source without end?)"});
    }
}

TEST_CASE("rill test DIR: finds *.test.yaml below DIR; none is a usage error",
          "[config][test_cmd]") {
    scratch_dir dir;
    namespace fs = std::filesystem;
    fs::path root = fs::path(dir.file("marker")).parent_path();
    fs::create_directories(root / "a" / "deeper");
    fs::create_directories(root / "b");
    fs::create_directories(root / "empty");
    auto one_test = [](const std::string& topology) {
        return "topology: " + topology + R"(
tests:
  - name: keeps
    target: keep
    inputs: {raw: [keep a]}
    outputs: {kept: {count: 1}}
)";
    };
    dir.file("t.yaml", topology_text);
    dir.file("a/deeper/one.test.yaml", one_test("../../t.yaml"));
    dir.file("b/two.test.yaml", one_test("../t.yaml"));
    dir.file("b/not_a_test.yaml", "tests: nonsense\n");
    check_run(root.string(), 0,
              {"a/deeper/one.test.yaml: keeps: ok", "b/two.test.yaml: keeps: ok",
               "2 tests: 2 passed, 0 failed (2 files)"});

    check_run((root / "empty").string(), 2, {"no test files (*.test.yaml) in it"});
    check_run((root / "nowhere").string(), 2, {"no such file or directory"});
}

TEST_CASE("rill test: usage errors exit 2", "[config][test_cmd]") {
    CHECK(run(RILL_CLI_PATH, {"test"}).exited_with(2));
    CHECK(run(RILL_CLI_PATH, {"test", "a", "b"}).exited_with(2));
    auto level = run(RILL_CLI_PATH, {"test", ".", "--log-level", "loud"});
    CHECK(level.exited_with(2));
    CHECK(contains(level.output, "unknown log level 'loud'"));
    auto help = run(RILL_CLI_PATH, {"test", "--help"});
    CHECK(help.exited_with(0));
    CHECK(contains(help.output, "3 a test file (or the topology it tests) is invalid"));
}

#ifdef RILL_PIPELINE_PATH
TEST_CASE("rill test: the example pipeline's tests pass", "[config][test_cmd]") {
    check_run(std::string(RILL_SOURCE_DIR) + "/examples/pipeline", 0,
              {"4 tests: 4 passed, 0 failed (1 file)"}, RILL_PIPELINE_PATH);
}

// The example's log_record declares its fields (record_fields.hpp).
TEST_CASE("rill test: records field by field", "[config][test_cmd]") {
    scratch_dir dir;
    dir.file("log.yaml", R"(channels: {lines: string, records: log_record, counts: string}
stages:
  read: {stage: read_lines, out: lines, args: {path: /dev/null}}
  parse: {stage: parse_access_log, in: lines, out: records}
  count: {stage: window_counts, in: records, out: counts}
  sink: {stage: write_lines, in: counts, args: {path: /dev/null}}
)");
    auto failing = dir.file("log.test.yaml", R"(tests:
  - name: fields differ
    target: parse
    inputs: {lines: ['1.2.3.4 - - [23/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "c"']}
    outputs:
      records:
        fields:
          - {method: POST, status: 200, bytes: 6}
          - {status: 500}
)");
    check_run(failing, 1,
              {failing + ":8:22: error: 'records' value 1 field 'method': expected 'POST', "
                         "got 'GET'",
               failing + ":8:48: error: 'records' value 1 field 'bytes': expected '6', got "
                         "'5'",
               failing + ":9:13: error: 'records': expected 2 values, got 1; the first "
                         "missing is {status: '500'}"},
              RILL_PIPELINE_PATH);

    auto invalid = dir.file("bad.test.yaml", R"(topology: log.yaml
tests:
  - name: no such field
    target: parse
    outputs: {records: {fields: [{stauts: 200}]}}
  - name: strings have no fields
    target: count
    outputs: {counts: {fields: [{a: 1}]}}
)");
    check_run(invalid, 3,
              {invalid + ":5:35: error: log_record has no field 'stauts' (did you mean "
                         "'status'?)",
               invalid + ":8:32: error: channel 'counts' carries string, which declares no "
                         "fields (record_fields.hpp): use equals or regex"},
              RILL_PIPELINE_PATH);
}
#endif
