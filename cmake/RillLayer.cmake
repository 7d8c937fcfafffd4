# rill_add_layer(NAME [EXPORT SET] SOURCE...): one layer's static library,
# rill_NAME with the alias rill::NAME, whose public headers are the calling
# folder's include/; installed and exported as rill::NAME in the export set
# SET (default rillTargets, which rillConfig.cmake always loads; an optional
# layer such as nats has a set of its own, loaded for its component only).
# The caller adds the layer's own link dependencies.
function(rill_add_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "EXPORT" "")
  if(NOT arg_EXPORT)
    set(arg_EXPORT rillTargets)
  endif()
  add_library(rill_${name} STATIC ${arg_UNPARSED_ARGUMENTS})
  add_library(rill::${name} ALIAS rill_${name})
  set_target_properties(rill_${name} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME rill_${name})
  target_include_directories(rill_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(rill_${name} PUBLIC cxx_std_20)
  install(TARGETS rill_${name} EXPORT ${arg_EXPORT} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY include/rill DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()
