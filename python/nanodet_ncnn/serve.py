"""Live view over HTTP: one producer thread runs predict() (or track()) on a source and
publishes the newest annotated frame; an aiohttp server hands it to browsers and programs.

Endpoints: ``/`` (the page), ``/stream.mjpg`` (multipart MJPEG), ``/snapshot.jpg``,
``/detections`` (latest JSON), ``/events`` (server-sent events, one JSON message per frame),
``/healthz`` and ``/static/...`` (only files of the package's static folder).

Every client reads the newest frame when it is ready for one, so a slow or stalled client only
ever holds one frame and never slows inference (``pip install 'nanodet-ncnn[serve]'``).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
TOKEN_ENV = "NANODET_NCNN_TOKEN"


@dataclass(frozen=True)
class Snapshot:
    seq: int
    jpeg: bytes
    message: bytes  # the JSON payload, encoded once for every client


class Hub:
    """The newest Snapshot, handed from the producer thread to the event loop.

    The producer never waits on the loop: it replaces a pending snapshot and schedules at most
    one wake-up, so nothing queues up when the loop is busy.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.latest: Snapshot | None = None
        self.closed = False
        self.frames = 0
        self.error: str | None = None
        self.finished = False
        self._next: Snapshot | None = None
        self._pending = False
        self._lock = threading.Lock()
        self._event = asyncio.Event()
        self._times: deque = deque(maxlen=30)
        self.clients = {"stream": 0, "events": 0}

    # producer thread
    def publish(self, snap: Snapshot) -> None:
        with self._lock:
            self._next = snap
            self.frames += 1
            self._times.append(time.perf_counter())
            schedule = not self._pending
            self._pending = True
        if schedule:
            try:
                self.loop.call_soon_threadsafe(self._wake)
            except RuntimeError:  # loop already closed during shutdown
                pass

    @property
    def fps(self) -> float:
        with self._lock:
            t = list(self._times)
        if len(t) < 2 or time.perf_counter() - t[-1] > 5.0:
            return 0.0
        return (len(t) - 1) / (t[-1] - t[0])

    # event loop
    def _wake(self) -> None:
        with self._lock:
            self.latest, self._next, self._pending = self._next, None, False
        self._notify()

    def _notify(self) -> None:
        ev, self._event = self._event, asyncio.Event()
        ev.set()

    def close(self) -> None:
        self.closed = True
        self._notify()

    async def next(self, seq: int) -> Snapshot | None:
        """The newest snapshot newer than ``seq``; None once the server is closing."""
        while not self.closed:
            snap = self.latest
            if snap is not None and snap.seq != seq:
                return snap
            ev = self._event
            await ev.wait()
        return None


def _payload(r, seq: int, fps: float) -> dict:
    d = r.to_dict()
    latency = r.speed.get("latency")
    d.update(seq=seq, fps=round(fps, 2), time=time.time(),
             latency_ms=round(float(latency if latency is not None else r.speed.get("total", 0.0)), 2),
             latency_from="capture" if latency is not None else "detect")
    return d


class Producer(threading.Thread):
    """Runs the predict (or track) generator on its own thread and publishes each result."""

    def __init__(self, hub: Hub, model, source, *, track: bool = False, loop_source: bool = False,
                 jpeg_quality: int = 80, predict_kwargs: dict | None = None,
                 track_kwargs: dict | None = None):
        super().__init__(name="nanodet-serve-producer", daemon=True)
        self.hub, self.model, self.source = hub, model, source
        self.track, self.loop_source = track, loop_source
        self.quality = int(jpeg_quality)
        self.predict_kwargs = dict(predict_kwargs or {})
        self.track_kwargs = dict(track_kwargs or {})
        self.stop = threading.Event()

    def _results(self):
        if self.track:
            return self.model.track(self.source, stream=True, progress=False,
                                    **self.track_kwargs, **self.predict_kwargs)
        return self.model.predict(self.source, stream=True, progress=False, **self.predict_kwargs)

    def run(self) -> None:
        import cv2

        seq = 0
        try:
            while not self.stop.is_set():
                results = self._results()
                try:
                    for r in results:
                        ok, jpg = cv2.imencode(".jpg", r.plot(), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
                        if not ok:
                            raise RuntimeError("JPEG encoding failed")
                        seq += 1
                        msg = json.dumps(_payload(r, seq, self.hub.fps)).encode()
                        self.hub.publish(Snapshot(seq, jpg.tobytes(), msg))
                        if self.stop.is_set():
                            break
                finally:
                    close = getattr(results, "close", None)
                    if close:
                        close()
                if not self.loop_source:
                    break
        except Exception as exc:  # shown on /healthz and the console; the server stays up
            self.hub.error = f"{type(exc).__name__}: {exc}"
            print(f"nanodet-ncnn serve: source stopped: {self.hub.error}", file=sys.stderr, flush=True)
        finally:
            self.hub.finished = True


def _token_of(request) -> str:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("X-Token") or request.query.get("token", "")


def make_app(hub: Hub, *, token: str | None = None, max_clients: int = 8,
             stall_timeout: float = 30.0):
    """The aiohttp application serving ``hub``."""
    from aiohttp import web

    @web.middleware
    async def auth(request, handler):
        if token and not hmac.compare_digest(_token_of(request).encode(), token.encode()):
            raise web.HTTPUnauthorized(text="401: a valid token is required (header "
                                            "'Authorization: Bearer T' or ?token=T)",
                                       headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    no_store = {"Cache-Control": "no-store"}

    async def index(request):
        return web.FileResponse(STATIC / "index.html", headers=no_store)

    async def healthz(request):
        return web.json_response({"status": "error" if hub.error else "ok", "frames": hub.frames,
                                  "fps": round(hub.fps, 2), "finished": hub.finished,
                                  "error": hub.error, "clients": dict(hub.clients)},
                                 headers=no_store)

    async def snapshot(request):
        snap = hub.latest
        if snap is None:
            raise web.HTTPServiceUnavailable(text="no frame yet", headers={"Retry-After": "1"})
        return web.Response(body=snap.jpeg, content_type="image/jpeg", headers=no_store)

    async def detections(request):
        snap = hub.latest
        if snap is None:
            raise web.HTTPServiceUnavailable(text="no frame yet", headers={"Retry-After": "1"})
        return web.Response(body=snap.message, content_type="application/json", headers=no_store)

    async def _streaming(request, kind: str, content_type: str, chunk_of):
        if hub.clients[kind] >= max_clients:
            raise web.HTTPServiceUnavailable(text=f"at most {max_clients} {kind} clients",
                                             headers={"Retry-After": "5"})
        hub.clients[kind] += 1
        resp = None
        try:
            resp = web.StreamResponse(headers={"Content-Type": content_type, **no_store,
                                               "X-Accel-Buffering": "no"})
            await resp.prepare(request)
            seq = -1
            while True:
                snap = await hub.next(seq)
                if snap is None:
                    break
                seq = snap.seq
                # write() waits while the client's socket buffer is full: this client then
                # skips frames (it gets the newest next time) and inference never waits.
                await asyncio.wait_for(resp.write(chunk_of(snap)), timeout=stall_timeout)
            return resp
        except (ConnectionError, asyncio.TimeoutError):  # the client went away or stalled
            return resp
        finally:
            hub.clients[kind] -= 1

    async def stream(request):
        return await _streaming(
            request, "stream", "multipart/x-mixed-replace; boundary=frame",
            lambda s: b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                      % (len(s.jpeg), s.jpeg))

    async def events(request):
        return await _streaming(request, "events", "text/event-stream",
                                lambda s: b"data: " + s.message + b"\n\n")

    app = web.Application(middlewares=[auth])
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/snapshot.jpg", snapshot)
    app.router.add_get("/detections", detections)
    app.router.add_get("/stream.mjpg", stream)
    app.router.add_get("/events", events)
    app.router.add_static("/static/", STATIC, follow_symlinks=False, show_index=False)
    return app


def serve(model, source, *, host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
          max_clients: int = 8, track: bool = False, loop_source: bool = False,
          jpeg_quality: int = 80, stall_timeout: float = 30.0, predict_kwargs: dict | None = None,
          track_kwargs: dict | None = None) -> int:
    """Serves the live view until Ctrl+C / SIGTERM; returns 0 (or 1 if the source failed
    before the first frame). ``token`` defaults to $NANODET_NCNN_TOKEN."""
    try:
        from aiohttp import web
    except ImportError as exc:
        raise ImportError("serve needs the optional package 'aiohttp': "
                          "pip install 'nanodet-ncnn[serve]'") from exc
    if max_clients < 1:
        raise ValueError("max_clients must be >= 1")
    if not 0 <= int(port) <= 65535:
        raise ValueError(f"port must be within 0..65535, got {port}")
    token = token if token is not None else (os.environ.get(TOKEN_ENV) or None)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        hub = Hub(loop)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread / Windows
                pass
        producer = Producer(hub, model, source, track=track, loop_source=loop_source,
                            jpeg_quality=jpeg_quality, predict_kwargs=predict_kwargs,
                            track_kwargs=track_kwargs)
        runner = web.AppRunner(make_app(hub, token=token, max_clients=max_clients,
                                        stall_timeout=stall_timeout), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, int(port), shutdown_timeout=0.5)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        shown = f"[{host}]" if ":" in host else host
        print(f"serving on http://{shown}:{bound}/" + ("  (token required)" if token else ""),
              flush=True)
        producer.start()
        try:
            await stop.wait()
        finally:
            producer.stop.set()
            hub.close()
            await runner.cleanup()
            await loop.run_in_executor(None, producer.join, 1.0)
        return 1 if hub.error and not hub.frames else 0

    return asyncio.run(main())
