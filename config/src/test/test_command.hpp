// `rill test PATH`: runs the tests in PATH, a test file or a directory
// searched recursively for *.test.yaml (and *.test.yml), in path order.
// Prints, on stdout, one line per test (`FILE: NAME: ok`, or `FILE:LINE:COL:
// NAME: FAILED` followed by each failure as FILE:LINE:COL: error: MESSAGE),
// then a summary line `N tests: P passed, F failed` (with the count of
// invalid files, if any). An invalid test file (or one whose topology has
// problems) has its problems printed to stderr, as `rill check` does, and
// none of its tests run.
//
// Exit status: 0 every test passed; 1 a test failed; 2 usage error (PATH
// missing, or no test file in it); 3 a test file is invalid (whether or not
// a test failed too).
#pragma once

#include <spdlog/common.h>

#include <string>

namespace rill::config {

inline constexpr int test_exit_failed = 1;
inline constexpr int test_exit_usage = 2;
inline constexpr int test_exit_invalid = 3;

// Runs the rill runtime itself: call it from outside rill::run. Logs below
// log_level are dropped (the runner's info lines would bury the results).
int test_command(const std::string& path, spdlog::level::level_enum log_level);

} // namespace rill::config
