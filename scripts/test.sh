#!/usr/bin/env bash
# Builds rill and runs its tests in every configuration that CI checks, then
# prints a summary. Installs the Debian packages it needs first (deps.sh).
#
# usage: bash scripts/test.sh [--quick] [STAGE...]
#   --quick   the normal stage only
#   STAGE     run only these stages, in the order given; default: all of
#     normal   RelWithDebInfo build of everything; every test under ctest
#     asan     tests built with -DRILL_SANITIZE=address (ASan + UBSan)
#     tsan     tests built with -DRILL_SANITIZE=thread (TSan)
#     aarch64  tests cross-built for AArch64, run under qemu-aarch64
#     install  cmake --install, then tests/install (a find_package(rill)
#              consumer) configured, built and run against the installed tree;
#              again with -DWITH_NATS=ON (find_package(rill COMPONENTS nats))
#              when the normal build has the NATS layer
#     nonats   RelWithDebInfo build of the YAML layer, the rill command and
#              their tests (config_*, the only ones that link it) with
#              -DRILL_BUILD_NATS=OFF and libnats hidden from CMake, checked
#              not to link it; those tests under ctest; installed, and
#              tests/install (without nats) built and run against it
#     fuzz     the YAML loader under libFuzzer (clang, ASan + UBSan) for
#              FUZZ_SECONDS, from the seed corpora in config/fuzz/corpus
#              and tests/check_corpus
# environment: BUILD_ROOT (default build-test; one directory per stage),
#   JOBS (build and ctest parallelism; default: number of CPUs),
#   FUZZ_SECONDS (default 120).
# Every stage runs even when an earlier one failed. The last line counts CTest
# tests (test executables and compile checks) over all stages (a stage that fails to build counts as one
# failure): "N passed, M failed". Exit status: 0 when nothing failed, else 1.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_root=${BUILD_ROOT:-$repo/build-test}
jobs=${JOBS:-$(nproc)}
all_stages=(normal asan tsan aarch64 install nonats fuzz)

stages=()
for arg in "$@"; do
    case $arg in
    --quick) stages+=(normal) ;;
    -h | --help)
        sed -n '/^# usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "unknown option $arg" >&2
        exit 2
        ;;
    *)
        if [[ " ${all_stages[*]} " != *" $arg "* ]]; then
            echo "unknown stage $arg; known: ${all_stages[*]}" >&2
            exit 2
        fi
        stages+=("$arg")
        ;;
    esac
done
((${#stages[@]})) || stages=("${all_stages[@]}")

# shellcheck source-path=SCRIPTDIR source=deps.sh
source "$repo/scripts/deps.sh"
# libnats-dev and nats-server: the NATS bridge and its tests (config_nats_*_test);
# openssl and libssl-dev: the certificates and credentials config_nats_auth_test makes;
# prometheus and chromium: config_admin_test lints /metrics with promtool, has
# a Prometheus server scrape a run, and draws the live page in headless Chromium.
packages=(cmake ninja-build g++ libspdlog-dev libfmt-dev libboost-dev libyaml-cpp-dev catch2
    libnats-dev nats-server openssl libssl-dev prometheus chromium)
[[ " ${stages[*]} " == *" aarch64 "* ]] && packages+=(g++-aarch64-linux-gnu qemu-user)
[[ " ${stages[*]} " == *" fuzz "* ]] && packages+=(clang libclang-rt-dev)
require_packages "${packages[@]}" || exit 1

log_dir=$build_root/logs
mkdir -p "$log_dir"

# Per-stage results for the summary.
declare -A stage_passed stage_failed stage_note stage_time
total_passed=0
total_failed=0

# configure_and_build DIR LOG SOURCE_DIR [CMAKE_ARG...]: configures DIR with
# Ninja and builds it, logging to LOG; shows the log's tail on failure.
# Builds every target, or only those named in the caller's array
# build_targets when it has one.
configure_and_build() {
    local dir=$1 log=$2
    shift 2
    echo "building $dir (log: $log)"
    local start=$SECONDS
    local targets=()
    [[ -n ${build_targets+x} ]] && targets=(--target "${build_targets[@]}")
    if ! {
        cmake -S "$1" -B "$dir" -G Ninja "${@:2}" && cmake --build "$dir" --parallel "$jobs" "${targets[@]}"
    } >"$log" 2>&1 </dev/null; then
        tail -n 60 "$log"
        echo "error: build failed; full log: $log"
        return 1
    fi
    echo "built in $((SECONDS - start))s"
}

# run_ctest STAGE DIR [WRAPPER...]: runs DIR's tests (under WRAPPER, if any),
# or those matching the caller's ctest_regex when it has one, and records how
# many CTest tests (executables and compile checks) passed and failed.
run_ctest() {
    local stage=$1 dir=$2
    shift 2
    local log=$log_dir/$stage-ctest.log
    local only=()
    [[ -n ${ctest_regex:-} ]] && only=(--tests-regex "$ctest_regex")
    (cd "$dir" && "$@" ctest --output-on-failure --parallel "$jobs" "${only[@]}" </dev/null) 2>&1 | tee "$log"
    local summary total failed
    summary=$(grep -E '[0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1)
    if [[ -z $summary ]]; then
        stage_failed[$stage]=1
        stage_note[$stage]="ctest ran no tests"
        return
    fi
    failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$summary")
    total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$summary")
    stage_passed[$stage]=$((total - failed))
    stage_failed[$stage]=$failed
}

# The cmake arguments every test stage shares: tests only, no benchmarks or
# examples (the normal stage turns those back on so that they keep building).
# Each stage sets a per-test timeout that catches a hang long before CI's own
# limit would.
test_build_args=("$repo" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRILL_BUILD_TESTS=ON
    -DRILL_BUILD_BENCH=OFF -DRILL_BUILD_EXAMPLES=OFF)

stage_normal_build() {
    configure_and_build "$build_root/normal" "$log_dir/normal-build.log" "${test_build_args[@]}" \
        -DRILL_TEST_TIMEOUT=120 -DRILL_SANITIZE= -DRILL_BUILD_BENCH=ON -DRILL_BUILD_EXAMPLES=ON
}

stage_normal() {
    stage_normal_build || return 1
    run_ctest normal "$build_root/normal"
}

stage_asan() {
    local dir=$build_root/asan
    configure_and_build "$dir" "$log_dir/asan-build.log" "${test_build_args[@]}" \
        -DRILL_TEST_TIMEOUT=300 -DRILL_SANITIZE=address || return 1
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} run_ctest asan "$dir"
}

# TSan: g++ 12's TSan maps its shadow memory at fixed addresses and aborts
# with "FATAL: ThreadSanitizer: unexpected memory mapping" on kernels that
# randomise mmap with more bits than it expects (vm.mmap_rnd_bits = 32, as on
# some distribution kernels; Debian 12's default of 28 is fine). Running the
# tests with address-space randomisation off (setarch -R, inherited by every
# process ctest starts) avoids it on any kernel, and needs no root, unlike
# lowering vm.mmap_rnd_bits. Where setarch -R is not permitted (some
# container seccomp profiles), the tests run as they are.
stage_tsan() {
    local dir=$build_root/tsan
    configure_and_build "$dir" "$log_dir/tsan-build.log" "${test_build_args[@]}" \
        -DRILL_TEST_TIMEOUT=300 -DRILL_SANITIZE=thread || return 1
    local wrapper=()
    if setarch "$(uname -m)" -R true 2>/dev/null; then
        wrapper=(setarch "$(uname -m)" -R)
    else
        echo "note: setarch -R is not permitted here; running TSan with ASLR on"
    fi
    TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1} run_ctest tsan "$dir" "${wrapper[@]}"
}

# Cross build with cmake/aarch64-linux-gnu.cmake (which explains how fmt and
# spdlog are provided); its CMAKE_CROSSCOMPILING_EMULATOR makes ctest run each
# test program under qemu-aarch64, so every test, the context switch included,
# runs on AArch64.
stage_aarch64() {
    local dir=$build_root/aarch64
    configure_and_build "$dir" "$log_dir/aarch64-build.log" "${test_build_args[@]}" \
        -DRILL_TEST_TIMEOUT=300 -DRILL_SANITIZE= \
        "-DCMAKE_TOOLCHAIN_FILE=$repo/cmake/aarch64-linux-gnu.cmake" || return 1
    run_ctest aarch64 "$dir"
}

# install_into BUILD PREFIX LOG: installs BUILD into a fresh PREFIX.
install_into() {
    rm -rf "$2"
    if ! cmake --install "$1" --prefix "$2" >"$3" 2>&1; then
        tail -n 30 "$3"
        echo "error: cmake --install failed"
        return 1
    fi
}

# run_consumer STAGE DIR PREFIX [CMAKE_ARG...]: configures and builds
# tests/install in DIR against the rill installed in PREFIX alone, as a user's
# project would, runs it, and counts the run as one test of STAGE.
run_consumer() {
    local stage=$1 dir=$2 prefix=$3
    shift 3
    if configure_and_build "$dir" "$log_dir/$stage-$(basename "$dir").log" "$repo/tests/install" \
        -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$prefix" "$@" &&
        echo "running the installed-package consumer ($(basename "$dir"))" &&
        "$dir/rill_install_check" </dev/null; then
        stage_passed[$stage]=$((stage_passed[$stage] + 1))
    else
        stage_failed[$stage]=$((stage_failed[$stage] + 1))
    fi
}

# Installs the runtime from the normal stage's build (building it first if
# that stage did not run) into a fresh prefix, then builds tests/install
# against that prefix: as it is, and with the nats component when the
# normal build has it.
stage_install() {
    local dir=$build_root/install
    stage_normal_build || return 1
    install_into "$build_root/normal" "$dir/prefix" "$log_dir/install.log" || return 1
    run_consumer install "$dir/consumer" "$dir/prefix"
    if grep -q '^RILL_BUILD_NATS:BOOL=ON$' "$build_root/normal/CMakeCache.txt"; then
        run_consumer install "$dir/consumer-nats" "$dir/prefix" -DWITH_NATS=ON
    else
        echo "note: the normal build has no NATS layer; consumer-nats skipped"
    fi
}

# A machine without libnats-dev: RILL_BUILD_NATS off and the NATS package
# hidden from CMake (CMAKE_DISABLE_FIND_PACKAGE_NATS), so that nothing can
# find it by accident; then checked: no NATS_LIBRARY found in the cache,
# libnats on no link line and not in the rill command's libraries, no NATS
# stage registered. Of the tests, it builds and runs the YAML layer's
# (rill_config_tests: every config_* test, the rill command and the pipeline
# example they run): the others do not link rill::config, so they are the
# normal stage's programs whether or not the nats layer exists. Then the
# consumer against its own install, without nats.
stage_nonats() {
    local dir=$build_root/nonats
    local build_targets=(rill_config_tests) ctest_regex='^config_'
    configure_and_build "$dir" "$log_dir/nonats-build.log" "${test_build_args[@]}" \
        -DRILL_TEST_TIMEOUT=120 -DRILL_SANITIZE= -DRILL_BUILD_EXAMPLES=ON \
        -DRILL_BUILD_NATS=OFF -DCMAKE_DISABLE_FIND_PACKAGE_NATS=ON || return 1
    unset build_targets # the consumer below is built whole
    local leaks=()
    grep -qE '^NATS_(LIBRARY|INCLUDE_DIR):[A-Z]+=/' "$dir/CMakeCache.txt" &&
        leaks+=("CMakeCache.txt found libnats")
    grep -q 'libnats' "$dir/build.ninja" && leaks+=("build.ninja links libnats")
    # Whole outputs first: grep -q would end a pipe early (pipefail).
    local libs stage_list
    if ! libs=$(ldd "$dir/config/rill") || ! stage_list=$("$dir/config/rill" stages </dev/null); then
        echo "error: cannot run $dir/config/rill"
        return 1
    fi
    grep -q 'libnats' <<<"$libs" && leaks+=("config/rill loads libnats")
    grep -q '^nats_' <<<"$stage_list" && leaks+=("rill stages lists NATS stages")
    if ((${#leaks[@]})); then
        printf 'error: the build without NATS is not: %s\n' "${leaks[@]}"
        return 1
    fi
    echo "checked: no libnats in the cache, the link lines or the rill command"
    run_ctest nonats "$dir"
    install_into "$dir" "$dir/prefix" "$log_dir/nonats-install.log" || return 1
    run_consumer nonats "$dir/consumer" "$dir/prefix"
}

# libFuzzer needs clang; the whole stack is built with it, instrumented with
# ASan + UBSan, so a crash, a hang (-timeout), a leak (LeakSanitizer at exit)
# or runaway memory (-rss_limit_mb) anywhere under the loader fails the stage.
# The corpus grows in the build directory, never in the source tree.
stage_fuzz() {
    local dir=$build_root/fuzz
    CC=clang CXX=clang++ configure_and_build "$dir" "$log_dir/fuzz-build.log" "$repo" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRILL_SANITIZE=address -DRILL_FUZZ=ON \
        -DRILL_BUILD_TESTS=OFF -DRILL_BUILD_BENCH=OFF -DRILL_BUILD_EXAMPLES=OFF || return 1
    mkdir -p "$dir/corpus"
    # The check corpus's files seed it too (not its .expected outputs).
    rm -rf "$dir/check_seeds" && mkdir -p "$dir/check_seeds" &&
        cp "$repo"/tests/check_corpus/*.yaml "$dir/check_seeds"/ || return 1
    echo "fuzzing the YAML loader for ${FUZZ_SECONDS:-120}s"
    if "$dir/config/config_load_fuzz" -max_total_time="${FUZZ_SECONDS:-120}" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/" \
        "$dir/corpus" "$repo/config/fuzz/corpus" "$dir/check_seeds" </dev/null >"$log_dir/fuzz.log" 2>&1; then
        tail -n 12 "$log_dir/fuzz.log"
        stage_passed[fuzz]=1
        stage_failed[fuzz]=0
    else
        tail -n 60 "$log_dir/fuzz.log"
        echo "error: the fuzzer found a failure; the input is in $dir/ (crash-*, timeout-*, leak-*, oom-*)"
        stage_passed[fuzz]=0
        stage_failed[fuzz]=1
    fi
}

for stage in "${stages[@]}"; do
    echo
    echo "==== stage $stage ===="
    start=$SECONDS
    stage_passed[$stage]=0
    stage_failed[$stage]=0
    stage_note[$stage]=""
    if ! "stage_$stage"; then
        stage_failed[$stage]=1
        stage_note[$stage]="build failed"
    fi
    stage_time[$stage]=$((SECONDS - start))
    total_passed=$((total_passed + stage_passed[$stage]))
    total_failed=$((total_failed + stage_failed[$stage]))
done

echo
echo "==== summary ===="
for stage in "${stages[@]}"; do
    result=ok
    ((stage_failed[$stage])) && result=FAILED
    printf '%-8s %-6s %3d passed, %3d failed  %3dm%02ds  %s\n' "$stage" "$result" \
        "${stage_passed[$stage]}" "${stage_failed[$stage]}" $((stage_time[$stage] / 60)) \
        $((stage_time[$stage] % 60)) "${stage_note[$stage]}"
done
echo "logs: $log_dir"
echo "$total_passed passed, $total_failed failed"
((total_failed == 0))
