# Cross build for arm64 nodes with Debian's multiarch packages: the
# aarch64-linux-gnu GCC (g++-aarch64-linux-gnu) and the :arm64 builds of every
# library, installed beside the amd64 ones (scripts/install-deps.sh --arm64).
# Build tools (protoc, grpc_cpp_plugin, clang for the BPF objects, bpftool)
# are the host's. Unit tests run under qemu-user (qemu-aarch64).
#
#   cmake -S . -B build/arm64 -G Ninja --toolchain cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Multiarch puts the arm64 libraries, CMake packages and .pc files under
# /usr/lib/aarch64-linux-gnu of the host's root, so the root is "/": programs
# are found on the host, packages only in the arm64 directories.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
# libyaml-cpp-dev cannot be installed for two architectures (below).
set(yaml-cpp_DIR ${CMAKE_CURRENT_LIST_DIR}/aarch64-linux-gnu)

# -L /: the arm64 dynamic loader and libraries are installed in the host's root.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /)
