#!/usr/bin/env bash
# Everything about android_demo/ that can be verified without an Android SDK/NDK or a device:
#   1. static checks: Java syntax of the app (javac's parser), XML, manifest, Gradle files,
#      the Java <-> JNI <-> C++ contract (validate_project.py)
#   2. host build of the app's native library (core + jni_bridge.cpp, the app's own CMakeLists)
#      driven from a desktop JVM through the app's own NanoDet.java, on frames made from
#      ../shared/images (packed, NV21, NV12, YUV_420_888, every rotation/mirror), checked against
#      the Python API (jni_parity.py)
#   3. the same native library cross-compiled for aarch64 with Debian's cross toolchain (ncnn
#      through cmake/NcnnDependency.cmake, cached), its JNI exports checked, and the frame
#      adapter + one detection run under qemu-aarch64 and compared with the host
# Installs what it needs (apt-get: JDK, cross compiler, qemu). Last line: "N passed, M failed".
#
#   bash tools/android/run_checks.sh
# Env: NANODET_NCNN_SHARED (default ../shared beside the repo), NANODET_ANDROID_JOBS (default 2),
#      NANODET_ANDROID_SKIP_QEMU=1 to skip the emulated run.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SHARED="${NANODET_NCNN_SHARED:-$REPO/../shared}"
SHARED="$(cd "$SHARED" 2>/dev/null && pwd || echo "$SHARED")"
JOBS="${NANODET_ANDROID_JOBS:-2}"
BUILD="$REPO/build/android"
WORK="$BUILD/work"
APP_JAVA="$REPO/android_demo/app/src/main/java/com/nanodet/ncnn/demo"
PY="${PYTHON:-python3}"
start=$(date +%s)
PASSED=0
FAILED=0

stamp() { printf '\n=== [%ds] %s\n' "$(( $(date +%s) - start ))" "$*"; }
# Adds a step's "RESULT p f" (or one failure if the step crashed without one) to the totals.
tally() {  # tally LOGFILE EXIT_STATUS
    local line
    line=$(grep -E '^RESULT [0-9]+ [0-9]+$' "$1" | tail -1)
    if [[ -n $line ]]; then
        read -r _ p f <<<"$line"
        PASSED=$((PASSED + p))
        FAILED=$((FAILED + f))
        [[ $2 -ne 0 && $f -eq 0 ]] && FAILED=$((FAILED + 1))
    elif [[ $2 -eq 0 ]]; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
    fi
    grep -E '^FAIL' "$1" | head -20
}
# run NAME CMD...: one pass/fail step; output in $BUILD/logs/NAME.log
run() {
    local name="$1"
    shift
    mkdir -p "$BUILD/logs"
    "$@" >"$BUILD/logs/$name.log" 2>&1
    local rc=$?
    if [[ $rc -eq 0 ]]; then
        PASSED=$((PASSED + 1))
        echo "PASS $name"
    else
        FAILED=$((FAILED + 1))
        echo "FAIL $name (exit $rc), last lines of $BUILD/logs/$name.log:"
        tail -15 "$BUILD/logs/$name.log"
    fi
    return $rc
}

# --- tools ------------------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {  # apt_install PACKAGE...
    if [[ $(id -u) -ne 0 ]]; then
        echo "need root to apt-get install $*" >&2
        return 1
    fi
    if [[ $APT_UPDATED -eq 0 ]]; then
        apt-get update -qq && APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
stamp "tools"
need=()
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v g++ >/dev/null || need+=(g++)
command -v cmake >/dev/null || need+=(cmake)
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v aarch64-linux-gnu-nm >/dev/null || need+=(binutils-aarch64-linux-gnu)
[[ ${NANODET_ANDROID_SKIP_QEMU:-0} == 1 ]] || command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v file >/dev/null || need+=(file)
if ((${#need[@]})); then
    echo "apt-get install ${need[*]}"
    run "apt-get install" apt_install "${need[@]}"
fi
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
JAVA_HOME_DIR="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
javac -version 2>&1
"$PY" -c 'import nanodet_ncnn, cv2, numpy; print("nanodet_ncnn", nanodet_ncnn.__version__)' ||
    { echo "the nanodet_ncnn Python package is needed as the reference: pip install $REPO"; exit 1; }
[[ -d $SHARED/models && -d $SHARED/images ]] || { echo "shared data missing at $SHARED"; exit 1; }

# --- 1. static checks ---------------------------------------------------------------------------
stamp "1. Java syntax of the app (the Android classes cannot be compiled here: no SDK)"
run "java-syntax" java "$REPO/tools/android/JavaSyntaxCheck.java" "$APP_JAVA"/*.java &&
    tail -1 "$BUILD/logs/java-syntax.log"

# --- 2. host library + desktop JVM ------------------------------------------------------------------
stamp "2. host build: core + jni_bridge.cpp -> libnanodetncnn.so (+ frame_check)"
run "host-configure" cmake -S "$REPO/tools/android" -B "$BUILD/host" "${GEN[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DNANODET_JAVA_HOME="$JAVA_HOME_DIR" &&
    run "host-build" cmake --build "$BUILD/host" -j "$JOBS"
HOST_LIB="$BUILD/host/jni/libnanodetncnn.so"

stamp "2. desktop JVM harness (the app's NanoDet.java) vs the Python API"
rm -rf "$WORK" "$BUILD/classes"
if [[ -f $HOST_LIB ]] &&
    run "javac" javac -Xlint:all -Werror -d "$BUILD/classes" "$APP_JAVA/NanoDet.java" \
        "$APP_JAVA/Orientation.java" "$APP_JAVA/CocoNames.java" \
        "$REPO/tools/android/harness/HostHarness.java" &&
    run "prepare-frames" "$PY" "$REPO/tools/android/jni_parity.py" prepare "$WORK" "$SHARED"; then
    tail -1 "$BUILD/logs/prepare-frames.log"
    java -Djava.library.path="$(dirname "$HOST_LIB")" -cp "$BUILD/classes" \
        com.nanodet.ncnn.demo.hosttest.HostHarness "$WORK" >"$BUILD/logs/harness.log" 2>&1
    rc=$?
    grep -E '^(native|harness):' "$BUILD/logs/harness.log"
    echo "JVM harness: $(tail -1 "$BUILD/logs/harness.log")"
    tally "$BUILD/logs/harness.log" $rc
    "$PY" "$REPO/tools/android/jni_parity.py" compare "$WORK" "$SHARED" >"$BUILD/logs/parity.log" 2>&1
    rc=$?
    grep -E '^parity:' "$BUILD/logs/parity.log"
    echo "Python parity: $(tail -1 "$BUILD/logs/parity.log")"
    tally "$BUILD/logs/parity.log" $rc
else
    FAILED=$((FAILED + 1))
    echo "FAIL harness: not run (see above)"
fi

# --- 3. aarch64 cross build -------------------------------------------------------------------------
stamp "3. aarch64 cross build (Debian aarch64-linux-gnu-g++; ncnn cached by NcnnDependency.cmake)"
# The same toolchain file as the aarch64 CI stage: NcnnDependency.cmake keys its cache on the
# file's content, so both stages share one cross-built ncnn.
TOOLCHAIN="$REPO/tools/arm/aarch64-linux-gnu.cmake"
echo "toolchain file: ${TOOLCHAIN#"$REPO"/}"
ARM_LIB="$BUILD/aarch64/jni/libnanodetncnn.so"
if run "aarch64-configure" cmake -S "$REPO/tools/android" -B "$BUILD/aarch64" "${GEN[@]}" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
        -DNANODET_JAVA_HOME="$JAVA_HOME_DIR" &&
    run "aarch64-build" cmake --build "$BUILD/aarch64" -j "$JOBS"; then
    file -b "$ARM_LIB" | tee "$BUILD/logs/aarch64-file.log"
    run "aarch64 ELF" grep -q "ARM aarch64" "$BUILD/logs/aarch64-file.log"
fi

stamp "1. project files and the JNI contract (both libraries' exports)"
libs=()
[[ -f $HOST_LIB ]] && libs+=("$HOST_LIB")
[[ -f $ARM_LIB ]] && libs+=("$ARM_LIB")
"$PY" "$REPO/tools/android/validate_project.py" "$REPO" "${libs[@]}" >"$BUILD/logs/validate.log" 2>&1
rc=$?
grep -E '^android_demo:' "$BUILD/logs/validate.log"
echo "project checks: $(tail -1 "$BUILD/logs/validate.log")"
tally "$BUILD/logs/validate.log" $rc

if [[ ${NANODET_ANDROID_SKIP_QEMU:-0} != 1 && -x $BUILD/aarch64/frame_check && -d $WORK/out ]]; then
    stamp "3. aarch64 frame adapter + one detection under qemu (cortex-a72) vs the host"
    "$PY" "$REPO/tools/android/jni_parity.py" arm "$WORK" "$SHARED" "$BUILD/aarch64/frame_check" \
        >"$BUILD/logs/qemu.log" 2>&1
    rc=$?
    grep -E '^(PASS|FAIL)' "$BUILD/logs/qemu.log" | grep -v '^FAIL'
    tally "$BUILD/logs/qemu.log" $rc
fi

stamp "done"
echo "not verifiable here: the APK build (Gradle/AGP, Android SDK, NDK clang, official ncnn"
echo "Android package) and anything on a device (CameraX, preview, gallery, snapshots)."
echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
