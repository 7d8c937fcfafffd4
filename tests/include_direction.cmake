# cmake -DCONFIG_DIR=<source>/config -P include_direction.cmake: fails, naming
# every offending line, when an include points the wrong way in the config
# layer. config/src/format (the file format) may include only itself and the
# public headers of the format: not src/run, src/stages or src/test, not the public
# headers of running (runner.hpp, stage_io.hpp, command.hpp). No file under
# config/ includes the nats layer (rill/nats/...), which sits above it, or
# libnats (nats/nats.h), which only that layer needs. With -DADMIN_DIR=<source>/admin:
# the admin layer, on the runtime alone, includes no layer above it (csp,
# supervisor, config, nats).
if(NOT IS_DIRECTORY "${CONFIG_DIR}/src/format")
  message(FATAL_ERROR "CONFIG_DIR=${CONFIG_DIR}: no src/format there")
endif()
set(ws "[ \t]*")
set(bad "")
# wrong_includes(REGEX FILE...): adds to bad every include line of the FILEs
# whose header path matches REGEX (anchored at the path's start).
function(wrong_includes regex)
  foreach(f IN LISTS ARGN)
    file(STRINGS "${f}" lines REGEX "^${ws}#${ws}include")
    foreach(line IN LISTS lines)
      if(line MATCHES "#${ws}include${ws}[\"<](${regex})")
        list(APPEND bad "${f}: ${line}")
      endif()
    endforeach()
  endforeach()
  set(bad "${bad}" PARENT_SCOPE)
endfunction()
file(GLOB_RECURSE format_files "${CONFIG_DIR}/src/format/*")
wrong_includes("(run|stages|test)/|rill/config/(runner|stage_io|command)\\.hpp" ${format_files})
file(GLOB_RECURSE config_files "${CONFIG_DIR}/src/*" "${CONFIG_DIR}/include/*" "${CONFIG_DIR}/cli/*")
wrong_includes("(rill/)?nats/" ${config_files})
if(ADMIN_DIR)
  file(GLOB_RECURSE admin_files "${ADMIN_DIR}/src/*" "${ADMIN_DIR}/include/*")
  if(NOT admin_files)
    message(FATAL_ERROR "ADMIN_DIR=${ADMIN_DIR}: no sources there")
  endif()
  wrong_includes("rill/(csp|supervisor|config|nats)[/.]" ${admin_files})
endif()
list(LENGTH format_files n)
if(bad)
  list(JOIN bad "\n  " text)
  message(FATAL_ERROR "includes against the layering (format/ -> run/, stages/; config -> nats; "
    "admin -> csp, supervisor, config, nats):\n  ${text}")
endif()
message(STATUS "${n} files in config/src/format: no include of run/, stages/ or nats")
