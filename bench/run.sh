#!/usr/bin/env bash
# Runs the rill-versus-Go benchmark suite and prints a comparison table; see
# bench/README.md. Builds bench_workloads in Release (-O2) in its own build
# directory and the Go reference with plain `go build` (no network), then runs
# each workload RUNS times per side, alternating rill and Go, under a timeout,
# and compares the medians. A program that fails, hangs or prints nonsense
# shows up as an error in its cell; the rest of the suite still runs.
#
# usage: bench/run.sh [--smoke] [WORKLOAD...]
#   --smoke   one run per side with tiny sizes: checks the programs still work
#             (for CI); nothing is timed against targets.
# environment: RUNS (default 5), TIMEOUT seconds per run (default 300; 60 in
# smoke mode), MAXPROCS (default 2), BUILD_DIR (default build-bench).
# Exit status: 0 when every program ran and verified its result, 1 otherwise.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build-bench}
maxprocs=${MAXPROCS:-2}

# name | workload argument | N | smoke N | target kind (ratio: rill/Go median at
# most; max: rill median at most, absolute; info: no target, a reference that
# explains other rows) | target [| its unit]
workload_table="
skynet   skynet   1000000  1000  ratio 0.5
spawn    spawn    1000000  1000  ratio 0.5
pingpong pingpong 1000000  1000  ratio 0.5
spsc     spsc     10000000 10000 ratio 0.7
mpmc     mpmc     10000000 10000 ratio 0.7
select   select   10000000 10000 ratio 0.7
ring     ring     10000000 10000 ratio 0.5
mutex    mutex    1000000  1000  ratio 1.0
parked100k parked 100000   1000  ratio 0.8
rss100k  rss      100000   1000  max   4.5 KiB/goroutine
rss1m    rss      1000000  1000  max   4.5 KiB/goroutine
joined100k joined 100000   1000  max   440  MiB
quiet100k quiet   100000   1000  max   50   MiB
joined1m joined   1000000  1000  max   4400 MiB
quiet1m  quiet    1000000  1000  max   400  MiB
timers   timers   100000   1000  max   5   ms
pipeline3 pipeline3 10000000 10000 ratio 0.7
fanin8   fanin8   10000000 10000 ratio 0.7
pmap8    pmap8    2000000  10000 ratio 0.7
preempt  preempt  200      20    max   15  ms
blockcall blockcall 300000000 100000 ratio 1.0
restart  restart  10000    100   ratio 1.0
storm    storm    1000     100   ratio 1.0
children1k children 1000   100   ratio 1.0
children10k children 10000 100   ratio 1.0
children100k children 100000 100 ratio 1.0
panic    panic    1000000  1000  info  -
"

smoke=0
selected=()
for arg in "$@"; do
    case $arg in
    --smoke) smoke=1 ;;
    -h | --help)
        sed -n '/^# usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "unknown option $arg" >&2
        exit 2
        ;;
    *)
        if ! awk -v n="$arg" '$1 == n { found = 1 } END { exit !found }' <<<"$workload_table"; then
            echo "unknown workload $arg; known: $(awk 'NF { printf "%s ", $1 }' <<<"$workload_table")" >&2
            exit 2
        fi
        selected+=("$arg")
        ;;
    esac
done
if ((smoke)); then
    runs=1
    timeout_s=${TIMEOUT:-60}
else
    runs=${RUNS:-5}
    timeout_s=${TIMEOUT:-300}
fi
if [[ ! $runs =~ ^[1-9][0-9]*$ || ! $timeout_s =~ ^[1-9][0-9]*$ || ! $maxprocs =~ ^[1-9][0-9]*$ ]]; then
    echo "RUNS, TIMEOUT and MAXPROCS must be positive integers" >&2
    exit 2
fi

mkdir -p "$build_dir"
log_dir=$build_dir/logs
rm -rf "$log_dir"
mkdir -p "$log_dir"

# Build both sides; a side that fails to build reports its reason in every cell.
declare -A bin_of=([rill]=$build_dir/bench/bench_workloads [go]=$build_dir/go_workloads)
declare -A broken_of=([rill]="" [go]="") vals_of err_of med_of cell_of
echo "building rill benchmarks in $build_dir (log: $log_dir/build-rill.log)" >&2
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$repo/bench/common.sh"
if ! build_rill_bench "$repo" "$build_dir" bench_workloads >"$log_dir/build-rill.log" 2>&1; then
    broken_of[rill]="build failed"
    tail -n 20 "$log_dir/build-rill.log" >&2
fi
echo "building Go reference (log: $log_dir/build-go.log)" >&2
if ! command -v go >/dev/null; then
    broken_of[go]="no go"
elif ! (cd "$repo/bench/go" && GOPROXY=off GOFLAGS=-mod=mod go build -o "${bin_of[go]}" .) \
    >"$log_dir/build-go.log" 2>&1; then
    broken_of[go]="build failed"
    tail -n 20 "$log_dir/build-go.log" >&2
fi

# run_one BINARY WORKLOAD N LOG: prints "value unit" of a verified run, or
# "ERROR reason" when the program failed, timed out or printed no result.
run_one() {
    local bin=$1 workload=$2 n=$3 log=$4 out rc name value unit
    out=$(RILL_MAXPROCS=$maxprocs GOMAXPROCS=$maxprocs \
        timeout -k 10 "$timeout_s" "$bin" "$workload" "$n" 2>>"$log" </dev/null)
    rc=$?
    if ((rc == 124 || rc == 137)); then
        echo "ERROR timeout"
        return
    elif ((rc > 128)); then
        echo "ERROR signal $((rc - 128))"
        return
    elif ((rc != 0)); then
        echo "ERROR exit $rc"
        return
    fi
    read -r name value unit <<<"$(tail -n 1 <<<"$out")"
    if [[ $name != "$workload" || ! $value =~ ^-?[0-9]+(\.[0-9]+)?$ || -z $unit ]]; then
        echo "ERROR bad output"
        return
    fi
    echo "$value $unit"
}

at_most() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "yes" : "NO" }'; }

row() { printf '| %-8s | %-24s | %-24s | %-7s | %-22s | %-5s |\n' "$@"; }
table=$(row workload "rill median" "Go median" rill/Go target met?)
table+=$'\n'$(row -------- ------------------------ ------------------------ ------- \
    ---------------------- -----)
failed=0
while read -r name workload full_n smoke_n kind target target_unit; do
    [[ -z $name ]] && continue
    if ((${#selected[@]})) && [[ " ${selected[*]} " != *" $name "* ]]; then continue; fi
    n=$full_n
    ((smoke)) && n=$smoke_n
    vals_of=([rill]="" [go]="") err_of=([rill]="" [go]="") unit=""
    for ((r = 1; r <= runs; r++)); do
        for side in rill go; do
            # A side that failed once is not run again for this workload.
            [[ -n ${broken_of[$side]} || -n ${err_of[$side]} ]] && continue
            res=$(run_one "${bin_of[$side]}" "$workload" "$n" "$log_dir/$name-$side.log")
            echo "[$name $r/$runs] $side: $res" >&2
            if [[ $res == ERROR* ]]; then
                err_of[$side]=${res#ERROR }
            else
                read -r value unit <<<"$res"
                vals_of[$side]+="$value"$'\n'
            fi
        done
    done
    # A side's cell is its median, or why it has none.
    med_of=() cell_of=()
    for side in rill go; do
        if [[ -n ${broken_of[$side]} || -n ${err_of[$side]} ]]; then
            cell_of[$side]="error: ${broken_of[$side]:-${err_of[$side]}}"
        else
            med_of[$side]=$(median <<<"${vals_of[$side]}")
            cell_of[$side]=$(printf '%.4g %s' "${med_of[$side]}" "$unit")
        fi
    done
    [[ -n ${broken_of[rill]} || -n ${err_of[rill]} || -n ${err_of[go]} || ${broken_of[go]} == "build failed" ]] &&
        failed=1

    ratio=n/a met=error
    if [[ -n ${med_of[rill]:-} && -n ${med_of[go]:-} ]]; then
        ratio=$(awk -v a="${med_of[rill]}" -v b="${med_of[go]}" \
            'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    fi
    if ((smoke)); then
        target_text="(smoke: not timed)"
        [[ -n ${med_of[rill]:-} && (-n ${med_of[go]:-} || ${broken_of[go]} == "no go") ]] && met=ran
    elif [[ $kind == info ]]; then
        target_text="none (reference)"
        met=-
        [[ $ratio == n/a ]] && met=error
    elif [[ $kind == ratio ]]; then
        target_text="rill/Go <= $target"
        [[ $ratio != n/a ]] && met=$(at_most "$ratio" "$target")
    else
        target_text="<= $target $target_unit"
        [[ -n ${med_of[rill]:-} ]] && met=$(at_most "${med_of[rill]}" "$target")
    fi
    table+=$'\n'$(row "$name" "${cell_of[rill]}" "${cell_of[go]}" "$ratio" "$target_text" "$met")
done <<<"$workload_table"

echo
echo "rill vs Go, GOMAXPROCS=RILL_MAXPROCS=$maxprocs, median of $runs run(s) per side; lower is better"
echo "$table"
echo "logs: $log_dir"
exit $failed
