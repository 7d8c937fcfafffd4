#!/usr/bin/env bash
# What serving metrics costs a pipeline: the pipeline example (examples/pipeline)
# over one generated access log, run alternately without the admin endpoint
# (plain) and with `--http 127.0.0.1:0` and /metrics scraped once a second by
# curl (scraped), as Prometheus would. Prints the median times and their
# ratio (target: scraped/plain <= 1.02). Uses an existing build (the examples
# and bench_yamlpipe, which generates the log) rather than building one.
#
# usage: bench/adminscrape.sh [--smoke]
#   --smoke   100,000 lines, one run per side: checks the script still works
# environment: RUNS (default 5), LINES (default 4000000), MAXPROCS
#   (RILL_MAXPROCS, default 2), BUILD_DIR (default build).
# Exit status: 0 when every run worked, 1 otherwise (a missed target is not
# a failure).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build}
maxprocs=${MAXPROCS:-2}
runs=${RUNS:-5}
lines=${LINES:-4000000}

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$repo/bench/common.sh"
single_bench_arg "$0" "$@"
((smoke)) && runs=1 lines=100000

pipeline=$build_dir/examples/pipeline/pipeline
gen=$build_dir/bench/bench_yamlpipe
for exe in "$pipeline" "$gen"; do
    [[ -x $exe ]] || {
        echo "$exe not built (cmake --build $build_dir --target pipeline bench_yamlpipe)" >&2
        exit 1
    }
done
command -v curl >/dev/null || {
    echo "curl is needed for the scrapes" >&2
    exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
input=$work/access-$lines.log
"$gen" gen "$lines" "$input" >/dev/null || exit 1

# scrape_every_second LOG: once LOG names the endpoint, GETs /metrics every
# second until killed; each answer must be a 200.
scrape_every_second() {
    local url=""
    until [[ -n $url ]]; do
        url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$1" 2>/dev/null | head -n 1)
        sleep 0.01
    done
    while :; do
        curl -sf -o /dev/null "${url}metrics" || echo "scrape failed" >>"$work/scrape-errors"
        sleep 1
    done
}

# run_side SIDE: one run; prints its wall time in ms, or ERROR.
run_side() {
    local side=$1 log=$work/$1.log start end scraper=""
    local -a http=()
    [[ $side == scraped ]] && http=(--http 127.0.0.1:0)
    : >"$log"
    start=$(date +%s%N)
    INPUT=$input OUTPUT=$work/$side.out RILL_MAXPROCS=$maxprocs \
        "$pipeline" run "$repo/examples/pipeline/pipeline.yaml" "${http[@]}" 2>"$log" &
    local pid=$!
    if [[ $side == scraped ]]; then
        scrape_every_second "$log" &
        scraper=$!
    fi
    wait "$pid"
    local rc=$?
    end=$(date +%s%N)
    [[ -n $scraper ]] && kill "$scraper" && wait "$scraper" 2>/dev/null
    if ((rc != 0)); then
        echo "ERROR exit $rc"
    else
        echo $(((end - start) / 1000000))
    fi
}

declare -A ms_of=([plain]="" [scraped]="")
failed=0
for ((r = 1; r <= runs; r++)); do
    for side in plain scraped; do
        ms=$(run_side "$side")
        echo "[adminscrape $r/$runs] $side: $ms ms" >&2
        if [[ $ms == ERROR* ]]; then failed=1; else ms_of[$side]+="$ms"$'\n'; fi
    done
    cmp -s "$work/plain.out" "$work/scraped.out" || {
        echo "the outputs differ" >&2
        failed=1
    }
done
[[ -s $work/scrape-errors ]] && {
    echo "$(wc -l <"$work/scrape-errors") scrapes failed" >&2
    failed=1
}
((failed)) && exit 1
plain=$(median <<<"${ms_of[plain]}")
scraped=$(median <<<"${ms_of[scraped]}")
echo "examples/pipeline over $lines lines, RILL_MAXPROCS=$maxprocs, median of $runs run(s):"
awk -v p="$plain" -v s="$scraped" 'BEGIN {
    printf "plain %.0f ms, scraped every second %.0f ms: scraped/plain %.3f (target <= 1.02)\n",
        p, s, (p > 0) ? s / p : 0 }'
