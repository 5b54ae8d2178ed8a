#!/usr/bin/env python3
"""Frames for the desktop JNI harness, and the comparison of its output with the Python API.

  jni_parity.py prepare WORK SHARED   writes WORK/cases.txt and the raw frame buffers
  (run the Java harness: it writes WORK/out/<case>.bgr and WORK/out/<case>.det)
  jni_parity.py compare WORK SHARED   checks them; prints PASS/FAIL lines and a summary
  jni_parity.py arm WORK SHARED FRAME_CHECK   the aarch64 frame_check under qemu vs the host

Every frame is built from an upright image of ../shared/images by applying the *inverse* of the
case's (rotation, mirror), i.e. it is what a camera sensor in that orientation would hand over;
the native side must turn it back into the upright image (exactly, for packed formats) and its
detections must equal the Python API's on the frame it saw.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

IMAGES = ["bus.jpg", "zidane.jpg", "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"]
MODELS = {  # key -> (param, bin) under SHARED/models
    "plus416": ("Deepdive543443__ncnn-android-nanodet/nanodet-plus-m_416.param",
                "Deepdive543443__ncnn-android-nanodet/nanodet-plus-m_416.bin"),
    "m320": ("nihui__ncnn-assets/nanodet_m.param", "nihui__ncnn-assets/nanodet_m.bin"),
    "qr416": ("yyccR__nanodet-plus-ncnn-android/nanodet-plus-qr-416.param",
              "yyccR__nanodet-plus-ncnn-android/nanodet-plus-qr-416.bin"),
}
THREADS = 2
CONF, IOU = 0.35, 0.6
FORMATS = {"bgr": 0, "rgb": 1, "rgba": 2, "bgra": 3, "gray": 4, "nv21": 5, "nv12": 6, "yuv420": 7}
BOX_TOL, SCORE_TOL = 1e-3, 1e-5


# --- orientation: displayed = mirror(rotate_cw(stored, rotation)) ---------------------------
def to_display(a: np.ndarray, rotation: int, mirror: bool) -> np.ndarray:
    a = np.rot90(a, k=-(rotation // 90), axes=(0, 1))  # k<0: clockwise
    return np.ascontiguousarray(a[:, ::-1] if mirror else a)


def to_stored(a: np.ndarray, rotation: int, mirror: bool) -> np.ndarray:
    if mirror:
        a = a[:, ::-1]
    return np.ascontiguousarray(np.rot90(a, k=rotation // 90, axes=(0, 1)))


# --- YUV 4:2:0 planes of an upright BGR image (even size) -----------------------------------
# Full-range BT.601 (JFIF) as camera HALs deliver it and as ncnn's yuv420sp2rgb reads it;
# OpenCV's COLOR_BGR2YUV_I420 would give video-range values instead.
def yuv_planes(bgr: np.ndarray):
    h, w = bgr.shape[:2]
    ycrcb = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    y = np.ascontiguousarray(ycrcb[:, :, 0])
    sub = cv2.resize(ycrcb, (w // 2, h // 2), interpolation=cv2.INTER_AREA)  # 2x2 means
    return y, np.ascontiguousarray(sub[:, :, 2]), np.ascontiguousarray(sub[:, :, 1])  # Y, U=Cb, V=Cr


def yuv_to_bgr_reference(y, u, v) -> np.ndarray:
    """OpenCV's full-range YCrCb -> BGR with nearest chroma upsampling (like yuv420sp2rgb)."""
    up = lambda p: np.repeat(np.repeat(p, 2, axis=0), 2, axis=1)
    return cv2.cvtColor(np.dstack([y, up(v), up(u)]), cv2.COLOR_YCrCb2BGR)


def padded(rows: np.ndarray, stride: int) -> np.ndarray:
    """2-D uint8 rows copied into rows of `stride` bytes (junk in the padding)."""
    h, n = rows.shape
    out = np.full((h, stride), 0xA5, np.uint8)
    out[:, :n] = rows
    return out


def upright_image(shared: Path, name: str) -> np.ndarray:
    img = cv2.imread(str(shared / "images" / name), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    return np.ascontiguousarray(img[: h - h % 2, : w - w % 2])


def build_case(work: Path, cid: str, img: np.ndarray, fmt: str, rotation: int, mirror: bool,
               pad: int, kind: str = "bytes", pixel_stride: int = 2) -> dict:
    """Writes the stored frame's buffers; returns the manifest entry."""
    c = dict(case=cid, format=FORMATS[fmt], rot=rotation, mirror=int(mirror), kind=kind)
    files = []
    if fmt in ("bgr", "rgb", "rgba", "bgra", "gray"):
        conv = {"bgr": None, "rgb": cv2.COLOR_BGR2RGB, "rgba": cv2.COLOR_BGR2RGBA,
                "bgra": cv2.COLOR_BGR2BGRA, "gray": cv2.COLOR_BGR2GRAY}[fmt]
        px = img if conv is None else cv2.cvtColor(img, conv)
        st = to_stored(px, rotation, mirror)
        h, w = st.shape[:2]
        rows = st.reshape(h, -1)
        stride = rows.shape[1] + pad
        (work / f"{cid}.data").write_bytes(padded(rows, stride).tobytes())
        c.update(w=w, h=h, stride=stride)
        files.append("data")
    else:
        y, u, v = (to_stored(p, rotation, mirror) for p in yuv_planes(img))
        h, w = y.shape
        ys = w + pad
        if kind == "bytes":  # NV21 / NV12 in one array: Y rows then chroma rows, same stride
            first, second = (v, u) if fmt == "nv21" else (u, v)
            chroma = np.stack([first, second], axis=-1).reshape(h // 2, w)
            buf = np.concatenate([padded(y, ys), padded(chroma, ys)]).tobytes()
            (work / f"{cid}.data").write_bytes(buf)
            c.update(w=w, h=h, stride=ys)
            files.append("data")
        else:  # YUV_420_888 planes; pixel stride 2 = one VU-interleaved buffer (as Android does)
            uvs = (w if pixel_stride == 2 else w // 2) + pad
            (work / f"{cid}.y").write_bytes(padded(y, ys).tobytes())
            if pixel_stride == 2:
                vu = np.stack([v, u], axis=-1).reshape(h // 2, w)
                (work / f"{cid}.vu").write_bytes(padded(vu, uvs).tobytes())
                files.append("vu")
            else:
                (work / f"{cid}.u").write_bytes(padded(u, uvs).tobytes())
                (work / f"{cid}.v").write_bytes(padded(v, uvs).tobytes())
                files += ["u", "v"]
            c.update(w=w, h=h, stride=ys, uvstride=uvs, ps=pixel_stride)
    return c


def prepare(work: Path, shared: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "out").mkdir(exist_ok=True)
    cases = []

    def add(model, cid, img, *args, image=None, **kw):
        e = build_case(work, cid, img, *args, **kw)
        e["model"] = model
        e["image"] = image or img_name
        cases.append(e)

    for img_name in IMAGES:
        img = upright_image(shared, img_name)
        stem = Path(img_name).stem
        np.save(work / f"{stem}.upright.npy", img)
        # Bitmaps and packed buffers (exact: the native frame must equal the upright image)
        add("plus416", f"{stem}-bgr-r0", img, "bgr", 0, False, 0)
        add("plus416", f"{stem}-rgba-r90-pad", img, "rgba", 90, False, 12)
        # camera frames: NV21 byte array (back camera, portrait), YUV_420_888 direct buffers
        add("plus416", f"{stem}-nv21-r0", img, "nv21", 0, False, 0)
        add("plus416", f"{stem}-nv21-r90", img, "nv21", 90, False, 0)
        add("plus416", f"{stem}-yuv420sp-r270-mirror-pad", img, "yuv420", 270, True, 32,
            kind="yuv420", pixel_stride=2)
        add("plus416", f"{stem}-i420-r180-pad", img, "yuv420", 180, False, 8, kind="yuv420",
            pixel_stride=1)
        add("m320", f"{stem}-m320-nv12-r90-mirror", img, "nv12", 90, True, 16)
    # every rotation/mirror combination and packed format once, on one image
    img_name = "bus.jpg"
    img = upright_image(shared, img_name)
    for fmt, rot, mir in [("bgr", 90, False), ("bgr", 180, False), ("bgr", 270, False),
                          ("bgr", 0, True), ("bgr", 90, True), ("bgr", 180, True),
                          ("bgr", 270, True), ("rgb", 90, True), ("bgra", 270, False),
                          ("gray", 90, False), ("rgba", 180, True)]:
        add("plus416", f"bus-{fmt}-r{rot}{'-mirror' if mir else ''}", img, fmt, rot, mir, 4)
    for rot, mir in [(0, True), (180, True), (90, True), (270, False)]:
        add("plus416", f"bus-nv21-r{rot}{'-mirror' if mir else ''}", img, "nv21", rot, mir, 0)
    add("qr416", "bus-qr416-nv21-r90", img, "nv21", 90, False, 0)
    add("qr416", "zidane-qr416-rgba-r0", upright_image(shared, "zidane.jpg"), "rgba", 0, False, 0,
        image="zidane.jpg")

    with open(work / "models.txt", "w") as f:
        for key, (p, b) in MODELS.items():
            f.write(f"{key} {shared / 'models' / p} {shared / 'models' / b} {THREADS}\n")
    with open(work / "cases.txt", "w") as f:
        for c in cases:
            f.write(" ".join(f"{k}={v}" for k, v in c.items()) + "\n")
    (work / "cases.json").write_text(json.dumps(cases))
    print(f"prepared {len(cases)} frames from {len(IMAGES)} images in {work}")


# --- comparison -------------------------------------------------------------------------------
def read_det(path: Path) -> np.ndarray:
    vals = np.array([float(x) for x in path.read_text().split()], np.float32)
    n = int(vals[0])
    assert vals.size == 8 + 6 * n, f"{path}: {vals.size} values for {n} detections"
    return vals


def compare(work: Path, shared: Path) -> int:
    import nanodet_ncnn

    cases = json.loads((work / "cases.json").read_text())
    dets = {k: nanodet_ncnn.Detector(shared / "models" / p, shared / "models" / b,
                                     num_threads=THREADS, conf=CONF, iou=IOU)
            for k, (p, b) in MODELS.items()}
    passed = failed = 0
    n_dets = 0
    max_box = max_score = 0.0
    yuv_mad = []
    nv21_ref: dict[str, np.ndarray] = {}

    def check(ok: bool, name: str, why: str = "") -> None:
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {name}: {why}")

    # YUV frames first, each image's upright NV21 frame before the rotated ones
    for c in sorted(cases, key=lambda c: (c["format"] < 5, not c["case"].endswith("-nv21-r0"))):
        cid = c["case"]
        out_bgr, out_det = work / "out" / f"{cid}.bgr", work / "out" / f"{cid}.det"
        if not (out_bgr.exists() and out_det.exists()):
            check(False, cid, "the harness wrote no output")
            continue
        vals = read_det(out_det)
        W, H = int(vals[1]), int(vals[2])
        seen = np.frombuffer(out_bgr.read_bytes(), np.uint8)
        if seen.size != W * H * 3:
            check(False, cid, f"BGR frame has {seen.size} bytes, expected {W}x{H}x3")
            continue
        seen = seen.reshape(H, W, 3)
        stem = Path(c["image"]).stem
        # frames were built as inverse(rotation, mirror) of the upright image: the displayed
        # frame must be that image again
        upright = np.load(work / f"{stem}.upright.npy")
        # 1. orientation and colour conversion
        if c["format"] < 5:
            ref = upright
            if c["format"] == FORMATS["gray"]:
                g = cv2.cvtColor(upright, cv2.COLOR_BGR2GRAY)
                ref = np.repeat(g[:, :, None], 3, axis=2)
            check(seen.shape == ref.shape and np.array_equal(seen, ref), f"{cid} frame",
                  "the native upright frame differs from the rotated/mirrored image")
        else:
            if cid.endswith("-nv21-r0"):
                nv21_ref[stem] = seen
            base = nv21_ref.get(stem)
            if base is not None:
                check(seen.shape == base.shape and np.array_equal(seen, base), f"{cid} frame",
                      "YUV frame rotated natively differs from the upright frame converted natively")
            # against OpenCV's YUV->BGR of the same planes (other rounding: close, not equal)
            cv = yuv_to_bgr_reference(*yuv_planes(upright))
            mad = float(np.abs(seen.astype(np.int16) - cv.astype(np.int16)).mean())
            yuv_mad.append(mad)
            check(mad < 3.0, f"{cid} colour", f"mean |native - OpenCV| = {mad:.2f} levels")
        # 2. detections: the Python API on the frame the native side saw
        py = dets[c["model"]].detect(np.ascontiguousarray(seen))
        nat = vals[8:].reshape(-1, 6)
        if len(py) != len(nat):
            check(False, f"{cid} detections", f"native {len(nat)} vs Python {len(py)}")
            continue
        n_dets += len(nat)
        if len(nat):
            db = float(np.abs(nat[:, :4] - np.asarray(py.xyxy, np.float32)).max())
            ds = float(np.abs(nat[:, 4] - np.asarray(py.scores, np.float32)).max())
            same_cls = bool(np.array_equal(nat[:, 5].astype(int), np.asarray(py.class_ids)))
            max_box, max_score = max(max_box, db), max(max_score, ds)
            check(db <= BOX_TOL and ds <= SCORE_TOL and same_cls, f"{cid} detections",
                  f"max box diff {db:.2e}, max score diff {ds:.2e}, classes equal {same_cls}")
        else:
            check(True, f"{cid} detections")
        t = vals[3:8]
        check(bool(np.all(t >= 0) and t[0] <= t[1] + 1e-3), f"{cid} timings", f"{t}")

    print(f"parity: {len(cases)} frames, {n_dets} detections compared with the Python API: "
          f"max |box| diff {max_box:.2e} px, max |score| diff {max_score:.2e}; native vs OpenCV "
          f"YUV->BGR mean abs diff {min(yuv_mad):.2f}..{max(yuv_mad):.2f} levels")
    print(f"RESULT {passed} {failed}")
    return 1 if failed else 0


# --- the aarch64 build under qemu ------------------------------------------------------------
ARM_CONVERT = ["bus-bgr-r90-mirror", "bus-rgba-r90-pad", "bus-gray-r90", "bus-nv21-r0",
               "bus-m320-nv12-r90-mirror", "bus-rgb-r90-mirror"]
ARM_DETECT = ["bus-nv21-r90"]  # one real forward pass: seconds under emulation


def arm(work: Path, shared: Path, frame_check: str) -> int:
    """Runs the cross-built frame_check under qemu (cortex-a72: plain NEON, no fp16) on a few of
    the harness's byte-array frames and compares with the host JNI results."""
    import subprocess
    import time

    cases = {c["case"]: c for c in json.loads((work / "cases.json").read_text())}
    qemu = ["qemu-aarch64", "-cpu", "cortex-a72", "-L", "/usr/aarch64-linux-gnu"]
    out = work / "arm"
    out.mkdir(exist_ok=True)
    passed = failed = 0
    for cid in ARM_CONVERT + ARM_DETECT:
        c = cases[cid]
        detect = cid in ARM_DETECT
        p, b = MODELS[c["model"]]
        cmd = qemu + [frame_check, str(shared / "models" / p), str(shared / "models" / b),
                      str(work / f"{cid}.data"), str(c["w"]), str(c["h"]), str(c["stride"]),
                      str(c["format"]), str(c["rot"]), str(c["mirror"]),
                      str(THREADS if detect else 0), str(out / cid)]
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        name = f"aarch64 {'detect' if detect else 'convert'} {cid}"
        if r.returncode != 0:
            failed += 1
            print(f"FAIL {name}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
            continue
        a = np.fromfile(out / f"{cid}.bgr", np.uint8)
        h = np.fromfile(work / "out" / f"{cid}.bgr", np.uint8)
        ok = a.shape == h.shape and np.array_equal(a, h)
        why = "" if ok else f"frame differs from the host's (max {np.abs(a.astype(int) - h).max()})"
        msg = ""
        if ok and detect:
            va, vh = read_det(out / f"{cid}.det"), read_det(work / "out" / f"{cid}.det")
            if va[0] != vh[0]:
                ok, why = False, f"{int(va[0])} detections vs {int(vh[0])} on the host"
            else:
                da, dh = va[8:].reshape(-1, 6), vh[8:].reshape(-1, 6)
                db = float(np.abs(da[:, :4] - dh[:, :4]).max()) if len(da) else 0.0
                ds = float(np.abs(da[:, 4] - dh[:, 4]).max()) if len(da) else 0.0
                ok = db <= 0.05 and ds <= 1e-3 and np.array_equal(da[:, 5], dh[:, 5])
                why = f"max box diff {db:.2e} px, score diff {ds:.2e}"
                msg = f" ({int(va[0])} detections, max box diff {db:.1e} px, score diff {ds:.1e})"
        if ok:
            passed += 1
            print(f"PASS {name}{msg} [{time.time() - t0:.1f} s]")
        else:
            failed += 1
            print(f"FAIL {name}: {why}")
    print(f"RESULT {passed} {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    cmds = {"prepare": 4, "compare": 4, "arm": 5}
    if len(sys.argv) < 2 or cmds.get(sys.argv[1]) != len(sys.argv):
        sys.exit(__doc__)
    work, shared = Path(sys.argv[2]), Path(sys.argv[3])
    if sys.argv[1] == "prepare":
        sys.exit(prepare(work, shared))
    if sys.argv[1] == "compare":
        sys.exit(compare(work, shared))
    sys.exit(arm(work, shared, sys.argv[4]))
