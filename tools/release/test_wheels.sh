#!/usr/bin/env bash
# Install tests of the release wheels in dist/ (tools/release/build.sh), each from the wheel file
# only: no source tree on the path (the tests run from a copy of tests/ + README.md).
#
#   bash tools/release/test_wheels.sh [sdist] [x86_64] [aarch64] [armv7l]  (default: the wheels)
#
#   sdist    built and installed by pip in a fresh venv (isolated build; ncnn through
#            tools/fetch_ncnn.py and the ncnn cache), then the smoke test on that install
#   x86_64   the wheel pip-installed into a fresh folder; smoke test on the host (the reference
#            for the ARM runs) and bench_arm from the wheel's scripts
#   aarch64  the wheel installed for the emulated Debian arm64 CPython 3.11 (tools/arm/lib.sh);
#            smoke test (compared with x86) + bench_arm on cortex-a53, cortex-a72 and cortex-a76
#            (ARMv8.0 without LSE/fp16, ARMv8.0, ARMv8.2 with fp16 + dotprod), pytest on
#            cortex-a72 (tests from every module; NANODET_WHEELTEST_FULL=1: the broad list) and
#            a mini subset on cortex-a53 and cortex-a76; the test extra's packages come from
#            PyPI's aarch64 wheels
#   armv7l   the same for the emulated Debian armhf CPython 3.11 on cortex-a7 (every module) and
#            cortex-a15 (mini; qemu-arm has no AArch32 cortex-a53); numpy, OpenCV and Pillow are
#            Debian's armhf packages (PyPI has no armv7l wheels of them); no ncnn wheel exists
#            for armv7l, so the oracle tests (marker needs_ncnn_wheel) are deselected there
# The selections and every host-only test with its reason: tools/release/wheel_test_selection.sh.
# NANODET_NCNN_EMULATED=1 makes the tests use fewer images; child interpreters and bench_arm run
# emulated through host scripts (child_wrappers). Ends with a per-module, per-CPU table of the
# tests that ran and passed. NANODET_WHEELTEST_PYTEST=0 skips pytest (smoke tests only).
source "$(dirname "${BASH_SOURCE[0]}")/../arm/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/wheel_test_selection.sh"

DIST="$REPO/dist"
ARCHES=("$@")
((${#ARCHES[@]})) || ARCHES=(x86_64 aarch64 armv7l)
WT="$ARM/wheeltest-$REPO_KEY"
OUT="$WT/results"
T0=$SECONDS
declare -a SUMMARY=()
stage_done() { SUMMARY+=("$(printf '%-48s %5ds  %s' "$1" $((SECONDS - $2)) "${3:-}")"); }
[[ -d $SHARED/models ]] || die "shared test data not found at $SHARED (set NANODET_SHARED)"

wheel_for() {
    local w
    w="$(ls "$DIST"/nanodet_ncnn-*-cp311-cp311-manylinux_*_"$1".whl 2>/dev/null | head -1)"
    [[ -n $w ]] || die "no $1 wheel in $DIST (run tools/release/build.sh $1)"
    echo "$w"
}

# install_wheel WHEEL ARCH DIR: pip install --target, as for a foreign machine with glibc 2.31
install_wheel() {
    rm -rf "$3"
    local plats=() v
    for v in 31 28 27 26 24 17; do plats+=(--platform "manylinux_2_${v}_$2"); done
    "$HOST_PY" -m pip install -q --disable-pip-version-check --no-deps --no-compile \
        --only-binary=:all: "${plats[@]}" --python-version 3.11 --implementation cp \
        --target "$3" "$1"
    [[ -x $3/bin/bench_arm ]] || die "the wheel put no bench_arm into $3/bin"
}

# A test tree without the sources: tests/ and README.md (test_readme runs its blocks from there),
# ../shared beside it as in the repository.
layout_tests() {
    rm -rf "$WT/tree"
    mkdir -p "$WT/tree/repo/out"
    cp -r "$REPO/tests" "$REPO/README.md" "$WT/tree/repo/"
    find "$WT/tree/repo/tests" -name __pycache__ -prune -exec rm -rf {} +
    ln -s "$SHARED" "$WT/tree/shared"
}

# CPU seconds of this script's finished children so far (wall time on a shared machine says
# little): cutime + cstime of the main shell ($$ also inside command substitutions)
cpu_seconds() {
    local f
    read -ra f < "/proc/$$/stat"
    # fields 16 and 17 (1-based) after the "(comm)" field, which has no spaces here
    echo $(((f[15] + f[16]) / $(getconf CLK_TCK)))
}

# run_pytest LABEL CPU ARGS...: emulated pytest in the test tree; records the count and a JUnit
# file for the per-module table
run_pytest() {
    local label="$1" cpu="$2" t=$SECONDS c0
    shift 2
    c0="$(cpu_seconds)"
    log "pytest ($label) under -cpu $cpu: $*"
    local junit="$OUT/junit_${EMU_ARCH}_${label}_$cpu.xml"
    rm -f "$junit"
    set +e
    (cd "$WT/tree/repo" && NANODET_NCNN_EMULATED=1 NANODET_NCNN_MODELS="$SHARED/models" \
        "$EMU" "$cpu" -m pytest -p no:cacheprovider -q -rfE --junitxml="$junit" \
        "${HOST_ONLY[@]}" "$@") 2>&1 | tee "$OUT/pytest_${EMU_ARCH}_${label}_$cpu.txt"
    local rc=${PIPESTATUS[0]}
    set -e
    ((rc != 5)) || die "pytest collected no tests under $cpu ($label)"
    local n
    n="$(grep -E "[0-9]+ (passed|failed)" "$OUT/pytest_${EMU_ARCH}_${label}_$cpu.txt" | tail -1 |
        sed -E 's/ in [0-9.]+s.*//; s/^=* *//')"
    # a failed run is reported at the end, after the other CPUs' runs and the table
    ((rc == 0)) || FAILED_RUNS+=("$label on $EMU_ARCH $cpu (exit $rc): ${n:-no result}")
    stage_done "pytest $label ($EMU_ARCH, $cpu)" $t "${n:-no result}; $(($(cpu_seconds) - c0)) s CPU"
}
declare -a FAILED_RUNS=()

smoke() {  # smoke CPU [extra smoke_test args]
    local cpu="$1" t=$SECONDS
    shift
    log "smoke test of the $EMU_ARCH wheel under -cpu $cpu"
    (cd / && "$EMU" "$cpu" "$REPO/tools/arm/smoke_test.py" "$SHARED" "$OUT/smoke_${EMU_ARCH}_$cpu.json" \
        "$@" --compare "$OUT/smoke_x86_64.json") || die "smoke test failed on $EMU_ARCH $cpu"
    stage_done "smoke test ($EMU_ARCH, $cpu, vs x86_64)" $t
}

bench() {  # bench CPU: the wheel's bench_arm, one loop of NanoDet-m
    local cpu="$1" t=$SECONDS
    log "bench_arm from the $EMU_ARCH wheel under -cpu $cpu"
    OMP_THREAD_LIMIT=1 "$QEMU" -cpu "$cpu" -L "$EMU_ROOT" "$EMU_SITE/bin/bench_arm" \
        --model "$SHARED/models/nihui__ncnn-assets/nanodet_m.param" --image "$ARM/images/bus.ppm" \
        --threads 1 --loops 1 > "$OUT/bench_${EMU_ARCH}_$cpu.txt" 2>&1 ||
        { cat "$OUT/bench_${EMU_ARCH}_$cpu.txt"; die "bench_arm failed on $EMU_ARCH $cpu"; }
    stage_done "bench_arm ($EMU_ARCH, $cpu)" $t
}

# Host scripts for the emulated tests' child processes: qemu-user hands execve to the host
# kernel, which cannot run ARM binaries here (no binfmt_misc), so sys.executable (conftest reads
# NANODET_NCNN_TEST_PYTHON) and bench_arm on PATH are scripts running the same qemu and CPU model.
child_wrappers() {  # child_wrappers CPU -> prints their folder
    local dir="$WT/bin-$EMU_ARCH-$1"
    mkdir -p "$dir"
    printf '#!/bin/sh\nexec %s -cpu %s -L %s %s "$@"\n' "$QEMU" "$1" "$EMU_ROOT" \
        "$EMU_ROOT/usr/bin/python3.11" > "$dir/python"
    printf '#!/bin/sh\nexec %s -cpu %s -L %s %s "$@"\n' "$QEMU" "$1" "$EMU_ROOT" \
        "$EMU_SITE/bin/bench_arm" > "$dir/bench_arm"
    chmod +x "$dir/python" "$dir/bench_arm"
    echo "$dir"
}

# emulated python for the current arch: emu CPU args...
emu() {
    local cpu="$1" bin
    shift
    bin="$(child_wrappers "$cpu")"
    PATH="$bin:$PATH" NANODET_NCNN_TEST_PYTHON="$bin/python" \
    PYTHONPATH="$EMU_SITE:$EMU_DEPS" PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 \
    OMP_THREAD_LIMIT="${OMP_THREAD_LIMIT:-1}" PYTHONDONTWRITEBYTECODE=1 NANODET_NCNN_SHARED="$SHARED" \
        "$QEMU" -cpu "$cpu" -L "$EMU_ROOT" "$EMU_ROOT/usr/bin/python3.11" "$@"
}
EMU=emu

# numpy for the armhf Python from Debian's packages (bookworm's python3-numpy is built for 3.11),
# pure-Python test tools from PyPI.
ARMHF_DEBS=(python3-numpy libblas3 liblapack3 libgfortran5)
ARMHF_PURE=(pytest tqdm)
step_armhf_site() {
    local root="$ARM/sysroot-armhf" site="$ARM/site-armhf" want
    want="$(printf '%s\n' "${ARMHF_DEBS[@]}" "${ARMHF_PURE[@]}" | sha1sum | cut -c1-12)"
    [[ -f $site/.complete && $(cat "$site/.complete") == "$want" ]] && return
    log "numpy (Debian armhf) + ${ARMHF_PURE[*]} for the armhf Python"
    rm -rf "$site" "$ARM/debs-armhf-np"
    mkdir -p "$site" "$ARM/debs-armhf-np"
    local opts
    opts="$(private_apt "$ARM/apt-armhf" deb armhf)"
    # shellcheck disable=SC2086
    (cd "$ARM/debs-armhf-np" && apt-get $opts download "${ARMHF_DEBS[@]}")
    for d in "$ARM/debs-armhf-np"/*.deb; do dpkg -x "$d" "$root"; done
    # Debian selects the BLAS with update-alternatives; dpkg -x does not run it
    local lib="$root/usr/lib/arm-linux-gnueabihf"
    ln -sf blas/libblas.so.3 "$lib/libblas.so.3"
    ln -sf lapack/liblapack.so.3 "$lib/liblapack.so.3"
    "$HOST_PY" -m pip install -q --disable-pip-version-check --no-compile --target "$site" \
        "${ARMHF_PURE[@]}"
    rm -rf "$ARM/debs-armhf-np"
    echo "$want" > "$site/.complete"
}

# step_test_site NAME TAG... -- REQ...: PyPI wheels of REQ for the platform TAGs (cp311) with
# their dependencies, installed into $ARM/site-NAME beside lib.sh's shared sites. numpy and
# OpenCV are left out: the emulated Pythons get them from lib.sh's site or from Debian.
step_test_site() {
    local name="$1" plats=() reqs=() want
    shift
    while [[ $1 != -- ]]; do plats+=(--platform "$1"); shift; done
    shift
    reqs=("$@")
    plats+=(--python-version 3.11 --implementation cp)
    local site="$ARM/site-$name" wh="$ARM/wheelhouse-$name"
    want="$(printf '%s\n' "${reqs[@]}" | sha1sum | cut -c1-12)"
    [[ -f $site/.complete && $(cat "$site/.complete") == "$want" ]] && return
    log "wheels for the emulated test run ($name): ${reqs[*]}"
    rm -rf "$site" "$wh"
    mkdir -p "$wh"
    "$HOST_PY" -m pip download -q --disable-pip-version-check --only-binary=:all: "${plats[@]}" \
        -d "$wh" "${reqs[@]}" 2> >(grep -v "is ignored" >&2)
    rm -f "$wh"/numpy-* "$wh"/opencv_python-* "$wh"/opencv_python_headless-*
    "$HOST_PY" -m pip install -q --disable-pip-version-check --no-deps --no-compile \
        --only-binary=:all: "${plats[@]}" --target "$site" "$wh"/*.whl
    rm -rf "$wh"
    echo "$want" > "$site/.complete"
}

# The test extra's other packages for the emulated aarch64 Python; the headless OpenCV stands in
# for the GUI one trackers asks for (cv2 itself comes from $SITE).
step_aarch64_test_site() {
    step_test_site testdeps-aarch64 manylinux_2_28_aarch64 manylinux_2_17_aarch64 \
        manylinux2014_aarch64 -- "supervision>=0.30" "trackers>=2.1" "aiohttp>=3.9" qrcode \
        matplotlib pycocotools pillow "opencv-python-headless<5"
}

# What exists as armv7l wheels (aarch64's others do not): aiohttp for test_serve, qrcode for the
# QR scenes.
step_armhf_test_site() {
    step_test_site testdeps-armhf manylinux_2_31_armv7l manylinux_2_17_armv7l \
        manylinux2014_armv7l linux_armv7l -- "aiohttp>=3.9" qrcode
}

# OpenCV and Pillow for the armhf Python: PyPI has no armv7l wheels of them, Debian bookworm's
# python3-opencv (4.6) and python3-pil are built for its 3.11. Their dependency closure is ~420
# packages (VTK, GTK, GDAL, ...): it is downloaded and unpacked in a scratch folder, and only its
# Python modules and the libraries their extensions load (needed_libs.py) are copied into the
# sysroot, where dpkg -x would have put them. The stamp lives in the sysroot, so a rebuilt
# sysroot gets them again.
ARMHF_PY_DEBS=(python3-opencv python3-pil)
step_armhf_debian_python() {
    local root="$ARM/sysroot-armhf" tmp="$ARM/debian-python-armhf-tmp" want
    want="$(printf '%s\n' "${ARMHF_PY_DEBS[@]}" | sha1sum | cut -c1-12)"
    [[ -f $root/.debian-python && $(cat "$root/.debian-python") == "$want" ]] && return
    log "${ARMHF_PY_DEBS[*]} (Debian armhf; only the libraries they load) into $root"
    rm -rf "$tmp"
    mkdir -p "$tmp/debs" "$tmp/tree"
    local opts pkgs
    opts="$(private_apt "$ARM/apt-armhf" deb armhf)"
    # shellcheck disable=SC2086
    apt-get $opts update
    # numpy is step_armhf_site's; the interpreter is the sysroot's
    # shellcheck disable=SC2086
    pkgs="$(apt-cache $opts depends --recurse --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances --no-pre-depends "${ARMHF_PY_DEBS[@]}" |
        grep -v '^ ' | grep -v '^<' | sort -u |
        grep -vxE 'python3|python3-minimal|python3\.11.*|libpython3.*|python3-numpy.*')"
    # shellcheck disable=SC2086
    (cd "$tmp/debs" && apt-get $opts download $pkgs)
    for d in "$tmp/debs"/*.deb; do dpkg -x "$d" "$tmp/tree"; done
    local py="usr/lib/python3/dist-packages" rel n=0
    [[ -f $tmp/tree/$py/cv2.cpython-311-arm-linux-gnueabihf.so && -d $tmp/tree/$py/PIL ]] ||
        die "no cv2 / PIL in $py of ${ARMHF_PY_DEBS[*]}"
    mapfile -t exts < <(find "$tmp/tree/$py" -name '*.so' -type f)
    "$HOST_PY" "$REPO/tools/release/needed_libs.py" "$tmp/tree" "$root" "${exts[@]}" \
        > "$tmp/libs.txt"
    while read -r rel; do
        mkdir -p "$root/$(dirname "$rel")"
        cp -L "$tmp/tree/$rel" "$root/$rel"
        n=$((n + 1))
    done < "$tmp/libs.txt"
    mkdir -p "$root/$py"
    cp -a "$tmp/tree/$py/." "$root/$py/"
    log "${#exts[@]} extension modules + $n libraries" \
        "($(du -shc $(sed "s|^|$root/|" "$tmp/libs.txt") | tail -1 | cut -f1)) of" \
        "$(ls "$tmp/debs" | wc -l) packages ($(du -sh "$tmp/debs" | cut -f1))"
    rm -rf "$tmp"
    echo "$want" > "$root/.debian-python"
}

find_host_python
step_host_packages
step_ppm_images
mkdir -p "$OUT"
rm -f "$OUT"/junit_*.xml "$OUT"/pytest_*.txt
layout_tests

# ---- x86_64: the wheel, and the reference for the ARM smoke tests -----------------------------
t=$SECONDS
if [[ " ${ARCHES[*]} " == *" x86_64 "* ]]; then
    X86_SITE="$WT/site-x86_64"
    install_wheel "$(wheel_for x86_64)" x86_64 "$X86_SITE"
    log "smoke test of the x86_64 wheel on the host"
    (cd / && PYTHONPATH="$X86_SITE" "$HOST_PY" "$REPO/tools/arm/smoke_test.py" "$SHARED" \
        "$OUT/smoke_x86_64.json") || die "x86_64 smoke test failed"
    "$X86_SITE/bin/bench_arm" --model "$SHARED/models/nihui__ncnn-assets/nanodet_m.param" \
        --image "$ARM/images/bus.ppm" --threads 1 --loops 1 > "$OUT/bench_x86_64.txt" 2>&1 ||
        { cat "$OUT/bench_x86_64.txt"; die "bench_arm from the x86_64 wheel failed"; }
    stage_done "x86_64 wheel: install, smoke test, bench_arm" $t
else
    # the reference then comes from the host's own nanodet_ncnn (e.g. a source install)
    (cd / && "$HOST_PY" "$REPO/tools/arm/smoke_test.py" "$SHARED" "$OUT/smoke_x86_64.json") ||
        die "no x86_64 wheel tested and the host's nanodet_ncnn gave no smoke-test reference"
    stage_done "x86_64 reference from the host's nanodet_ncnn" $t
fi

# ---- sdist: a fresh venv builds it from scratch (isolated build, ncnn the documented way) -----
if [[ " ${ARCHES[*]} " == *" sdist "* ]]; then
    t=$SECONDS
    sdist="$(ls "$DIST"/nanodet_ncnn-*.tar.gz 2>/dev/null | head -1)"
    [[ -n $sdist ]] || die "no sdist in $DIST (run tools/release/build.sh sdist)"
    log "the sdist built and installed in a fresh venv"
    rm -rf "$WT/sdist-venv"
    "$HOST_PY" -m venv "$WT/sdist-venv"
    "$WT/sdist-venv/bin/pip" install -q --disable-pip-version-check "$sdist" ||
        die "the sdist did not build in a fresh venv"
    (cd / && "$WT/sdist-venv/bin/python" "$REPO/tools/arm/smoke_test.py" "$SHARED" \
        "$OUT/smoke_sdist.json" --compare "$OUT/smoke_x86_64.json") ||
        die "smoke test of the sdist install failed"
    stage_done "sdist: fresh venv, build, install, smoke test" $t
fi

for arch in "${ARCHES[@]}"; do
    case "$arch" in
    x86_64 | sdist) ;;
    aarch64)
        t=$SECONDS
        step_sysroot
        step_site
        step_aarch64_test_site
        EMU_ARCH=aarch64 QEMU=qemu-aarch64 EMU_ROOT="$SYSROOT" EMU_SITE="$WT/site-aarch64"
        EMU_DEPS="$SITE:$ARM/site-testdeps-aarch64"
        install_wheel "$(wheel_for aarch64)" aarch64 "$EMU_SITE"
        stage_done "aarch64: sysroot, deps, install the wheel" $t
        for cpu in cortex-a53 cortex-a72 cortex-a76; do
            smoke "$cpu"
            bench "$cpu"
        done
        if [[ ${NANODET_WHEELTEST_PYTEST:-1} != 0 ]]; then
            for cpu in cortex-a53 cortex-a76; do
                run_pytest mini "$cpu" -m "not slow" "${MINI[@]}"
            done
            run_pytest "$WIDE_LABEL" cortex-a72 -m "not slow" "${WIDE[@]}"
        fi
        ;;
    armv7l)
        t=$SECONDS
        step_sysroot_for armhf arm-linux-gnueabihf "$ARM/sysroot-armhf" "$ARM/sysconfig-armhf"
        step_armhf_site
        step_armhf_test_site
        step_armhf_debian_python
        EMU_ARCH=armv7l QEMU=qemu-arm EMU_ROOT="$ARM/sysroot-armhf" EMU_SITE="$WT/site-armv7l"
        EMU_DEPS="$ARM/site-armhf:$ARM/site-testdeps-armhf:$ARM/sysroot-armhf/usr/lib/python3/dist-packages"
        install_wheel "$(wheel_for armv7l)" armv7l "$EMU_SITE"
        stage_done "armv7l: sysroot, deps, install the wheel" $t
        # qemu-arm has no 32-bit model of cortex-a53 (AArch32 on ARMv8 cores): cortex-a15 instead
        for cpu in cortex-a7 cortex-a15; do
            smoke "$cpu" --ppm "$ARM/images/bus.ppm"
            bench "$cpu"
        done
        if [[ ${NANODET_WHEELTEST_PYTEST:-1} != 0 ]]; then
            # no ncnn wheel for armv7l: the oracle tests are deselected by their marker
            mapfile -t mini < <(armv7 MINI)
            mapfile -t wide < <(armv7 WIDE)
            log "armv7l leaves out (no armv7l packages): ${ARMV7_WITHOUT[*]}"
            run_pytest mini cortex-a15 -m "not slow and not needs_ncnn_wheel" "${mini[@]}"
            run_pytest "$WIDE_LABEL" cortex-a7 -m "not slow and not needs_ncnn_wheel" "${wide[@]}"
        fi
        ;;
    *) die "unknown arch $arch" ;;
    esac
done

log "wheel install tests done in $((SECONDS - T0)) s (results in $OUT)"
printf '  %s\n' "${SUMMARY[@]}"
if compgen -G "$OUT/junit_*.xml" >/dev/null; then
    log "tests that passed / ran, per module and CPU (the rest deselected as listed below)"
    "$HOST_PY" "$REPO/tools/release/junit_table.py" "$OUT/pytest_counts.json" \
        $(ls "$OUT"/junit_aarch64_*.xml "$OUT"/junit_armv7l_*.xml 2>/dev/null)
    for f in "$OUT"/pytest_*.txt; do
        d="$(grep -h "^deselected:" "$f" || true)"
        [[ -z $d ]] || printf '  %-34s %s\n' "$(basename "$f" .txt | sed 's/^pytest_//')" "$d"
    done
    echo "  host-only everywhere: ${HOST_ONLY[*]}; -m 'not slow'"
    echo "  not on armv7l (no armv7l packages): ${ARMV7_WITHOUT[*]}"
fi
if ((${#FAILED_RUNS[@]})); then
    printf '[arm] ERROR: pytest failed: %s\n' "${FAILED_RUNS[@]}" >&2
    exit 1
fi
