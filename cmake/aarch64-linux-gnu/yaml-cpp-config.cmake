# yaml-cpp for the arm64 cross build. Debian 12's libyaml-cpp-dev is not
# "Multi-Arch: same", so its arm64 build cannot be installed beside amd64's.
# Its headers are the same for every architecture (amd64's -dev has them in
# /usr/include); the arm64 library is libyaml-cpp0.7:arm64's.
if(NOT TARGET yaml-cpp)
  find_library(YAML_CPP_ARM64_LIBRARY NAMES libyaml-cpp.so.0.7 libyaml-cpp.so.0.8
               PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} NO_DEFAULT_PATH REQUIRED)
  add_library(yaml-cpp SHARED IMPORTED)
  set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION ${YAML_CPP_ARM64_LIBRARY})
endif()
set(yaml-cpp_FOUND TRUE)
