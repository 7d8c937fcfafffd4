// The `rill` command: checks, draws and runs YAML topologies built from the
// built-in stages. See rill/config/command.hpp, or `rill --help`.
#include <rill/config/command.hpp>

int main(int argc, char** argv) { return rill::config::command_main(argc, argv); }
