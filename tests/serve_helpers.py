"""A real `nanodet-ncnn serve` subprocess on loopback, and small HTTP helpers for its tests."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from conftest import EMULATED, IMAGES, model_paths


def zidane_clip(path: Path, frames: int = 30) -> Path:
    """A short video of zidane.jpg sliding sideways."""
    img = cv2.resize(cv2.imread(str(IMAGES / "zidane.jpg")), (640, 360))
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, (640, 360))
    for i in range(frames):
        w.write(np.roll(img, 4 * (i - frames // 2), axis=1))
    w.release()
    return path


class Server:
    """`python -m nanodet_ncnn serve SOURCE --port 0 ...` with its bound port."""

    def __init__(self, source: Path, *args: str, env: dict | None = None,
                 timeout: float = 900 if EMULATED else 180):  # qemu starts it ~10x slower
        param, _ = model_paths("nanodet_m")
        cmd = [sys.executable, "-m", "nanodet_ncnn", "serve", str(source), "--model", str(param),
               "--threads", "1", "--port", "0", "--loop", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, **(env or {})})
        self.port = None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:  # the first stdout line names the address
            line = self.proc.stdout.readline()
            if line.startswith("serving on http://127.0.0.1:") or not line:
                break
        if not line.startswith("serving on"):
            self.stop()
            raise RuntimeError(f"server did not start: {line!r} {self.proc.stderr.read()[-2000:]}")
        self.port = int(line.split(":")[2].split("/")[0])
        self.token = (env or {}).get("NANODET_NCNN_TOKEN")
        while time.monotonic() < deadline:  # until the first frame is out
            st, _, body = self.get("/healthz", token=self.token)
            if st == 200 and json.loads(body)["frames"] > 0:
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("server produced no frame in time")

    def get(self, path: str, *, token: str | None = None, headers: dict | None = None,
            timeout: float = 120 if EMULATED else 30) -> tuple[int, str, bytes]:
        if token:
            path += ("&" if "?" in path else "?") + "token=" + token
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            return r.status, r.getheader("Content-Type", ""), r.read()
        finally:
            c.close()

    def health(self) -> dict:
        return json.loads(self.get("/healthz", token=self.token)[2])

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self, sig=signal.SIGTERM, wait: float = 10) -> tuple[int | None, float]:
        """Sends `sig`; (exit code or None if it had to be killed, seconds it took)."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                return None, time.monotonic() - t0
        return self.proc.returncode, time.monotonic() - t0


def open_stream(port: int, path: str = "/stream.mjpg") -> socket.socket:
    """A raw client that sent its request (and reads nothing yet)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return s


def raw_request(port: int, path: str) -> tuple[int, bytes]:
    """Status and body of a request sent byte for byte as given (no client-side normalising)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


class Reader(threading.Thread):
    """Reads an MJPEG stream as fast as it comes for `seconds`, counting JPEG parts."""

    def __init__(self, port: int, seconds: float):
        super().__init__(daemon=True)
        self.port, self.seconds = port, seconds
        self.parts = 0
        self.status = None
        self.error = None

    def run(self):
        try:
            s = open_stream(self.port)
            end = time.monotonic() + self.seconds
            buf = b""
            while time.monotonic() < end:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                buf += chunk
                if self.status is None and b"\r\n" in buf:
                    self.status = int(buf.split(b"\r\n", 1)[0].split()[1])
                self.parts += buf.count(b"--frame\r\n")
                buf = buf[-8:]  # shorter than the marker: no part counted twice
            s.close()
        except Exception as exc:  # reported by the test
            self.error = exc
