"""The Flask application: pages, streams, snapshots and status for every camera.

``create_app(settings)`` builds one :class:`~mjpeg_server.hub.CaptureHub` per
configured camera and keeps them in ``app.extensions["mjpeg_server"]`` (no
module globals, so tests can build as many apps as they like). The app knows
hubs, never devices: opening, failing and reopening cameras is the hub's job.

URLs (``<name>`` is a configured camera; the first one is also the default)::

    /                               viewer page (default camera)
    /cameras/<name>/                viewer page for one camera
    /stream.mjpg, /video_feed       the default camera's stream
    /cameras/<name>/stream.mjpg
    /snapshot.jpg                   the default camera's latest frame
    /cameras/<name>/snapshot.jpg
    /status                         JSON: server and every camera; with
                                    ?viewer=TOKEN also whether the stream opened
                                    with ?_=TOKEN is still connected
    /healthz                        "ok" while the process serves
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template, request

from . import __version__
from .cameras import CameraDefaults, create_camera
from .config import Settings
from .fanout import FanOut
from .hub import CaptureHub, HubClosed, HubSettings, Subscription
from .multipart import PartEncoder
from .streaming import HandedOffStream, StreamBody, StreamSlots, http_head

__all__ = ["ServerState", "create_app"]

log = logging.getLogger(__name__)

EXTENSION = "mjpeg_server"

# Every stream and snapshot is live: nothing may be cached or buffered on the
# way, or viewers behind a proxy see latency that grows over time.
NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
    "X-Accel-Buffering": "no",
}
#: Longest stream token (``?_=``) remembered for ``/status?viewer=``.
MAX_TOKEN_LENGTH = 64
RETRY_AFTER_BUSY = "5"
RETRY_AFTER_NO_FRAME = "2"


@dataclass
class ServerState:
    """What the routes share: settings, one hub per camera, the stream slots and
    the socket fan-out (created when the first stream is handed over)."""

    settings: Settings
    hubs: dict[str, CaptureHub]
    slots: StreamSlots
    started_at: float = field(default_factory=time.monotonic)
    _fanout: FanOut | None = None
    _fanout_lock: threading.Lock = field(default_factory=threading.Lock)
    #: The ``_`` query values of the open streams: a page asks ``/status?viewer=``
    #: with its own to learn whether its stream still runs (Chrome fires no event
    #: when an <img> stream breaks, and other viewers keep the count above 0).
    _viewer_tokens: Counter[str] = field(default_factory=Counter)
    _tokens_lock: threading.Lock = field(default_factory=threading.Lock)

    def track_viewer(self, token: str, delta: int) -> None:
        with self._tokens_lock:
            self._viewer_tokens[token] += delta
            if self._viewer_tokens[token] <= 0:
                del self._viewer_tokens[token]

    def viewer_connected(self, token: str) -> bool:
        with self._tokens_lock:
            return token in self._viewer_tokens

    def fanout(self) -> FanOut:
        with self._fanout_lock:
            if self._fanout is None:
                self._fanout = FanOut(heartbeat_interval=self.settings.heartbeat_interval)
            return self._fanout

    def hub(self, name: str | None) -> CaptureHub:
        hub = self.hubs.get(name or self.settings.default_camera)
        if hub is None:
            abort(404, description=f"no camera named {name!r}")
        return hub

    def close(self) -> None:
        """End every stream and release every camera."""
        for hub in self.hubs.values():
            hub.close()
        with self._fanout_lock:
            fanout = self._fanout
        if fanout is not None:
            fanout.close()


def state() -> ServerState:
    server_state: ServerState = current_app.extensions[EXTENSION]
    return server_state


def _no_signal_jpeg() -> bytes:
    return (resources.files("mjpeg_server") / "static" / "no-signal.jpg").read_bytes()


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app and its hubs. Cameras are created (and their configuration
    checked) here, but opened only when the first viewer arrives."""
    settings = settings or Settings()
    encoder = PartEncoder(settings.boundary)
    placeholder = _no_signal_jpeg()
    defaults = CameraDefaults(fps=settings.fps)
    hub_settings = HubSettings(
        idle_timeout=settings.idle_timeout, stall_timeout=settings.stall_timeout
    )
    hubs = {
        camera.name: CaptureHub(
            create_camera(camera.spec, defaults),
            encoder,
            name=camera.name,
            settings=hub_settings,
            placeholder=placeholder,
        )
        for camera in settings.cameras
    }
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # cameras keep their configured order
    app.extensions[EXTENSION] = ServerState(settings, hubs, StreamSlots(settings.max_clients))
    app.register_blueprint(bp)
    return app


bp = Blueprint("mjpeg", __name__)


def _client_address() -> str:
    port = request.environ.get("REMOTE_PORT")
    address = request.remote_addr or "?"
    return f"{address}:{port}" if port else address


@bp.get("/")
@bp.get("/cameras/<name>/")
def viewer(name: str | None = None) -> str:
    server = state()
    hub = server.hub(name)
    return render_template(
        "index.html",
        camera=hub.name,
        cameras=list(server.hubs),
        version=__version__,
        # Names this page's first stream for /status?viewer= (and busts caches).
        stream_token=secrets.token_urlsafe(8),
    )


@bp.get("/stream.mjpg")
@bp.get("/video_feed")
@bp.get("/cameras/<name>/stream.mjpg")
def stream(name: str | None = None) -> Response:
    server = state()
    hub = server.hub(name)
    headers = {"Content-Type": hub.encoder.content_type, **NO_CACHE}
    if request.method == "HEAD":
        return Response(b"", 200, headers)
    if not server.slots.try_acquire():
        log.warning("refused a stream: %d streams already open", server.slots.limit)
        return _unavailable(
            f"Too many viewers ({server.slots.limit}); try again later.", RETRY_AFTER_BUSY
        )
    try:
        subscription = hub.subscribe()
    except HubClosed:
        server.slots.release()
        return _unavailable("The server is shutting down.", RETRY_AFTER_BUSY)
    client = _client_address()
    token = request.args.get("_", "")[:MAX_TOKEN_LENGTH]
    server.track_viewer(token, +1)
    log.info("client %s connected to camera %r (%d viewers)", client, hub.name, hub.clients)

    def on_close(subscription: Subscription, seconds: float, reason: str) -> None:
        server.slots.release()
        server.track_viewer(token, -1)
        log.info(
            "client %s left camera %r (%s) after %.1f s, %d frames sent, %d skipped (%d viewers)",
            client,
            hub.name,
            reason,
            seconds,
            subscription.frames_sent,
            subscription.frames_skipped,
            hub.clients,
        )

    # Chromium paints a part only when the next part's headers have arrived;
    # the viewer page asks for them to be sent early (PartEncoder.encode_advance).
    advance = request.args.get("advance_headers") == "1"
    opening = hub.encoder.advance_opening if advance else hub.encoder.opening
    sock = request.environ.get("gunicorn.socket")
    if server.settings.send_path == "fanout" and isinstance(sock, socket.socket):
        head = http_head(request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"), headers)
        body: HandedOffStream | StreamBody = HandedOffStream(
            server.fanout(),
            sock,
            hub=hub,
            subscription=subscription,
            head=head + opening,
            on_close=on_close,
            advance=advance,
        )
    else:
        body = StreamBody(
            subscription,
            opening=opening,
            heartbeat_interval=server.settings.heartbeat_interval,
            on_close=on_close,
            advance=advance,
        )
    return Response(body, 200, headers)


def _unavailable(message: str, retry_after: str) -> Response:
    return Response(
        message + "\n", 503, {"Retry-After": retry_after, **NO_CACHE}, mimetype="text/plain"
    )


@bp.get("/snapshot.jpg")
@bp.get("/cameras/<name>/snapshot.jpg")
def snapshot(name: str | None = None) -> Response:
    server = state()
    hub = server.hub(name)
    part = hub.snapshot(server.settings.snapshot_timeout)
    if part is None:
        return _unavailable(
            f"Camera {hub.name!r} has no frame yet ({hub.state}); try again shortly.",
            RETRY_AFTER_NO_FRAME,
        )
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(part.frame.timestamp))
    return Response(
        part.frame.jpeg,
        200,
        {
            **NO_CACHE,
            "Content-Disposition": f'inline; filename="{hub.name}-{stamp}.jpg"',
            "X-Timestamp": f"{part.frame.timestamp:.6f}",
            "X-Frame-Seq": str(part.seq),
        },
        mimetype="image/jpeg",
    )


@bp.get("/status")
def status() -> Response:
    server = state()
    cameras: dict[str, Any] = {}
    for name, hub in server.hubs.items():
        cameras[name] = hub.status().to_json() | {
            "urls": {
                "viewer": f"/cameras/{name}/",
                "stream": f"/cameras/{name}/stream.mjpg",
                "snapshot": f"/cameras/{name}/snapshot.jpg",
            }
        }
    extra: dict[str, Any] = {}
    viewer = request.args.get("viewer")
    if viewer:
        extra["viewer_connected"] = server.viewer_connected(viewer[:MAX_TOKEN_LENGTH])
    response = jsonify(
        version=__version__,
        uptime_s=round(time.monotonic() - server.started_at, 3),
        clients=server.slots.active,
        max_clients=server.slots.limit,
        default_camera=server.settings.default_camera,
        cameras=cameras,
        **extra,
    )
    response.headers.update(NO_CACHE)
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return Response("ok\n", 200, {"Cache-Control": "no-store"}, mimetype="text/plain")
