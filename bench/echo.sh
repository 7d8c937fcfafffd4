#!/usr/bin/env bash
# The TCP echo benchmark: a rill echo server (bench_echo_server) and a Go one
# (go/echo), each driven over loopback by the same load generator
# (go/echoload), run alternately RUNS times; prints the medians and rill/Go,
# and the servers' CPU time per echoed message (from /proc/PID/stat).
# See bench/README.md.
#
# usage: bench/echo.sh [--smoke]
#   --smoke   tiny sizes, one run per side: checks the programs still work (CI)
# environment: RUNS (default 5), CONNS (default 1000), SIZE (message bytes,
#   default 64), DURATION (echo run length, default 5s), ACCEPTS (connections
#   in the accept-rate run, default 20000), MAXPROCS (the servers'
#   RILL_MAXPROCS / GOMAXPROCS, default 2), BUILD_DIR (default build-bench).
# Exit status: 0 when every run worked, 1 otherwise (a missed target is not a
# failure).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build-bench}
maxprocs=${MAXPROCS:-2}
runs=${RUNS:-5}
conns=${CONNS:-1000}
size=${SIZE:-64}
duration=${DURATION:-5s}
accepts=${ACCEPTS:-20000}

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$repo/bench/common.sh"
single_bench_arg "$0" "$@"
((smoke)) && runs=1 conns=20 duration=300ms accepts=200

# shellcheck source-path=SCRIPTDIR source=../scripts/deps.sh
source "$repo/scripts/deps.sh"
require_packages cmake ninja-build g++ libspdlog-dev libfmt-dev libboost-dev golang-go || exit 1

mkdir -p "$build_dir"
log_dir=$build_dir/logs
mkdir -p "$log_dir"
echo "building (logs: $log_dir/echo-build-*.log)" >&2
if ! build_rill_bench "$repo" "$build_dir" bench_echo_server >"$log_dir/echo-build-rill.log" 2>&1; then
    tail -n 20 "$log_dir/echo-build-rill.log" >&2
    exit 1
fi
if ! (cd "$repo/bench/go" && for p in echo echoload; do
    GOPROXY=off GOFLAGS=-mod=mod go build -o "$build_dir/go_$p" "./$p" || exit 1
done) >"$log_dir/echo-build-go.log" 2>&1; then
    tail -n 20 "$log_dir/echo-build-go.log" >&2
    exit 1
fi
declare -A server_of=([rill]=$build_dir/bench/bench_echo_server [go]=$build_dir/go_echo)
load=$build_dir/go_echoload

clk_tck=$(getconf CLK_TCK)
# cpu_ticks PID: the user and system time PID has used, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# run_side SIDE: starts SIDE's server, runs the echo and the accept load
# against it, prints "MSGS_PER_S CONNS_PER_S SERVER_CPU_US_PER_MSG" (or
# "ERROR reason").
run_side() {
    local side=$1 out=$log_dir/echo-$side.out pid addr echo_line accept_line t0 t1
    : >"$out"
    RILL_MAXPROCS=$maxprocs GOMAXPROCS=$maxprocs "${server_of[$side]}" 127.0.0.1:0 \
        >"$out" 2>>"$log_dir/echo-$side.log" </dev/null &
    pid=$!
    for _ in $(seq 200); do
        grep -q '^listening ' "$out" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    addr=$(awk '/^listening / { print $2; exit }' "$out")
    if [[ -z $addr ]]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        echo "ERROR server did not start"
        return
    fi
    t0=$(cpu_ticks "$pid")
    echo_line=$(timeout 120 "$load" -addr "$addr" -mode echo -conns "$conns" -size "$size" \
        -duration "$duration" 2>>"$log_dir/echo-$side.log")
    t1=$(cpu_ticks "$pid")
    accept_line=$(timeout 120 "$load" -addr "$addr" -mode accept -n "$accepts" \
        2>>"$log_dir/echo-$side.log")
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    local e a cpu
    e=$(awk '$1 == "echo" { print $2 }' <<<"$echo_line")
    a=$(awk '$1 == "accept" { print $2 }' <<<"$accept_line")
    if [[ -z $e || -z $a ]]; then
        echo "ERROR load generator failed (see $log_dir/echo-$side.log)"
        return
    fi
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" '$1 == "echo" && $4 > 0 { printf "%.3f", d / hz * 1e6 / $4 }' <<<"$echo_line")
    echo "$e $a ${cpu:-0}"
}

declare -A msgs_of=([rill]="" [go]="") accs_of=([rill]="" [go]="") cpus_of=([rill]="" [go]="")
failed=0
for ((r = 1; r <= runs; r++)); do
    for side in rill go; do
        res=$(run_side "$side")
        echo "[echo $r/$runs] $side: $res" >&2
        if [[ $res == ERROR* ]]; then
            failed=1
            continue
        fi
        read -r m a c <<<"$res"
        msgs_of[$side]+="$m"$'\n'
        accs_of[$side]+="$a"$'\n'
        cpus_of[$side]+="$c"$'\n'
    done
done
((failed)) && {
    echo "some runs failed; logs: $log_dir" >&2
    exit 1
}

rill_m=$(median <<<"${msgs_of[rill]}") go_m=$(median <<<"${msgs_of[go]}")
rill_a=$(median <<<"${accs_of[rill]}") go_a=$(median <<<"${accs_of[go]}")
rill_c=$(median <<<"${cpus_of[rill]}") go_c=$(median <<<"${cpus_of[go]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
echo
echo "TCP echo over loopback: $conns connections, $size-byte messages, servers at" \
    "RILL_MAXPROCS=GOMAXPROCS=$maxprocs, median of $runs run(s) per side; higher is better"
printf '| %-22s | %12s | %12s | %7s | %-14s |\n' measure rill Go rill/Go target
printf '| %-22s | %12s | %12s | %7s | %-14s |\n' ---------------------- ------------ \
    ------------ ------- --------------
target="rill/Go >= 1.2"
((runs == 1)) && [[ ${1:-} == --smoke ]] && target="(smoke)"
printf '| %-22s | %12.0f | %12.0f | %7s | %-14s |\n' "echo msgs/s" "$rill_m" "$go_m" \
    "$(ratio "$rill_m" "$go_m")" "$target"
printf '| %-22s | %12.0f | %12.0f | %7s | %-14s |\n' "accepted conns/s" "$rill_a" "$go_a" \
    "$(ratio "$rill_a" "$go_a")" ""
printf '| %-22s | %12.2f | %12.2f | %7s | %-14s |\n' "server CPU us/msg" "$rill_c" "$go_c" \
    "$(ratio "$rill_c" "$go_c")" "(lower better)"
