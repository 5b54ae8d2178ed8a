#!/usr/bin/env bash
# The ARM stage of CI: from a Debian bookworm x86_64 machine, cross-build and test nanodet-ncnn
# for 64-bit ARM under qemu-user (cortex-a72 = Raspberry Pi 4 class, cortex-a76 = Pi 5 class),
# and its C++ tests for 32-bit ARM (cortex-a7 = Pi 2 class, cortex-a15).
#
#   bash tools/arm/run_tests.sh
#
#   1. host packages (g++-aarch64-linux-gnu, qemu-user) if missing; an emulated CPython 3.11
#      sysroot (Debian arm64 debs) + aarch64 wheels (numpy, opencv-python-headless<5, pytest,
#      tqdm, ncnn) -- all cached under ${NANODET_NCNN_CACHE:-~/.cache/nanodet-ncnn}/arm
#   2. cross-build bench_arm and the C++ tests (ncnn: cmake/NcnnDependency.cmake, cached);
#      C++ unit tests (NEON vs scalar kernels) under cortex-a72 and cortex-a76; the C++
#      end-to-end test (4 real models, NEON vs scalar decode) under cortex-a72
#   3. the cp311 linux_aarch64 wheel via scikit-build-core (pip wheel --no-build-isolation),
#      installed into an emulated site dir; a smoke test (compared with the host's result when
#      the host has nanodet_ncnn installed)
#   4. a subset of the project's pytest suite (-m "not slow" plus a -k selection: a handful of
#      forward passes) under cortex-a72, then cortex-a76; "no tests collected" fails
#   5. the qemu icount plugin and decode+NMS instruction counts (NEON vs scalar);
#      NANODET_ARM_ICOUNT=full also counts detect() and the raw extract, =0 skips
#   6. armv7 (32-bit, Raspberry Pi OS 32-bit): the C++ tests cross-built with the release's zig
#      toolchain (ncnn: the release's cached armv7 build), unit tests (NEON vs scalar kernels)
#      under qemu-arm -cpu cortex-a7 and cortex-a15, end to end under cortex-a7, decode+NMS
#      instruction counts on cortex-a7 with the icount stages; NANODET_ARM_SKIP_ARMV7=1 skips
#
# Environment: NANODET_SHARED (default ../shared beside the repo), NANODET_ARM_PYTEST_ARGS
# (replaces the default selection), NANODET_ARM_JOBS (default 2), NANODET_ARM_SKIP_PYTEST=1,
# NANODET_ARM_SKIP_WHEEL=1 (skips 3 and 4: CI tests the release wheel with
# tools/release/test_wheels.sh instead of building a second one here).
# Exits non-zero on any failure.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T0=$SECONDS
OUT="$ARM/results"
mkdir -p "$OUT"
declare -a SUMMARY=()
stage_done() { SUMMARY+=("$(printf '%-44s %5ds' "$1" $((SECONDS - $2)))"); }

[[ -d $SHARED/models ]] || die "shared test data not found at $SHARED (set NANODET_SHARED)"

t=$SECONDS
find_host_python
step_host_packages
step_sysroot
step_site
step_host_build_env
step_ppm_images
stage_done "setup (packages, sysroot, wheels)" $t

# ---- C++: build, unit tests on two cores, end to end on real models --------------------------
t=$SECONDS
step_build_tools
stage_done "cross-build bench_arm + C++ tests" $t

t=$SECONDS
for cpu in cortex-a72 cortex-a76; do
    log "C++ unit tests under qemu -cpu $cpu"
    qemu_run "$cpu" /usr/aarch64-linux-gnu "$TOOLS_BUILD/cpp/tests/nanodet_core_tests" \
        > "$OUT/core_tests_$cpu.txt" 2>&1 || { cat "$OUT/core_tests_$cpu.txt"; die "C++ unit tests failed on $cpu"; }
    grep -E "passed, [0-9]+ failed" "$OUT/core_tests_$cpu.txt"
done
log "C++ end-to-end test (real models, NEON vs scalar decode) under qemu -cpu cortex-a72"
OMP_THREAD_LIMIT=1 qemu_run cortex-a72 /usr/aarch64-linux-gnu "$TOOLS_BUILD/cpp/tests/nanodet_e2e_tests" \
    --shared "$SHARED" --image "$ARM/images/bus.ppm" --dump "$OUT/e2e_aarch64.txt" \
    > "$OUT/e2e_tests.txt" 2>&1 || { cat "$OUT/e2e_tests.txt"; die "C++ end-to-end test failed"; }
grep -E "^(ok|FAIL)|passed, [0-9]+ failed" "$OUT/e2e_tests.txt"
# correctness only (wall time under qemu means little): 1 and 2 workers give serial detect()'s bits
log "C++ worker pool test (1 and 2 workers vs serial detect) under qemu -cpu cortex-a72"
qemu_run cortex-a72 /usr/aarch64-linux-gnu "$TOOLS_BUILD/cpp/tests/nanodet_pool_tests" \
    --shared "$SHARED" --image "$ARM/images/bus.ppm" --quick pool_bit_identical \
    > "$OUT/pool_tests.txt" 2>&1 || { cat "$OUT/pool_tests.txt"; die "C++ pool test failed"; }
grep -E "^(ok|FAIL)|passed, [0-9]+ failed" "$OUT/pool_tests.txt"
stage_done "C++ tests under qemu (a72+a76 unit, a72 e2e, a72 pool)" $t

# ---- Python: wheel, smoke test, pytest subset -------------------------------------------------
if [[ ${NANODET_ARM_SKIP_WHEEL:-0} == 1 ]]; then
    NANODET_ARM_SKIP_PYTEST=1
else
t=$SECONDS
step_wheel
stage_done "cross-build + install the aarch64 wheel" $t

t=$SECONDS
log "smoke test of the installed wheel under qemu -cpu cortex-a72"
ref=()
if (cd / && "$HOST_PY" -c "import nanodet_ncnn._core" 2>/dev/null); then
    (cd / && "$HOST_PY" "$REPO/tools/arm/smoke_test.py" "$SHARED" "$OUT/smoke_host.json" >/dev/null) &&
        ref=(--compare "$OUT/smoke_host.json")
else
    echo "(the host has no nanodet_ncnn installed: no x86 reference to compare with)"
fi
(cd / && emu_python cortex-a72 "$REPO/tools/arm/smoke_test.py" "$SHARED" "$OUT/smoke_aarch64.json" "${ref[@]}") ||
    die "smoke test failed under qemu"
stage_done "smoke test (a72, compared with x86)" $t
fi

# A handful of real forward passes per core (each costs ~3-11 s under qemu here).
DEFAULT_K="test_bus_finds_bus_and_people or test_garbled_param or test_missing_files"
DEFAULT_K+=" or test_bad_call_arguments or test_parity_low_threshold_agnostic"
if [[ ${NANODET_ARM_SKIP_PYTEST:-0} != 1 ]]; then
    if [[ -n ${NANODET_ARM_PYTEST_ARGS:-} ]]; then
        read -r -a PYTEST_ARGS <<< "$NANODET_ARM_PYTEST_ARGS"
    else
        # the conversion tools (torch, pnnx, onnxruntime) are host-side: not in the emulated env
        PYTEST_ARGS=(-m "not slow" -k "$DEFAULT_K" --ignore=tests/test_convert.py)
    fi
    for cpu in cortex-a72 cortex-a76; do
        t=$SECONDS
        log "pytest ${PYTEST_ARGS[*]} under qemu -cpu $cpu"
        set +e
        (cd "$REPO" && emu_python "$cpu" -m pytest tests -p no:cacheprovider -q -rfE \
            "${PYTEST_ARGS[@]}") 2>&1 | tee "$OUT/pytest_$cpu.txt"
        rc=${PIPESTATUS[0]}
        set -e
        ((rc != 5)) || die "pytest collected no tests under $cpu (selection: ${PYTEST_ARGS[*]})"
        ((rc == 0)) || die "pytest failed under $cpu (exit $rc)"
        grep -qE "[0-9]+ passed" "$OUT/pytest_$cpu.txt" || die "pytest ran no test under $cpu"
        stage_done "pytest subset under $cpu" $t
    done
fi

# ---- instruction counts -----------------------------------------------------------------------
if [[ ${NANODET_ARM_ICOUNT:-1} != 0 ]]; then
    t=$SECONDS
    step_icount_plugin
    stages=decode
    [[ ${NANODET_ARM_ICOUNT:-1} == full ]] && stages=detect,network,decode
    log "aarch64 instruction counts ($stages), NanoDet-Plus-m 416 on bus.jpg, cortex-a72"
    "$HOST_PY" "$REPO/tools/arm/bench_icount.py" --bench "$TOOLS_BUILD/cpp/tools/bench_arm" \
        --plugin "$ICOUNT_DIR/libicount.so" \
        --model "$SHARED/models/yyccR__nanodet-plus-ncnn-android/nanodet-plus-coco-416.param" \
        --image "$ARM/images/bus.ppm" --stages "$stages" --json "$OUT/icount.json"
    stage_done "icount plugin + instruction counts ($stages)" $t
fi

# ---- armv7: the same kernels' tests for 32-bit ARM ---------------------------------------------
if [[ ${NANODET_ARM_SKIP_ARMV7:-0} != 1 ]]; then
    t=$SECONDS
    command -v qemu-arm >/dev/null || die "no qemu-arm (Debian package qemu-user)"
    step_sysroot_armhf
    step_build_tools_armv7
    stage_done "armv7: sysroot + cross-build (zig) C++ tests" $t

    t=$SECONDS
    for cpu in cortex-a7 cortex-a15; do
        log "armv7 C++ unit tests under qemu-arm -cpu $cpu"
        qemu_run_armv7 "$cpu" "$TOOLS_BUILD_ARMV7/cpp/tests/nanodet_core_tests" \
            > "$OUT/core_tests_armv7_$cpu.txt" 2>&1 ||
            { cat "$OUT/core_tests_armv7_$cpu.txt"; die "armv7 C++ unit tests failed on $cpu"; }
        grep -q "^kernels compiled: neon + scalar" "$OUT/core_tests_armv7_$cpu.txt" ||
            die "the armv7 build has no NEON kernels"
        grep -E "passed, [0-9]+ failed" "$OUT/core_tests_armv7_$cpu.txt"
    done
    log "armv7 C++ end-to-end test (real models, NEON vs scalar decode) under qemu-arm -cpu cortex-a7"
    OMP_THREAD_LIMIT=1 qemu_run_armv7 cortex-a7 "$TOOLS_BUILD_ARMV7/cpp/tests/nanodet_e2e_tests" \
        --shared "$SHARED" --image "$ARM/images/bus.ppm" --dump "$OUT/e2e_armv7.txt" \
        > "$OUT/e2e_tests_armv7.txt" 2>&1 ||
        { cat "$OUT/e2e_tests_armv7.txt"; die "armv7 C++ end-to-end test failed"; }
    grep -E "^(ok|FAIL)|passed, [0-9]+ failed" "$OUT/e2e_tests_armv7.txt"
    stage_done "armv7 C++ tests (a7+a15 unit, a7 e2e)" $t

    if [[ ${NANODET_ARM_ICOUNT:-1} != 0 ]]; then
        t=$SECONDS
        step_icount_plugin
        log "armv7 instruction counts (decode), NanoDet-Plus-m 416 on bus.jpg, cortex-a7"
        "$HOST_PY" "$REPO/tools/arm/bench_icount.py" --bench "$TOOLS_BUILD_ARMV7/cpp/tools/bench_arm" \
            --qemu qemu-arm --ld-prefix "$SYSROOT_ARMHF" --cpu cortex-a7 \
            --plugin "$ICOUNT_DIR/libicount.so" \
            --model "$SHARED/models/yyccR__nanodet-plus-ncnn-android/nanodet-plus-coco-416.param" \
            --image "$ARM/images/bus.ppm" --stages decode --json "$OUT/icount_armv7.json"
        stage_done "armv7 instruction counts (decode)" $t
    fi
fi

log "ARM stage passed in $((SECONDS - T0)) s (results in $OUT)"
printf '  %s\n' "${SUMMARY[@]}"
