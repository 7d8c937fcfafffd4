# Stand-in for fmt's CMake package in cross builds (see ../aarch64-linux-gnu.cmake):
# fmt::fmt compiles fmt header-only from the architecture-independent headers
# of Debian's libfmt-dev, so no target-architecture libfmt is needed.
if(NOT EXISTS /usr/include/fmt/format-inl.h)
  set(fmt_FOUND FALSE)
  set(fmt_NOT_FOUND_MESSAGE "the fmt headers are missing: install libfmt-dev")
  return()
endif()
if(NOT TARGET fmt::fmt)
  add_library(fmt::fmt INTERFACE IMPORTED)
  set_target_properties(fmt::fmt PROPERTIES INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)
endif()
