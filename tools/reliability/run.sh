#!/usr/bin/env bash
# Reliability job (issue #5): ASan + UBSan build of the C++ core and its C++ tests, the
# reliability driver on real models and garbage, replay of the fuzz regression inputs, then a
# bounded libFuzzer run of the model-loading and decode harnesses. Exits non-zero on any failure.
#
#   bash tools/reliability/run.sh            # ~3-4 min on 2 cores, ncnn already cached
#
# Environment:
#   FUZZ_SECONDS      total fuzzing time, split between the two harnesses (default 60; 0 = none)
#   NANODET_NCNN_SHARED   shared data folder (default ../shared beside the repository)
#   RELIABILITY_JOBS  build parallelism (default 2)
# Installs clang (apt) when missing. Reuses the ncnn that `pip install .` cached under
# ~/.cache/nanodet-ncnn/install (or builds it once the same way when there is none).
# A fuzzer crash leaves its input in cpp/fuzz/regressions/<harness>/ (commit it after fixing
# the bug: every later run replays it).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
SHARED="${NANODET_NCNN_SHARED:-$REPO/../shared}"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
JOBS="${RELIABILITY_JOBS:-2}"
BUILD="$REPO/build/reliability"
CACHE="${NANODET_NCNN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nanodet-ncnn}"
start=$(date +%s)
stamp() { echo "=== [reliability $(( $(date +%s) - start ))s] $*"; }
die() { echo "reliability: FAILED: $*" >&2; exit 1; }
[ -d "$SHARED/models" ] || die "shared models not found at $SHARED (set NANODET_NCNN_SHARED)"
SHARED="$(cd "$SHARED" && pwd)"

# --- tools ---------------------------------------------------------------------------------
need=()
command -v clang++ >/dev/null || need+=(clang)
command -v cmake >/dev/null || need+=(cmake)
command -v ninja >/dev/null || need+=(ninja-build)
if [ ${#need[@]} -gt 0 ]; then
    stamp "installing ${need[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)

# --- ncnn: the cached prefix `pip install .` built, else build it once the same way ----------
arch=$(uname -m)
find_prefix() {
    local p
    for p in $(ls -td "$CACHE"/install/ncnn-*-"$arch"-*/ 2>/dev/null); do
        # toolchain-file builds (cross, or the zig release builds) are named ncnn-VER-Linux-ARCH-KEY
        [[ $p == */ncnn-*-Linux-* ]] && continue
        [ -f "$p/.complete" ] && [ -f "$p/lib/cmake/ncnn/ncnnConfig.cmake" ] && { echo "${p%/}"; return; }
    done
}
PREFIX=$(find_prefix)
if [ -z "$PREFIX" ]; then
    stamp "no cached ncnn: building it (once) through cmake/NcnnDependency.cmake"
    cmake -S "$REPO" -B "$BUILD-ncnn" "${GEN[@]}" -DNANODET_BUILD_PYTHON=OFF -DNANODET_BUILD_TOOLS=OFF -DNANODET_BUILD_TESTS=OFF >/dev/null
    PREFIX=$(find_prefix)
    [ -n "$PREFIX" ] || die "ncnn build did not produce a prefix under $CACHE/install"
fi
stamp "ncnn: $PREFIX"

# --- build --------------------------------------------------------------------------------
stamp "building the ASan+UBSan core, C++ tests, driver and fuzzers (clang, -j$JOBS)"
# ncnn is built by gcc against libgomp; clang links that same OpenMP runtime (no libomp needed).
GOMP=$(gcc -print-file-name=libgomp.so)
cmake -S "$REPO/cpp/fuzz" -B "$BUILD" "${GEN[@]}" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DOpenMP_C_FLAGS=-fopenmp=libgomp -DOpenMP_CXX_FLAGS=-fopenmp=libgomp \
    -DOpenMP_C_LIB_NAMES=gomp -DOpenMP_CXX_LIB_NAMES=gomp -DOpenMP_gomp_LIBRARY="$GOMP" \
    -Dncnn_DIR="$PREFIX/lib/cmake/ncnn" >"$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log"; die "configure"; }
cmake --build "$BUILD" -j "$JOBS" >"$BUILD.build.log" 2>&1 || { tail -50 "$BUILD.build.log"; die "build"; }

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
LOGS="$BUILD/logs"; rm -rf "$LOGS"; mkdir -p "$LOGS"
run_logged() {  # run_logged NAME cmd...: output to a log; on failure show its tail and fail
    local name=$1; shift
    if ! "$@" >"$LOGS/$name.log" 2>&1; then
        echo "--- last lines of $LOGS/$name.log:"; tail -60 "$LOGS/$name.log"
        die "$name"
    fi
    if grep -qE "ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:" "$LOGS/$name.log"; then
        grep -nE -A30 "ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:" "$LOGS/$name.log" | head -60
        die "$name: sanitizer report"
    fi
}

# --- frames for the C++ programs (PPM; cv2 comes with the package) -------------------------
IMG="$BUILD/img"; mkdir -p "$IMG"
images=()
for f in bus.jpg zidane.jpg; do
    [ -f "$SHARED/images/$f" ] || continue
    if [ ! -s "$IMG/$f.ppm" ]; then
        python3 - "$SHARED/images/$f" "$IMG/$f.ppm" <<'EOF' || rm -f "$IMG/$f.ppm"
import sys, cv2
im = cv2.imread(sys.argv[1]); h, w = im.shape[:2]
open(sys.argv[2], "wb").write(b"P6\n%d %d\n255\n" % (w, h) + im[..., ::-1].tobytes())
EOF
    fi
    [ -s "$IMG/$f.ppm" ] && images+=(--image "$IMG/$f.ppm")
done

# --- sanitizer runs -----------------------------------------------------------------------
if [ -x "$BUILD/san_core_tests" ]; then
    stamp "cpp/tests/test_core.cpp under ASan+UBSan"
    run_logged san_core_tests "$BUILD/san_core_tests"
    tail -1 "$LOGS/san_core_tests.log"
fi
if [ -x "$BUILD/san_e2e_tests" ]; then
    [ -s "$IMG/bus.jpg.ppm" ] || die "no PPM of $SHARED/images/bus.jpg for the e2e test (conversion failed)"
    stamp "cpp/tests/test_detector_e2e.cpp under ASan+UBSan"
    run_logged san_e2e_tests "$BUILD/san_e2e_tests" --shared "$SHARED" --image "$IMG/bus.jpg.ppm"
    tail -1 "$LOGS/san_e2e_tests.log"
fi
if [ -x "$BUILD/san_pool_tests" ] && [ ${#images[@]} -gt 0 ]; then
    stamp "cpp/tests/test_pool.cpp (worker pool) under ASan+UBSan"
    run_logged san_pool_tests "$BUILD/san_pool_tests" --shared "$SHARED" "${images[@]}"
    tail -1 "$LOGS/san_pool_tests.log"
fi
stamp "reliability driver under ASan+UBSan (real models, garbage frames and files, threads, load cycles)"
run_logged driver "$BUILD/reliability_driver" --shared "$SHARED" "${images[@]}"
grep -E "^(reliability_driver|  damaged)" "$LOGS/driver.log"

# --- fuzzing ------------------------------------------------------------------------------
FUZZ_FLAGS=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 -close_fd_mask=2 -print_final_stats=1)
if [ ! -x "$BUILD/fuzz_model" ]; then
    stamp "no libFuzzer harnesses (not clang?): fuzzing skipped"
    exit 0
fi
stamp "replaying the fuzz seeds and regression inputs"
for h in model decode; do
    files=()
    for d in "$REPO/cpp/fuzz/corpus/$h" "$REPO/cpp/fuzz/regressions/$h"; do
        [ -d "$d" ] && while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$d" -type f -print0)
    done
    [ ${#files[@]} -gt 0 ] || continue
    run_logged "replay_$h" "$BUILD/fuzz_$h" "${FUZZ_FLAGS[@]}" "${files[@]}"
    echo "  fuzz_$h: ${#files[@]} seed/regression inputs replayed, clean"
done

if [ "$FUZZ_SECONDS" -gt 0 ]; then
    # Scratch corpora (kept between runs in the build folder, so later runs start further on),
    # seeded with our synthetic graphs and the shared models' param files.
    mkdir -p "$BUILD/corpus/model" "$BUILD/corpus/decode" "$BUILD/artifacts"
    cp -n "$REPO"/cpp/fuzz/corpus/model/* "$BUILD/corpus/model/" 2>/dev/null || true
    cp -n "$REPO"/cpp/fuzz/corpus/decode/* "$BUILD/corpus/decode/" 2>/dev/null || true
    while IFS= read -r -d '' p; do
        cp -n "$p" "$BUILD/corpus/model/shared-$(basename "$p")" 2>/dev/null || true
    done < <(find "$SHARED/models" -name '*.param' -print0)
    total_runs=0
    for h in model decode; do
        [ "$h" = model ] && secs=$(( FUZZ_SECONDS * 2 / 3 )) || secs=$(( FUZZ_SECONDS - FUZZ_SECONDS * 2 / 3 ))
        stamp "fuzzing $h for ${secs}s"
        maxlen=65536; [ "$h" = decode ] && maxlen=16384
        log="$LOGS/fuzz_$h.log"
        if ! "$BUILD/fuzz_$h" "${FUZZ_FLAGS[@]}" -max_total_time="$secs" -max_len=$maxlen \
                -artifact_prefix="$BUILD/artifacts/$h-" "$BUILD/corpus/$h" >"$log" 2>&1; then
            tail -60 "$log"
            mkdir -p "$REPO/cpp/fuzz/regressions/$h"
            for a in "$BUILD"/artifacts/"$h"-*; do
                [ -f "$a" ] || continue
                cp "$a" "$REPO/cpp/fuzz/regressions/$h/"
                echo "  crashing input saved: cpp/fuzz/regressions/$h/$(basename "$a")"
            done
            die "fuzz_$h found a crash"
        fi
        runs=$(grep -oE "stat::number_of_executed_units: [0-9]+" "$log" | grep -oE "[0-9]+$" || echo 0)
        cov=$(grep -oE "cov: [0-9]+ ft: [0-9]+" "$log" | tail -1 || true)
        echo "  fuzz_$h: $runs executions in ${secs}s, $cov, corpus $(ls "$BUILD/corpus/$h" | wc -l) inputs, no crash"
        total_runs=$(( total_runs + runs ))
    done
    echo "  fuzzing total: $total_runs executions in ${FUZZ_SECONDS}s"
fi
stamp "reliability: all clean"
