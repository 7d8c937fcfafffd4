// The `rill` command as a function: `rill check | graph | run | schema |
// stages | test`. config/cli/rill.cpp is nothing but a call to it; a program that
// registers stages of its own (examples/pipeline) calls it too and is the same
// command with those stages added. The program's name in messages is
// argv[0]'s file name.
//
// Exit status: 0 success; 1 the topology has errors (every one printed to
// stderr as file:line:column: error: message); 2 a usage error; and for
// `run`, run_result::exit_code(): 3 a supervisor gave up, 4 a drain outran
// its grace period, 5 stopped by a second signal, 6 a stage failed to start;
// for `test`, 1 a test failed and 3 a test file is invalid.
//
// `run` blocks SIGINT and SIGTERM in every thread (call command_main before
// starting the rill runtime, so that its threads inherit the mask) and waits
// for them on a thread of its own: the first drains the topology, the second
// stops it.
#pragma once

namespace rill::config {

int command_main(int argc, char** argv);

} // namespace rill::config
