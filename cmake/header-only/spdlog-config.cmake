# Stand-in for spdlog's CMake package in cross builds (see
# ../aarch64-linux-gnu.cmake): spdlog::spdlog compiles spdlog header-only (no
# SPDLOG_COMPILED_LIB) from the architecture-independent headers of Debian's
# libspdlog-dev, on top of the header-only fmt::fmt beside this file.
if(NOT EXISTS /usr/include/spdlog/spdlog-inl.h)
  set(spdlog_FOUND FALSE)
  set(spdlog_NOT_FOUND_MESSAGE "the spdlog headers are missing: install libspdlog-dev")
  return()
endif()
include(CMakeFindDependencyMacro)
find_dependency(Threads)
find_dependency(fmt CONFIG PATHS ${CMAKE_CURRENT_LIST_DIR} NO_DEFAULT_PATH)
if(NOT TARGET spdlog::spdlog)
  add_library(spdlog::spdlog INTERFACE IMPORTED)
  set_target_properties(spdlog::spdlog PROPERTIES
    INTERFACE_COMPILE_DEFINITIONS SPDLOG_FMT_EXTERNAL
    INTERFACE_LINK_LIBRARIES "Threads::Threads;fmt::fmt")
endif()
