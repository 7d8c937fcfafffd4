# rill_add_layer(NAME SOURCE...): one layer's static library, rill_NAME with
# the alias rill::NAME, whose public headers are the calling folder's
# include/; installed and exported as rill::NAME (rillTargets). The caller
# adds the layer's own link dependencies.
function(rill_add_layer name)
  add_library(rill_${name} STATIC ${ARGN})
  add_library(rill::${name} ALIAS rill_${name})
  set_target_properties(rill_${name} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME rill_${name})
  target_include_directories(rill_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(rill_${name} PUBLIC cxx_std_20)
  install(TARGETS rill_${name} EXPORT rillTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY include/rill DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()
