# Toolchain file for cross-building rill for AArch64 Linux with Debian's
# g++-aarch64-linux-gnu; ctest then runs the test programs under qemu-aarch64.
#
#   cmake -S . -B build-aarch64 -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# fmt and spdlog: the runtime links them, but Debian ships them for the host
# architecture only unless arm64 is added as a dpkg foreign architecture. That
# is a system-wide change (and needs the amd64 and arm64 package versions to
# stay in lockstep), so instead the cross build compiles both header-only from
# the architecture-independent headers in /usr/include that libfmt-dev and
# libspdlog-dev already installed; header-only/ holds stand-ins for their CMake
# packages. Debian's cross compiler searches /usr/include after its own
# sysroot, so those headers are found while glibc's come from the sysroot.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)

# The sysroot of Debian's libc6-arm64-cross, where qemu finds the dynamic
# loader and the shared libraries (libc, libstdc++) of the test programs.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)

set(fmt_DIR ${CMAKE_CURRENT_LIST_DIR}/header-only CACHE PATH "fmt package: header-only stand-in")
set(spdlog_DIR ${CMAKE_CURRENT_LIST_DIR}/header-only CACHE PATH
    "spdlog package: header-only stand-in")

# yaml-cpp is a compiled library that Debian ships for the host architecture
# only (see fmt above), so the cross build leaves out the YAML layer, which
# holds no architecture-specific code; the native stages test it.
set(RILL_BUILD_CONFIG OFF CACHE BOOL "YAML layer: no yaml-cpp for the target")
