#!/usr/bin/env bash
# Exact ARM instruction counts per stage (detect, raw extract, decode+NMS NEON vs scalar) of
# the cross-built bench_arm under qemu-aarch64 (or qemu-arm: --arch armv7) + the icount plugin.
# Builds what is missing (cached under ~/.cache/nanodet-ncnn/arm).
#
#   tools/arm/bench_icount.sh [--arch aarch64|armv7] [--cpu cortex-a72|cortex-a76|cortex-a7]
#                             [--model PARAM] [--image IMG]
#                             [--input-size S] [--resize letterbox|dynamic|stretch]
#                             [--warmup W] [--loops L] [--decode-loops D] [--stages LIST]
#                             [--json OUT] [-v]
#
# Defaults: NanoDet-Plus-m 416 (shared/models/yyccR__.../nanodet-plus-coco-416) on bus.jpg.
# IMG may be any image the host's OpenCV/Pillow reads (converted to PPM on the fly).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

args=("$@")
model="$SHARED/models/yyccR__nanodet-plus-ncnn-android/nanodet-plus-coco-416.param"
image=""
arch=aarch64
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --model) model="${args[$((i + 1))]}" ;;
        --image) image="${args[$((i + 1))]}" ;;
        --arch) arch="${args[$((i + 1))]}" ;;
    esac
done
# drop --model/--image/--arch from the pass-through list
pass=()
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --model | --image | --arch) i=$((i + 1)) ;;
        *) pass+=("${args[$i]}") ;;
    esac
done

find_host_python
step_host_packages
step_icount_plugin
case "$arch" in
    aarch64)
        [[ -x $TOOLS_BUILD/cpp/tools/bench_arm ]] || { step_host_build_env; step_build_tools; }
        target=(--bench "$TOOLS_BUILD/cpp/tools/bench_arm") ;;
    armv7)
        step_sysroot_armhf
        [[ -x $TOOLS_BUILD_ARMV7/cpp/tools/bench_arm ]] || step_build_tools_armv7
        target=(--bench "$TOOLS_BUILD_ARMV7/cpp/tools/bench_arm" --qemu qemu-arm
                --ld-prefix "$SYSROOT_ARMHF" --cpu cortex-a7) ;;
    *) die "--arch: aarch64 or armv7, not $arch" ;;
esac
step_ppm_images
if [[ -z $image ]]; then
    image="$ARM/images/bus.ppm"
elif [[ $image != *.ppm && $image != *.pgm ]]; then
    conv="$ARM/images/$(basename "${image%.*}").ppm"
    "$HOST_PY" "$REPO/cpp/tools/to_ppm.py" "$image" "$conv"
    image="$conv"
fi
# a --cpu among the pass-through arguments comes later and wins over the armv7 default
exec "$HOST_PY" "$REPO/tools/arm/bench_icount.py" "${target[@]}" \
    --plugin "$ICOUNT_DIR/libicount.so" --model "$model" --image "$image" "${pass[@]}"
