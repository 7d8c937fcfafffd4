// The pipeline example: the `rill` command with two stages of its own
// (stages.cpp: parse_access_log and window_counts) linked in. pipeline.yaml
// uses them beside built-in stages; docs/yaml.md walks through it.
//
//   pipeline run examples/pipeline/pipeline.yaml     window counts per status code
//   pipeline graph examples/pipeline/pipeline.yaml   the topology as Graphviz dot
//   pipeline stages                                  the stages it knows, these two included
#include <rill/config/command.hpp>

int main(int argc, char** argv) { return rill::config::command_main(argc, argv); }
