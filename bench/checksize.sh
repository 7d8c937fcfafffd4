#!/usr/bin/env bash
# `rill check` time and peak memory against file size, beside a Go reference
# doing the same checks (bench/go/checksize: gopkg.in/yaml.v3, as Go tools
# like Benthos' lint read YAML). The files are valid chains of N stages
# (generate -> grep x (N-1) -> write_lines) over N channels, about 15 YAML
# nodes per stage, for about 1k, 10k, 100k and 1M nodes (the loader's limit
# is 1,000,000). Each size runs RUNS times per side, alternating, under GNU
# time; prints the median wall time and peak resident memory of each side
# and the ratios rill/Go (below 1: rill faster or smaller). See
# bench/README.md.
#
# usage: bench/checksize.sh [--smoke]
#   --smoke   the two smallest sizes, one run per side: checks the programs work
# environment: RUNS (default 5), BUILD_DIR (default build-bench).
# Exit status: 0 when every run checked its file as valid, 1 otherwise.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build-bench}
runs=${RUNS:-5}

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$repo/bench/common.sh"
single_bench_arg "$0" "$@"
stages_list=(66 666 6666 66000)
((smoke)) && runs=1 stages_list=(66 666)

# shellcheck source-path=SCRIPTDIR source=../scripts/deps.sh
source "$repo/scripts/deps.sh"
require_packages cmake ninja-build g++ libspdlog-dev libfmt-dev libboost-dev libyaml-cpp-dev \
    libnats-dev golang-go golang-gopkg-yaml.v3-dev time || exit 1

log_dir=$build_dir/logs
mkdir -p "$log_dir"
echo "building (logs: $log_dir/checksize-build-*.log)" >&2
if ! build_rill_bench "$repo" "$build_dir" rill_cli >"$log_dir/checksize-build-rill.log" 2>&1; then
    tail -n 20 "$log_dir/checksize-build-rill.log" >&2
    exit 1
fi
if ! build_go_debian "$repo" checksize "$build_dir" >"$log_dir/checksize-build-go.log" 2>&1; then
    tail -n 20 "$log_dir/checksize-build-go.log" >&2
    exit 1
fi
rill_bin=$build_dir/config/rill
go_bin=$build_dir/go_checksize

# generate N FILE: the chain of N stages.
generate() {
    awk -v n="$1" 'BEGIN {
        print "channels:"
        for (i = 0; i < n; i++) printf "  c%d: string\n", i
        print "stages:"
        print "  s0: {stage: generate, out: c0}"
        for (i = 1; i < n; i++)
            printf "  s%d: {stage: grep, in: c%d, out: c%d, args: {pattern: x}}\n", i, i - 1, i
        printf "  s%d: {stage: write_lines, in: c%d}\n", n, n - 1
    }' >"$2"
}

# measure SIDE FILE: "MILLISECONDS KIB" of one run (wall time, peak resident
# memory), or "ERROR reason".
measure() {
    local out t0 t1
    local -a cmd=("$rill_bin" check "$2")
    [[ $1 == go ]] && cmd=("$go_bin" "$2")
    t0=$(date +%s%N)
    out=$(/usr/bin/time -f '%M' -o "$log_dir/checksize-time" "${cmd[@]}" 2>&1) || {
        echo "ERROR $(head -c 200 <<<"$out")"
        return
    }
    t1=$(date +%s%N)
    [[ $out == *": ok ("* ]] || {
        echo "ERROR $(head -c 200 <<<"$out")"
        return
    }
    echo "$(((t1 - t0) / 1000000)) $(cat "$log_dir/checksize-time")"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

status=0
printf '| nodes | bytes | rill ms | Go ms | time rill/Go | rill MiB | Go MiB | memory rill/Go |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for n in "${stages_list[@]}"; do
    file=$build_dir/checksize-$n.yaml
    generate "$n" "$file"
    declare -A secs=() kib=()
    for ((r = 0; r < runs; r++)); do
        for side in rill go; do
            res=$(measure "$side" "$file")
            if [[ $res == ERROR* ]]; then
                echo "$side, $n stages: $res" >&2
                status=1
                continue
            fi
            echo "$side $n stages: $res" >&2
            secs[$side]+="${res% *} "
            kib[$side]+="${res#* } "
        done
    done
    if [[ -n ${secs[rill]:-} && -n ${secs[go]:-} ]]; then
        rs=$(tr ' ' '\n' <<<"${secs[rill]}" | grep . | median)
        gs=$(tr ' ' '\n' <<<"${secs[go]}" | grep . | median)
        rk=$(tr ' ' '\n' <<<"${kib[rill]}" | grep . | median)
        gk=$(tr ' ' '\n' <<<"${kib[go]}" | grep . | median)
        awk -v n="$n" -v b="$(stat -c %s "$file")" -v rs="$rs" -v gs="$gs" -v rk="$rk" \
            -v gk="$gk" 'BEGIN {
            t = gs > 0 ? sprintf("%.2f", rs / gs) : "-"
            printf "| %d | %d | %d | %d | %s | %.1f | %.1f | %.2f |\n", 15 * n + 4, b, rs, gs, t,
                rk / 1024, gk / 1024, rk / gk
        }'
    fi
    unset secs kib
done
exit $status
