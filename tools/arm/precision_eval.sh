#!/usr/bin/env bash
# mAP of fp16 vs fp32 where fp16 arithmetic actually runs: COCO128 detected under
# qemu-aarch64 -cpu cortex-a76 with the aarch64 release wheel, scored on the host
# (benchmarks/emulated_eval.py; docs/precision.md).
#
#   bash tools/arm/precision_eval.sh [--dist DIR] [--limit N] [--cpu cortex-a76] [--json OUT]
#
# Default --json: benchmarks/data/emulated_eval_a76.json. The host needs nanodet_ncnn and
# pycocotools (pip install ".[test]").
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dist="$REPO/dist"
cpu=cortex-a76
json="$REPO/benchmarks/data/emulated_eval_a76.json"
pass=()
while (($#)); do
    case "$1" in
        --dist) dist="$2"; shift 2 ;;
        --cpu) cpu="$2"; shift 2 ;;
        --json) json="$2"; shift 2 ;;
        *) pass+=("$1"); shift ;;
    esac
done

find_host_python
step_host_packages
step_sysroot
step_site
site="$ARM/precision-eval-$REPO_KEY"
whl="$(release_wheel_site "$dist" aarch64 "$site")"
log "COCO128 under qemu -cpu $cpu with $(basename "$whl")"
exec "$HOST_PY" "$REPO/benchmarks/emulated_eval.py" --shared "$SHARED" --cpu-label "$cpu" \
    --emu "qemu-aarch64 -cpu $cpu -L $SYSROOT $SYSROOT/usr/bin/python3.11" \
    --pythonpath "$site:$SITE" --json "$json" "${pass[@]}"
