// The test files of `rill test` (docs/testing.md): YAML files beside a
// topology, `pipeline.test.yaml` beside `pipeline.yaml`, each a list of
// tests that run some of the topology's stages (its real stage functions
// and arguments) on values written in the test, and check what comes out.
//
//   topology: pipeline.yaml        # optional; default: this file without ".test"
//   tests:
//     - name: health checks are dropped
//       target: drop_probes        # a stage id, or a list of them (a sub-graph)
//       timeout: 5s                # optional, default 10s
//       inputs:                    # channel (or stage.port) -> values, sent in order
//         lines: ['GET /a', 'GET /healthz']
//       outputs:                   # channel (or stage.port) -> conditions, all must hold
//         requests: {count: 1, equals: ['GET /a'], regex: 'GET .*'}
//         records: {fields: [{method: GET, status: 200}]}   # record_fields.hpp
//
// Reading checks the file as strictly as the loader checks topologies, and
// reports every problem with file:line:column: unknown keys (with "did you
// mean"), wrong types, unknown stages, channels and ports, an input that a
// target stage writes itself or no target reads, an output no target writes,
// values that do not decode as the channel's element type, invalid regular
// expressions, fields of a type that has none or not of its names. Nothing partial comes back.
#pragma once

#include <rill/config/diagnostic.hpp>
#include <rill/config/topology.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rill::config::testing {

// A value written in a test file, with its position.
struct value_text {
    std::string text;
    mark at;
};

// Values sent, in order, on a channel that a target stage reads; the channel
// is then closed. A channel a target reads but no test input names is closed
// at once (an empty input).
struct injection {
    std::string channel;
    std::vector<value_text> values;
    mark at; // the key
};

// One field of a record expected by `fields:` (record_fields.hpp).
struct field_text {
    std::string name;
    std::size_t index = 0; // in the type's record_fields names
    value_text value;
};
struct record_text {
    std::vector<field_text> fields; // those named; the others may be anything
    mark at;
};

// The conditions on what came out of one channel that a target stage
// writes, each with the position its failure is reported at.
struct expectation {
    std::string channel;
    mark at; // the key
    std::optional<std::int64_t> count{};
    mark count_at{};
    std::optional<std::vector<value_text>> equals{}; // the whole sequence, in order
    mark equals_at{};
    std::optional<std::string> regex{}; // every value matches it, whole (std::regex_match)
    mark regex_at{};
    // One record per value, in order: each value's named fields equal these.
    std::optional<std::vector<record_text>> fields{};
    mark fields_at{};
};

struct test_case {
    std::string name;
    mark at;                         // the test's `name` value
    std::vector<std::string> target; // stage ids, in file order
    std::chrono::nanoseconds timeout = std::chrono::seconds(10);
    std::vector<injection> inputs{};
    std::vector<expectation> outputs{};
};

struct test_file {
    std::string path;
    topology topo; // the topology under test, loaded and checked
    std::vector<test_case> tests;
};

struct test_file_result {
    std::optional<test_file> file; // set exactly when errors is empty
    std::vector<diagnostic> errors;
};

// Reads the test file at path and the topology it names (with the process's
// registry, as `rill run` would load it).
test_file_result load_test_file(const std::string& path);

} // namespace rill::config::testing
