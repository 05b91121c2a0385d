# Sanitizer and fuzzer builds, each in a build directory of its own
# (scripts/sanitize.sh, scripts/fuzz.sh): the flags apply to everything the
# directory compiles, so a library and the test that drives it agree.
#
#   VIGIL_SANITIZE=address,undefined   ASan + UBSan (gcc or clang)
#   VIGIL_SANITIZE=thread              TSan; abseil must be a TSan build too
#                                      (CMAKE_PREFIX_PATH), or its mutexes are
#                                      invisible and every lock looks missing
#   VIGIL_FUZZ=ON                      libFuzzer targets in fuzz/ (clang only),
#                                      with ASan + UBSan
set(VIGIL_SANITIZE "" CACHE STRING "-fsanitize= list for every target (address,undefined or thread)")
option(VIGIL_FUZZ "Build the libFuzzer targets in fuzz/ (clang)" OFF)

set(vigil_sanitize ${VIGIL_SANITIZE})
if(VIGIL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "VIGIL_FUZZ needs clang: CC=clang CXX=clang++")
  endif()
  if(NOT vigil_sanitize)
    set(vigil_sanitize address,undefined)
  endif()
  # Coverage instrumentation for every library the targets link; the fuzzer's
  # main() is linked into the targets alone (fuzz/CMakeLists.txt).
  string(APPEND vigil_sanitize ",fuzzer-no-link")
endif()

if(vigil_sanitize)
  # A finding must fail the test or the fuzz run, not scroll by: no recovery.
  add_compile_options(-fsanitize=${vigil_sanitize} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${vigil_sanitize} -fno-sanitize-recover=all)
endif()
