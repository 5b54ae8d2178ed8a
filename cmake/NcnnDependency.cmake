# Provides the imported target `ncnn`, in this order:
#   1. an installed ncnn: NCNN_ROOT=<prefix> or ncnn_DIR=<prefix>/lib/cmake/ncnn (find_package CONFIG)
#   2. a source tree the user names: NANODET_NCNN_SOURCE_DIR=<ncnn source>
#   3. the pinned PyPI sdist (tools/fetch_ncnn.py, sha256-checked)
# Cases 2 and 3 build a static, Vulkan-free, layer-trimmed ncnn once and install it into a cache
# folder outside the build tree (NANODET_NCNN_CACHE, default ~/.cache/nanodet-ncnn) keyed by
# version, target and options, so rebuilding the wheel never recompiles ncnn.

set(NANODET_NCNN_VERSION "1.0.20261020")
set(NCNN_ROOT "" CACHE PATH "Prefix of an installed ncnn")
set(NANODET_NCNN_SOURCE_DIR "" CACHE PATH "An ncnn source tree to build instead of the PyPI sdist")
option(NANODET_NCNN_ALL_LAYERS "Build every ncnn layer instead of the NanoDet set" OFF)

# Layers NanoDet graphs name, plus the ones ncnn instantiates internally (Bias/Scale for
# normalisation, Padding, Packing/Cast for layouts, fused activations, InnerProduct fallback)
# and the INT8 helpers.
set(NANODET_NCNN_LAYERS
    AbsVal BatchNorm Bias BinaryOp Cast Clip Concat Convolution ConvolutionDepthWise Crop
    Deconvolution DeconvolutionDepthWise Dequantize Dropout ELU Eltwise ExpandDims Flatten GELU
    Gemm HardSigmoid HardSwish InnerProduct Input Interp MatMul MemoryData Mish Noop Packing
    Padding Permute Pooling PReLU Quantize ReLU Requantize Reshape Scale ShuffleChannel Sigmoid
    Slice Softmax Split Squeeze Swish TanH UnaryOp)

if(NOT NCNN_ROOT AND DEFINED ENV{NCNN_ROOT})
    set(NCNN_ROOT "$ENV{NCNN_ROOT}")
endif()

if(NCNN_ROOT OR ncnn_DIR)
    if(NCNN_ROOT)
        set(ncnn_DIR "${NCNN_ROOT}/lib/cmake/ncnn")
    endif()
    find_package(ncnn CONFIG REQUIRED)
    message(STATUS "nanodet-ncnn: using installed ncnn from ${ncnn_DIR}")
    return()
endif()

# --- build (or reuse) a cached ncnn ----------------------------------------------------------
if(DEFINED ENV{NANODET_NCNN_CACHE})
    set(_cache "$ENV{NANODET_NCNN_CACHE}")
elseif(DEFINED ENV{XDG_CACHE_HOME})
    set(_cache "$ENV{XDG_CACHE_HOME}/nanodet-ncnn")
else()
    set(_cache "$ENV{HOME}/.cache/nanodet-ncnn")
endif()

if(NANODET_NCNN_SOURCE_DIR)
    set(_src "${NANODET_NCNN_SOURCE_DIR}")
else()
    find_package(Python COMPONENTS Interpreter REQUIRED)
    execute_process(
        COMMAND "${Python_EXECUTABLE}" "${CMAKE_CURRENT_LIST_DIR}/../tools/fetch_ncnn.py" "${_cache}"
        OUTPUT_VARIABLE _src OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "nanodet-ncnn: ncnn is not installed and its source could not be fetched "
                            "(see the message above). Set NCNN_ROOT or NANODET_NCNN_SOURCE_DIR.")
    endif()
endif()

# The source tree is also where bench_arm finds stb_image.h (JPEG/PNG input; CMakeLists.txt).
set(NANODET_NCNN_SRC "${_src}")

set(_opts
    -DCMAKE_BUILD_TYPE=Release
    -DNCNN_VERSION=20261020
    -DNCNN_VULKAN=OFF -DNCNN_SHARED_LIB=OFF -DNCNN_BUILD_TOOLS=OFF -DNCNN_BUILD_EXAMPLES=OFF
    -DNCNN_BUILD_BENCHMARK=OFF -DNCNN_BUILD_TESTS=OFF -DNCNN_PYTHON=OFF -DNCNN_C_API=OFF
    # libgomp, not ncnn's SIMPLEOMP: SIMPLEOMP made 2 threads slower than 1 (36-40 ms vs 27 ms
    # for plus416 on 2 cores; libgomp 22 ms). AVX-512 (+VNNI for INT8) kept for CPUs that have it.
    -DNCNN_OPENMP=ON -DNCNN_SIMPLEOMP=OFF -DNCNN_BF16=OFF -DNCNN_INT8=ON
    -DNCNN_FMA4=OFF -DNCNN_XOP=OFF -DNCNN_AVXNECONVERT=OFF -DNCNN_AVX512FP16=OFF
    -DNCNN_ARM84BF16=OFF -DNCNN_ARM86SVE=OFF
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON)
if(NOT NANODET_NCNN_ALL_LAYERS)
    file(STRINGS "${_src}/src/CMakeLists.txt" _layer_lines REGEX "^ncnn_add_layer\\(")
    foreach(_line IN LISTS _layer_lines)
        string(REGEX REPLACE "^ncnn_add_layer\\(([A-Za-z0-9_]+).*" "\\1" _layer "${_line}")
        string(TOLOWER "${_layer}" _lower)
        if(_layer IN_LIST NANODET_NCNN_LAYERS)
            list(APPEND _opts -DWITH_LAYER_${_lower}=ON)
        else()
            list(APPEND _opts -DWITH_LAYER_${_lower}=OFF)
        endif()
    endforeach()
endif()
if(CMAKE_TOOLCHAIN_FILE)
    get_filename_component(_tc "${CMAKE_TOOLCHAIN_FILE}" ABSOLUTE)
    file(SHA256 "${_tc}" _tc_hash)  # the key uses the file's content, not its path
    set(_opts_key ${_opts})
    list(APPEND _opts "-DCMAKE_TOOLCHAIN_FILE=${_tc}")
    # the NDK's toolchain file reads these (Gradle passes them): the nested build needs the same
    foreach(_v ANDROID_ABI ANDROID_PLATFORM ANDROID_STL ANDROID_ARM_NEON ANDROID_ARM_MODE)
        if(DEFINED ${_v})
            list(APPEND _opts "-D${_v}=${${_v}}")
            list(APPEND _opts_key "-D${_v}=${${_v}}")
        endif()
    endforeach()
else()
    set(_tc_hash "native")
endif()
if(NOT DEFINED _opts_key)
    set(_opts_key ${_opts})
endif()
if(CMAKE_C_COMPILER_LAUNCHER)
    list(APPEND _opts "-DCMAKE_C_COMPILER_LAUNCHER=${CMAKE_C_COMPILER_LAUNCHER}"
                      "-DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}")
endif()
set(_target "${CMAKE_SYSTEM_PROCESSOR}")
if(CMAKE_CROSSCOMPILING OR CMAKE_TOOLCHAIN_FILE)
    set(_target "${CMAKE_SYSTEM_NAME}-${CMAKE_SYSTEM_PROCESSOR}")
endif()
string(SHA256 _key "${_src};${_opts_key};${_tc_hash};${CMAKE_CXX_COMPILER_ID};${CMAKE_CXX_COMPILER_VERSION}")
string(SUBSTRING "${_key}" 0 12 _key)
set(_prefix "${_cache}/install/ncnn-${NANODET_NCNN_VERSION}-${_target}-${_key}")

if(NOT EXISTS "${_prefix}/.complete")
    cmake_host_system_information(RESULT _jobs QUERY NUMBER_OF_LOGICAL_CORES)
    set(_bdir "${_cache}/build/ncnn-${_target}-${_key}")
    message(STATUS "nanodet-ncnn: building ncnn ${NANODET_NCNN_VERSION} for ${_target} into ${_prefix} "
                   "(once; takes a few minutes)")
    set(_gen)
    find_program(_ninja ninja)
    if(_ninja)
        set(_gen -G Ninja)
    endif()
    execute_process(COMMAND "${CMAKE_COMMAND}" -S "${_src}" -B "${_bdir}" ${_gen} ${_opts}
                            "-DCMAKE_INSTALL_PREFIX=${_prefix}"
                    RESULT_VARIABLE _rc OUTPUT_QUIET)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "nanodet-ncnn: configuring ncnn failed (${_bdir})")
    endif()
    execute_process(COMMAND "${CMAKE_COMMAND}" --build "${_bdir}" --target install -j ${_jobs}
                    RESULT_VARIABLE _rc OUTPUT_QUIET)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "nanodet-ncnn: building ncnn failed (${_bdir}); rerun with "
                            "`cmake --build ${_bdir}` to see the error")
    endif()
    file(WRITE "${_prefix}/.complete" "${_opts}\n")
    file(REMOVE_RECURSE "${_bdir}")
endif()

set(ncnn_DIR "${_prefix}/lib/cmake/ncnn")
find_package(ncnn CONFIG REQUIRED NO_DEFAULT_PATH PATHS "${_prefix}")
message(STATUS "nanodet-ncnn: using cached ncnn ${_prefix}")
