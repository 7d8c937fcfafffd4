# Sourced by bench/run.sh and bench/echo.sh: how the rill side of the
# benchmarks is built (Release, -O2, no tests or examples, no sanitizer).
#
# build_rill_bench REPO BUILD_DIR TARGET: configures BUILD_DIR and builds
# TARGET, writing the tools' output to stdout/stderr; fails as they fail.
build_rill_bench() {
    cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
        -DRILL_SANITIZE= -DRILL_BUILD_TESTS=OFF -DRILL_BUILD_EXAMPLES=OFF -DRILL_BUILD_BENCH=ON &&
        cmake --build "$2" --target "$3"
}
