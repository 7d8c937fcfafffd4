#!/usr/bin/env bash
# Builds rill in Release and runs the main program: the YAML-declared
# log-processing pipeline of examples/pipeline (`pipeline run
# examples/pipeline/pipeline.yaml`, from the repository root). Installs the
# Debian packages it needs first (see deps.sh).
#
# usage: bash scripts/run.sh [ARG...]    (ARGs replace the default arguments,
#        e.g. `bash scripts/run.sh graph examples/pipeline/pipeline.yaml`)
# environment: BUILD_DIR (default build-run), JOBS (default: number of CPUs).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build-run}
jobs=${JOBS:-$(nproc)}

# shellcheck source-path=SCRIPTDIR source=deps.sh
source "$repo/scripts/deps.sh"
require_packages cmake ninja-build g++ libspdlog-dev libfmt-dev libboost-dev libyaml-cpp-dev \
    libnats-dev

cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRILL_SANITIZE= \
    -DRILL_BUILD_TESTS=OFF -DRILL_BUILD_BENCH=OFF -DRILL_BUILD_EXAMPLES=ON
cmake --build "$build_dir" --parallel "$jobs" --target pipeline
pipeline=$build_dir/examples/pipeline/pipeline
(($#)) && exec "$pipeline" "$@"
# The topology reads its input relative to the repository root.
cd "$repo"
exec "$pipeline" run examples/pipeline/pipeline.yaml
