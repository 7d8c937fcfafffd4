# Reading markdown in CMake, for CMakeLists.txt and check_links.cmake here.
# CMake lists split at ';' and treat '[', ']' and '\' specially, so the text
# is read with those replaced by placeholders; rill_md_unescape restores them.

# The lines of FILE, escaped, as a list (empty lines included).
function(rill_md_lines out file)
  file(READ ${file} text)
  string(REPLACE ";" "@RILL_SC@" text "${text}")
  string(REPLACE "[" "@RILL_LB@" text "${text}")
  string(REPLACE "]" "@RILL_RB@" text "${text}")
  string(REPLACE "\\" "@RILL_BS@" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(${out} "${lines}" PARENT_SCOPE)
endfunction()

function(rill_md_unescape out text)
  string(REPLACE "@RILL_SC@" ";" text "${text}")
  string(REPLACE "@RILL_LB@" "[" text "${text}")
  string(REPLACE "@RILL_RB@" "]" text "${text}")
  string(REPLACE "@RILL_BS@" "\\" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()
