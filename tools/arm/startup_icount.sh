#!/usr/bin/env bash
# Start-up instruction counts on aarch64 (import, load, first frame, steady frame), nanodet_ncnn
# against the ncnn wheel, under qemu-aarch64 + the icount plugin with the emulated CPython 3.11.
# Builds what is missing (sysroot, wheels, plugin, the cross-built nanodet_ncnn wheel; cached
# under ~/.cache/nanodet-ncnn/arm).
#
#   tools/arm/startup_icount.sh [--cpu cortex-a72|cortex-a76] [--models plus416,nanodet_m]
#                               [--image bus.jpg] [--json OUT] [-v]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# this checkout's wheel in its own folders, so that a run_tests.sh of another checkout sharing
# the cache keeps its own
NANODET_SITE="$ARM/site-nanodet-$REPO_KEY"
WHEEL_DIR="$ARM/wheels-$REPO_KEY"

find_host_python
step_host_packages
step_sysroot
step_site
step_icount_plugin
if [[ ! -d $NANODET_SITE/nanodet_ncnn || ${NANODET_ARM_REBUILD_WHEEL:-0} == 1 ]]; then
    step_host_build_env
    step_wheel >/dev/null
fi
# bytecode compiled once on the host (same 3.11 magic): imports are counted as on an installed
# system, not as first-run compilation
"$HOST_PY" -m compileall -q -j 0 "$NANODET_SITE" "$SITE" >/dev/null 2>&1 || true
export PYTHONPATH="$NANODET_SITE:$SITE" PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 \
    OMP_THREAD_LIMIT=1 PYTHONDONTWRITEBYTECODE=1 NANODET_NCNN_SHARED="$SHARED"
exec "$HOST_PY" "$REPO/tools/arm/startup_icount.py" --startup "$REPO/benchmarks/startup.py" \
    --plugin "$ICOUNT_DIR/libicount.so" --sysroot "$SYSROOT" --shared "$SHARED" "$@"
