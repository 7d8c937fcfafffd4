# Sourced by the benchmark scripts (bench/run.sh, echo.sh, yamlpipe.sh): how
# the rill side is built (Release, -O2, no tests or examples, no sanitizer),
# the one optional argument of echo.sh and yamlpipe.sh, and medians.
#
# build_rill_bench REPO BUILD_DIR TARGET: configures BUILD_DIR and builds
# TARGET, writing the tools' output to stdout/stderr; fails as they fail.
build_rill_bench() {
    cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
        -DRILL_SANITIZE= -DRILL_BUILD_TESTS=OFF -DRILL_BUILD_EXAMPLES=OFF -DRILL_BUILD_BENCH=ON &&
        cmake --build "$2" --target "$3"
}

# single_bench_arg SCRIPT [ARG]: --help prints SCRIPT's usage and exits 0;
# --smoke sets smoke=1 (else smoke=0); anything else exits 2.
single_bench_arg() {
    smoke=0
    case ${2:-} in
    --smoke) smoke=1 ;;
    -h | --help)
        sed -n '/^# usage:/,/^# Exit status/p' "$1" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    "") ;;
    *)
        echo "unknown argument $2" >&2
        exit 2
        ;;
    esac
}

# median: the median of the numbers on stdin, one per line.
median() { sort -g | awk 'NF { v[++n] = $1 } END { print (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'; }
