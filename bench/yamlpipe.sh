#!/usr/bin/env bash
# The cost of the YAML layer: the pipeline example (examples/pipeline) run
# three ways over one generated access log: from its topology file through
# the loader and runner (yaml), hand-written with the CSP layer (csp; both
# are bench_yamlpipe, bench/yamlpipe.cpp) and as idiomatic Go (go/yamlpipe).
# Runs them alternately RUNS times, checks that the three outputs are
# identical, and prints the medians (lines per second) and the ratios of the
# times yaml/csp (target <= 1.10) and yaml/go. See bench/README.md.
#
# usage: bench/yamlpipe.sh [--smoke]
#   --smoke   10,000 lines, one run per side: checks the programs still work (CI)
# environment: RUNS (default 5), LINES (default 1000000), MAXPROCS
#   (RILL_MAXPROCS / GOMAXPROCS, default 2), BUILD_DIR (default build-bench).
# Exit status: 0 when every run worked and the outputs agreed, 1 otherwise (a
# missed target is not a failure).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build-bench}
maxprocs=${MAXPROCS:-2}
runs=${RUNS:-5}
lines=${LINES:-1000000}

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$repo/bench/common.sh"
single_bench_arg "$0" "$@"
((smoke)) && runs=1 lines=10000

# shellcheck source-path=SCRIPTDIR source=../scripts/deps.sh
source "$repo/scripts/deps.sh"
require_packages cmake ninja-build g++ libspdlog-dev libfmt-dev libboost-dev libyaml-cpp-dev \
    golang-go || exit 1

mkdir -p "$build_dir"
log_dir=$build_dir/logs
mkdir -p "$log_dir"
echo "building (logs: $log_dir/yamlpipe-build-*.log)" >&2
if ! build_rill_bench "$repo" "$build_dir" bench_yamlpipe >"$log_dir/yamlpipe-build-rill.log" 2>&1; then
    tail -n 20 "$log_dir/yamlpipe-build-rill.log" >&2
    exit 1
fi
if ! (cd "$repo/bench/go" && GOPROXY=off GOFLAGS=-mod=mod go build -o "$build_dir/go_yamlpipe" \
    ./yamlpipe) >"$log_dir/yamlpipe-build-go.log" 2>&1; then
    tail -n 20 "$log_dir/yamlpipe-build-go.log" >&2
    exit 1
fi
rill_bin=$build_dir/bench/bench_yamlpipe
input=$build_dir/yamlpipe-$lines.log
[[ -s $input ]] || "$rill_bin" gen "$lines" "$input" || exit 1

# run_side SIDE: runs SIDE once over the input, prints "MS LINES" (or "ERROR
# reason"); its output goes to yamlpipe-SIDE.out.
run_side() {
    local side=$1 out res
    out=$build_dir/yamlpipe-$side.out
    local -a cmd
    case $side in
    yaml) cmd=("$rill_bin" yaml "$repo/examples/pipeline/pipeline.yaml" "$input" "$out") ;;
    csp) cmd=("$rill_bin" csp "$input" "$out") ;;
    go) cmd=("$build_dir/go_yamlpipe" "$input" "$out") ;;
    esac
    res=$(RILL_MAXPROCS=$maxprocs GOMAXPROCS=$maxprocs timeout -k 10 300 "${cmd[@]}" \
        2>>"$log_dir/yamlpipe-$side.log" </dev/null) || {
        echo "ERROR exit $? (see $log_dir/yamlpipe-$side.log)"
        return
    }
    awk '$1 == "yamlpipe" && $3 == "ms" && $5 == "lines" { print $2, $4; found = 1 }
         END { if (!found) print "ERROR bad output" }' <<<"$res"
}

sides=(yaml csp go)
declare -A ms_of=([yaml]="" [csp]="" [go]="")
failed=0
for ((r = 1; r <= runs; r++)); do
    for side in "${sides[@]}"; do
        res=$(run_side "$side")
        echo "[yamlpipe $r/$runs] $side: $res" >&2
        read -r ms n <<<"$res"
        if [[ $ms == ERROR ]]; then
            failed=1
        elif [[ $n != "$lines" ]]; then
            echo "$side read $n lines, not $lines" >&2
            failed=1
        elif ! cmp -s "$build_dir/yamlpipe-$side.out" "$build_dir/yamlpipe-yaml.out"; then
            echo "$side's output differs from yaml's ($build_dir/yamlpipe-*.out)" >&2
            failed=1
        else
            ms_of[$side]+="$ms"$'\n'
        fi
    done
done
((failed)) && {
    echo "some runs failed; logs: $log_dir" >&2
    exit 1
}

declare -A med_of
for side in "${sides[@]}"; do med_of[$side]=$(median <<<"${ms_of[$side]}"); done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
rate() { awk -v ms="$1" -v n="$lines" 'BEGIN { printf "%.0f", (ms > 0) ? n / ms * 1000 : 0 }'; }
echo
echo "examples/pipeline over $lines lines, RILL_MAXPROCS=GOMAXPROCS=$maxprocs, median of" \
    "$runs run(s) per side"
printf '| %-4s | %10s | %12s | %-16s | %-15s |\n' side "median ms" "lines/s" "time vs yaml" target
printf '| %-4s | %10s | %12s | %-16s | %-15s |\n' ---- ---------- ------------ \
    ---------------- ---------------
target="yaml/csp <= 1.10"
[[ ${1:-} == --smoke ]] && target="(smoke)"
printf '| %-4s | %10.1f | %12s | %-16s | %-15s |\n' yaml "${med_of[yaml]}" \
    "$(rate "${med_of[yaml]}")" "" ""
printf '| %-4s | %10.1f | %12s | %-16s | %-15s |\n' csp "${med_of[csp]}" \
    "$(rate "${med_of[csp]}")" "yaml/csp $(ratio "${med_of[yaml]}" "${med_of[csp]}")" "$target"
printf '| %-4s | %10.1f | %12s | %-16s | %-15s |\n' go "${med_of[go]}" \
    "$(rate "${med_of[go]}")" "yaml/go $(ratio "${med_of[yaml]}" "${med_of[go]}")" ""
echo "logs: $log_dir"
