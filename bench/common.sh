# Sourced by the benchmark scripts (bench/run.sh, echo.sh, yamlpipe.sh,
# natsbridge.sh, checksize.sh): how the rill side is built (Release, -O2, no
# tests or examples, no sanitizer), how the Go programs that use Debian's Go
# packages are built, the one optional argument of the single-benchmark
# scripts, and medians.
#
# build_rill_bench REPO BUILD_DIR TARGET: configures BUILD_DIR and builds
# TARGET, writing the tools' output to stdout/stderr; fails as they fail.
build_rill_bench() {
    cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
        -DRILL_SANITIZE= -DRILL_BUILD_TESTS=OFF -DRILL_BUILD_EXAMPLES=OFF -DRILL_BUILD_BENCH=ON &&
        cmake --build "$2" --target "$3"
}

# build_go_debian REPO NAME BUILD_DIR: builds bench/go/NAME into
# BUILD_DIR/go_NAME in GOPATH mode, its imports taken from Debian's Go
# packages (/usr/share/gocode): nothing is downloaded.
build_go_debian() {
    (cd "$1/bench/go/$2" && GO111MODULE=off GOPATH=/usr/share/gocode go build -o "$3/go_$2" .)
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
