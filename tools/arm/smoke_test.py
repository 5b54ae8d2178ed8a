#!/usr/bin/env python3
"""Smoke test of an installed nanodet_ncnn (run under qemu-aarch64 by tools/arm/run_tests.sh, and
on the host for the reference): import, load two real models, detect on bus.jpg, write JSON.

  smoke_test.py SHARED_DIR OUT.json [--ppm BUS.ppm] [--compare REFERENCE.json]

--ppm reads bus.jpg from a PPM copy made on the host (tools/arm/lib.sh step_ppm_images) with
numpy alone, for Pythons without OpenCV (PyPI has no armv7l OpenCV wheels).

With --compare, the detections must match the reference run (same classes, boxes within 0.5 px,
scores within 2e-3: ncnn's x86 and ARM kernels round differently), else exit 1.
Ends with a "N passed, M failed" line.
"""
from __future__ import annotations

import json
import sys
import time

MODELS = {
    "nanodet_m": "nihui__ncnn-assets/nanodet_m",
    "plus416": "yyccR__nanodet-plus-ncnn-android/nanodet-plus-coco-416",
}


def read_ppm(path: str):
    """A binary PPM (P6, maxval 255) as a BGR uint8 array."""
    import numpy as np

    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval; '#' comments allowed between them
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b"P6" and fields[3] == b"255", f"{path}: not an 8-bit binary PPM"
    w, h = int(fields[1]), int(fields[2])
    rgb = np.frombuffer(data, np.uint8, w * h * 3, pos + 1).reshape(h, w, 3)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def run(shared: str, ppm: str | None = None) -> dict:
    import numpy as np

    import nanodet_ncnn
    from nanodet_ncnn import _core

    if ppm:
        img, cv2_version = read_ppm(ppm), None
    else:
        import cv2

        img, cv2_version = cv2.imread(f"{shared}/images/bus.jpg"), cv2.__version__
    assert img is not None and img.shape == (1080, 810, 3), "cannot read bus.jpg"
    res = {"kernels": _core.kernels(), "ncnn": _core.ncnn_version(),
           "numpy": np.__version__, "cv2": cv2_version, "package": nanodet_ncnn.__file__,
           "models": {}}
    for name, rel in MODELS.items():
        base = f"{shared}/models/{rel}"
        t0 = time.time()
        d = _core.Detector(base + ".param", base + ".bin", num_threads=1, precision="fp32")
        t1 = time.time()
        xyxy, scores, cls, times, insize = d.detect(img, conf=0.35)
        t2 = time.time()
        res["models"][name] = {
            "boxes": np.asarray(xyxy).round(3).tolist(), "scores": np.asarray(scores).tolist(),
            "classes": np.asarray(cls).tolist(), "input_size": list(insize),
            "load_s": round(t1 - t0, 2), "detect_s": round(t2 - t1, 2)}
    return res


def compare(a: dict, b: dict) -> list[str]:
    problems = []
    for name in MODELS:
        ma, mb = a["models"][name], b["models"][name]
        if ma["classes"] != mb["classes"] or ma["input_size"] != mb["input_size"]:
            problems.append(f"{name}: classes {ma['classes']} vs {mb['classes']}")
            continue
        for k, (p, q) in enumerate(zip(ma["boxes"], mb["boxes"])):
            if max(abs(x - y) for x, y in zip(p, q)) > 0.5:
                problems.append(f"{name} det {k}: box {p} vs {q}")
        for k, (p, q) in enumerate(zip(ma["scores"], mb["scores"])):
            if abs(p - q) > 2e-3:
                problems.append(f"{name} det {k}: score {p} vs {q}")
    return problems


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    shared, out, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    opts = dict(zip(rest[::2], rest[1::2]))
    if len(rest) % 2 or set(opts) - {"--compare", "--ppm"}:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ref = opts.get("--compare")
    passed = failed = 0
    try:
        res = run(shared, opts.get("--ppm"))
        passed += 1
    except Exception as e:  # noqa: BLE001 - report and fail
        print(f"FAIL run: {type(e).__name__}: {e}")
        print("0 passed, 1 failed")
        return 1
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    for name, m in res["models"].items():
        print(f"  {name}: {len(m['classes'])} detections, classes {m['classes']}, input "
              f"{m['input_size']}, load {m['load_s']} s, detect {m['detect_s']} s "
              f"(kernels {res['kernels']})")
    ok = all(len(m["classes"]) >= 4 and 5 in m["classes"] and m["classes"].count(0) >= 3
             for m in res["models"].values())
    print(("ok  " if ok else "FAIL") + " bus.jpg: a bus and at least 3 people per model")
    passed, failed = passed + ok, failed + (not ok)
    if ref:
        with open(ref) as f:
            problems = compare(res, json.load(f))
        for p in problems[:10]:
            print("  mismatch:", p)
        print(("ok  " if not problems else "FAIL") + f" same detections as {ref}")
        passed, failed = passed + (not problems), failed + bool(problems)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
