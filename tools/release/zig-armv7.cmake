# Release toolchain: zig's clang targeting glibc 2.28 (manylinux_2_28) for armv7l, with
# its own static libc++ (tools/release/zig/zig-cc translates gcc-style ISA flags). Used by
# tools/release/build.sh; the wrapper is part of the ncnn cache key (NANODET_NCNN_KEY_FILES).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(_zig "${CMAKE_CURRENT_LIST_DIR}/zig")
set(CMAKE_C_COMPILER "${_zig}/zig-cc")
set(CMAKE_CXX_COMPILER "${_zig}/zig-c++")
set(CMAKE_AR "${_zig}/zig-ar" CACHE FILEPATH "")
set(CMAKE_RANLIB "${_zig}/zig-ranlib" CACHE FILEPATH "")
set(CMAKE_C_COMPILER_TARGET arm-linux-gnueabihf.2.28)
set(CMAKE_CXX_COMPILER_TARGET arm-linux-gnueabihf.2.28)
set(NANODET_NCNN_KEY_FILES "${_zig}/zig-cc")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
