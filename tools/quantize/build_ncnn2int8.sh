#!/usr/bin/env bash
# Builds ncnn's own calibration tools (ncnn2table, ncnn2int8) natively, once, for the
# side-by-side rows of benchmarks/precision_table.py. Cached, keyed by the tool sources:
#   ~/.cache/nanodet-ncnn/ncnn2int8-<key>/bin/{ncnn2table,ncnn2int8}
#
#   bash tools/quantize/build_ncnn2int8.sh            # prints the bin folder (exit 3: no sources)
#
# The tools live in tools/quantize of a full ncnn source tree. The pinned ncnn sdist that our
# build fetches (~/.cache/nanodet-ncnn/ncnn-<version>) ships src/ only, so point
# NCNN_TOOLS_SOURCE at a full ncnn checkout of the same version. Nothing of it enters this repo.
set -euo pipefail
CACHE="${NANODET_NCNN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nanodet-ncnn}"
SRC="${NCNN_TOOLS_SOURCE:-$(ls -d "$CACHE"/ncnn-1.* 2>/dev/null | grep -v '\.tar' | sort | tail -1)}"
if [[ -z $SRC || ! -f $SRC/tools/quantize/ncnn2table.cpp ]]; then
    echo "build_ncnn2int8: no tools/quantize/ncnn2table.cpp under '${SRC:-<none>}' (the ncnn sdist" \
        "ships src/ only); set NCNN_TOOLS_SOURCE to a full ncnn source tree" >&2
    exit 3
fi
key="$( (cd "$SRC" && find src tools/quantize CMakeLists.txt -type f | LC_ALL=C sort | xargs sha1sum) |
    sha1sum | cut -c1-12)"
OUT="$CACHE/ncnn2int8-$key"
if [[ -x $OUT/bin/ncnn2table && -x $OUT/bin/ncnn2int8 ]]; then
    echo "$OUT/bin"
    exit 0
fi
ocv=ON
pkg-config --exists opencv4 2>/dev/null && ocv=OFF   # OpenCV C++ present: the tools use it
echo "build_ncnn2int8: building from $SRC (simpleocv=$ocv) into $OUT" >&2
cmake -S "$SRC" -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release -DNCNN_VULKAN=OFF -DNCNN_PYTHON=OFF \
    -DNCNN_BUILD_TOOLS=ON -DNCNN_BUILD_EXAMPLES=OFF -DNCNN_BUILD_BENCHMARK=OFF \
    -DNCNN_BUILD_TESTS=OFF -DNCNN_SIMPLEOCV="$ocv" -DNCNN_SHARED_LIB=OFF >&2
nice -n 10 cmake --build "$OUT/build" --target ncnn2table ncnn2int8 -j "${JOBS:-2}" >&2
mkdir -p "$OUT/bin"
cp "$OUT/build/tools/quantize/ncnn2table" "$OUT/build/tools/quantize/ncnn2int8" "$OUT/bin/"
echo "$OUT/bin"
