#!/usr/bin/env bash
# Per-CPU precision table (docs/arm.md): instruction counts of the network stage and of detect()
# for nanodet-m 320, NanoDet-Plus-m 416 and the shipped INT8 model at fp32 / fp16 / int8 on
# cortex-a53, cortex-a72, cortex-a76 (aarch64) and fp32 on cortex-a7 (armv7l), one thread, under
# qemu + the icount plugin, with the bench_arm of the release wheels (tools/release/build.sh).
#
#   bash tools/arm/precision_icount.sh [--dist DIR] [--cpus cortex-a53,...] [-j N] [--json OUT]
#   bash tools/arm/precision_icount.sh --eval [--dist DIR] [--limit N] [--json OUT]
#
# Default --json: benchmarks/data/precision_icount.json (committed raw data). Instruction counts
# are not time (an fp16 and an fp32 instruction differ in cost; memory traffic is not counted).
# --eval instead measures the mAP of fp16 vs fp32 where fp16 arithmetic actually runs: COCO128
# detected under qemu-aarch64 -cpu cortex-a76 with the aarch64 wheel, scored on the host
# (benchmarks/emulated_eval.py, docs/precision.md; default --json
# benchmarks/data/emulated_eval_a76.json; the host needs pycocotools: pip install ".[test]").
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dist="$REPO/dist"
json=""
eval_mode=0
pass=()
while (($#)); do
    case "$1" in
        --dist) dist="$2"; shift 2 ;;
        --json) json="$2"; shift 2 ;;
        --eval) eval_mode=1; shift ;;
        *) pass+=("$1"); shift ;;
    esac
done

find_host_python
step_host_packages
step_sysroot

if ((eval_mode)); then
    step_site
    site="$ARM/precision-eval-$REPO_KEY"
    whl="$(release_wheel_site "$dist" aarch64 "$site")"
    log "COCO128 under qemu -cpu cortex-a76 with $(basename "$whl")"
    exec "$HOST_PY" "$REPO/benchmarks/emulated_eval.py" --shared "$SHARED" --cpu-label cortex-a76 \
        --emu "qemu-aarch64 -cpu cortex-a76 -L $SYSROOT $SYSROOT/usr/bin/python3.11" \
        --pythonpath "$site:$SITE" --json "${json:-$REPO/benchmarks/data/emulated_eval_a76.json}" \
        "${pass[@]}"
fi

command -v qemu-arm >/dev/null || die "qemu-arm missing (apt-get install qemu-user)"
step_icount_plugin
step_ppm_images
step_sysroot_for armhf arm-linux-gnueabihf "$ARM/sysroot-armhf" "$ARM/sysconfig-armhf"

# bench_arm of each release wheel, unpacked into a folder of its own
declare -A bench
src=""
for arch in aarch64 armv7l; do
    whl="$(release_wheel_site "$dist" "$arch" "$ARM/precision-$REPO_KEY/$arch")"
    bench[$arch]="$ARM/precision-$REPO_KEY/$arch/bin/bench_arm"
    src+="${src:+, }$(basename "$whl")"
done

exec "$HOST_PY" "$REPO/tools/arm/precision_icount.py" \
    --bench-aarch64 "${bench[aarch64]}" --bench-armv7l "${bench[armv7l]}" \
    --ld-aarch64 "$SYSROOT" --ld-armv7l "$ARM/sysroot-armhf" --plugin "$ICOUNT_DIR/libicount.so" \
    --shared "$SHARED" --image "$ARM/images/bus.ppm" \
    --json "${json:-$REPO/benchmarks/data/precision_icount.json}" --source "$src" "${pass[@]}"
