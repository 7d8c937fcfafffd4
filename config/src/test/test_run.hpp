// Running one test of a test file (test_file.hpp): its target stages, with
// their real stage functions and arguments, in a topology of their own. Each
// channel a target reads from outside the targets is fed the test's values
// (decoded with the channel type's codec) and then closed; each channel a
// target writes to outside the targets is read to its end and its values
// kept as text (the type's formatter, else its codec), with its record
// fields if its type has them. Channels between two
// targets stay as declared. The targets run under one supervisor with the
// settings of the first target's supervisor, restarting at once (no backoff),
// so a stage that throws on a bad value is restarted as in `rill run`.
//
// The run is bounded: past the test's timeout every stage is stopped and the
// test fails with "timed out" (a target that never ends, or waits for input
// that never comes), and as soon as more than max_values_kept values come
// out of one channel. Then each output's conditions are checked.
#pragma once

#include "test/test_file.hpp"

#include <rill/config/diagnostic.hpp>

#include <map>
#include <string>
#include <vector>

namespace rill::config::testing {

// What came out of one output channel, in order: each value as text and,
// when its type declares record fields (record_fields.hpp), its fields.
struct channel_seen {
    std::vector<std::string> texts;
    std::vector<std::vector<std::string>> fields;
    bool overflowed = false; // more than max_values_kept came out
};

// The values kept per output channel: past this many the run is stopped and
// the test fails, so that a target without end cannot exhaust memory before
// its timeout.
inline constexpr std::size_t max_values_kept = 100'000;
using outputs_seen = std::map<std::string, channel_seen>;

// The failures of test t (empty: it passed), each at the position in the
// test file of what failed: the condition, the expected value, or the test's
// name for a run that timed out or ended badly. Must be called from inside a
// goroutine (rill::run).
std::vector<diagnostic> run_test(const test_file& f, const test_case& t);

// The failures of x's conditions on the values seen (test_check.cpp).
std::vector<diagnostic> check(const expectation& x, const channel_seen& seen);

} // namespace rill::config::testing
