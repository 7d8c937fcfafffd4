#!/usr/bin/env bash
# Values per second across the NATS bridge, rill beside Go: bench_natsbridge
# (bench/natsbridge.cpp, the bridge of rill/nats/bridge.hpp) and go/natsbridge
# (the same workloads with the Go client nats.go) run alternately RUNS times,
# each run against a nats-server of its own (JetStream on, a fresh store, a
# port the server picks), 64-byte values:
#   channel     an in-process channel of 64, for scale
#   core        at_most_once: core NATS publish -> subscribe
#   jetstream   at_least_once: publishes stored by JetStream (acknowledgements
#               awaited asynchronously), a durable pull consumer acknowledging
# Prints the median time and rate of each mode and side and the ratio of the
# median times rill/go (below 1: rill faster). See bench/README.md.
#
# usage: bench/natsbridge.sh [--smoke]
#   --smoke   20,000 / 2,000 values, one run per side: checks the programs work
# environment: RUNS (default 5), N (core and channel values, default 200000),
#   JS_N (JetStream values, default 50000), MAXPROCS (RILL_MAXPROCS /
#   GOMAXPROCS, default 2), BUILD_DIR (default build-bench).
# Exit status: 0 when every run worked, 1 otherwise.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build-bench}
maxprocs=${MAXPROCS:-2}
runs=${RUNS:-5}
n=${N:-200000}
js_n=${JS_N:-50000}
# Publish acknowledgements outstanding at most: the bridge's window
# (nats_publish.cpp), given to the Go side too.
window=1024

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$repo/bench/common.sh"
single_bench_arg "$0" "$@"
((smoke)) && runs=1 n=20000 js_n=2000

# shellcheck source-path=SCRIPTDIR source=../scripts/deps.sh
source "$repo/scripts/deps.sh"
require_packages cmake ninja-build g++ libspdlog-dev libfmt-dev libboost-dev libyaml-cpp-dev \
    libnats-dev nats-server golang-go golang-github-nats-io-go-nats-dev || exit 1

log_dir=$build_dir/logs
mkdir -p "$log_dir"
echo "building (logs: $log_dir/natsbridge-build-*.log)" >&2
if ! build_rill_bench "$repo" "$build_dir" bench_natsbridge \
    >"$log_dir/natsbridge-build-rill.log" 2>&1; then
    tail -n 20 "$log_dir/natsbridge-build-rill.log" >&2
    exit 1
fi
if ! build_go_debian "$repo" natsbridge "$build_dir" >"$log_dir/natsbridge-build-go.log" 2>&1; then
    tail -n 20 "$log_dir/natsbridge-build-go.log" >&2
    exit 1
fi
nats_server=$(PATH=$PATH:/usr/sbin:/usr/local/sbin command -v nats-server) || {
    echo "nats-server not found" >&2
    exit 1
}

server_pid=
store=
stop_server() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    [[ -n $store ]] && rm -rf "$store"
    server_pid= store=
}
trap stop_server EXIT

# start_server: a fresh nats-server on a port of its choosing; sets url.
start_server() {
    store=$(mktemp -d)
    "$nats_server" -js -a 127.0.0.1 -p -1 -sd "$store" >"$store/log" 2>&1 &
    server_pid=$!
    local i
    for ((i = 0; i < 500; i++)); do
        url=$(sed -n 's/.*Listening for client connections on \(.*\)$/nats:\/\/\1/p' "$store/log")
        [[ -n $url ]] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.01
    done
    cat "$store/log" >&2
    return 1
}

# run_side SIDE: one run against a fresh server; prints "MODE MS" lines or
# "ERROR reason".
run_side() {
    local side=$1 res
    local -a cmd
    start_server || {
        echo "ERROR nats-server did not start"
        return
    }
    case $side in
    rill) cmd=("$build_dir/bench/bench_natsbridge" "$url" "$n" "$js_n") ;;
    go) cmd=("$build_dir/go_natsbridge" "$url" "$n" "$js_n" "$window") ;;
    esac
    res=$(RILL_MAXPROCS=$maxprocs GOMAXPROCS=$maxprocs timeout -k 10 300 "${cmd[@]}" \
        2>>"$log_dir/natsbridge-$side.log" </dev/null) || {
        echo "ERROR exit $? (see $log_dir/natsbridge-$side.log)"
        stop_server
        return
    }
    stop_server
    awk '$1 == "natsbridge" && $4 == "values" && $6 == "ms" { print $2, $5; found++ }
         END { if (found != 3) print "ERROR bad output" }' <<<"$res"
}

modes=(channel core jetstream)
sides=(rill go)
declare -A ms_of
failed=0
for ((r = 1; r <= runs; r++)); do
    for side in "${sides[@]}"; do
        res=$(run_side "$side")
        echo "[natsbridge $r/$runs] $side: $(tr '\n' ' ' <<<"$res")" >&2
        if grep -q ERROR <<<"$res"; then
            failed=1
            continue
        fi
        while read -r mode ms; do ms_of[$side.$mode]+="$ms"$'\n'; done <<<"$res"
    done
done
((failed)) && {
    echo "some runs failed; logs: $log_dir" >&2
    exit 1
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
rate() { awk -v ms="$1" -v n="$2" 'BEGIN { printf "%.0f", (ms > 0) ? n / ms * 1000 : 0 }'; }
echo
echo "64-byte values, $n (jetstream $js_n) per run, RILL_MAXPROCS=GOMAXPROCS=$maxprocs," \
    "median of $runs run(s) per side"
printf '| %-9s | %10s | %12s | %10s | %12s | %12s |\n' mode "rill ms" "rill vals/s" "go ms" \
    "go vals/s" "rill/go time"
printf '| %-9s | %10s | %12s | %10s | %12s | %12s |\n' --------- ---------- ------------ \
    ---------- ------------ ------------
for mode in "${modes[@]}"; do
    count=$n
    [[ $mode == jetstream ]] && count=$js_n
    rill_ms=$(median <<<"${ms_of[rill.$mode]}")
    go_ms=$(median <<<"${ms_of[go.$mode]}")
    printf '| %-9s | %10.1f | %12s | %10.1f | %12s | %12s |\n' "$mode" "$rill_ms" \
        "$(rate "$rill_ms" "$count")" "$go_ms" "$(rate "$go_ms" "$count")" \
        "$(ratio "$rill_ms" "$go_ms")"
done
echo "logs: $log_dir"
