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

Other servers' URLs for the same streams and snapshots (``/?action=stream``,
``/stream`` …) are added by :mod:`.compat`; ``/metrics`` (Prometheus) by
:mod:`.metrics`; access control (``/login``) by :mod:`.auth`.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from dataclasses import asdict
from importlib import resources
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)

from .. import __version__
from ..cameras import create_camera
from ..config import Settings
from ..hub import CaptureHub, HubClosed, HubSettings, Subscription
from ..wire.frame_headers import encode_frame_headers
from ..wire.multipart import Layout, PartEncoder
from ..wording import counted
from . import auth, compat, metrics
from .bodies import ADOPT_STREAM, FanoutBody, WsgiBody
from .controls import bp as controls_bp
from .state import EXTENSION, ServerState, StreamSlots

__all__ = [
    "EVERY_RESPONSE",
    "STREAM_ENDPOINT",
    "ServerState",
    "create_app",
    "every_response",
    "layout_for_user_agent",
    "open_stream",
]

log = logging.getLogger(__name__)

# Every stream and snapshot is live: nothing may be cached or buffered on the
# way, or viewers behind a proxy see latency that grows over time.
NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
    "X-Accel-Buffering": "no",
}
#: Headers on every response, set in ``after_request`` so that every server gets
#: them: the dev server, and the front door, which builds a stream's head from
#: the app's response before the fan-out writes it. ``nosniff``: a browser must
#: take a frame, a page or a 503 text for what its Content-Type says and never
#: guess script or HTML from the bytes (a relayed upstream's are not ours to vouch for).
EVERY_RESPONSE = {"X-Content-Type-Options": "nosniff"}
#: Longest stream token (``?_=``) remembered for ``/status?viewer=``.
MAX_TOKEN_LENGTH = 64
RETRY_AFTER_BUSY = "5"
RETRY_AFTER_NO_FRAME = "2"


def _no_signal_jpeg() -> bytes:
    return (resources.files("mjpeg_server.server") / "static" / "no-signal.jpg").read_bytes()


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app and its hubs. Cameras are created (and their configuration
    checked) here, but opened only when the first viewer arrives."""
    settings = settings or Settings()
    encoder = PartEncoder(settings.boundary)
    placeholder = _no_signal_jpeg()
    defaults = settings.camera_defaults
    hub_settings = HubSettings(
        idle_timeout=settings.idle_timeout,
        stall_timeout=settings.stall_timeout,
        drop_same_frames=settings.drop_same_frames,
    )
    hubs = {
        camera.name: CaptureHub(
            create_camera(camera.spec, defaults, name=camera.name),
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
    # Access control first: its before_request hook must run before any other.
    auth.install(app, settings)
    app.register_blueprint(bp)
    compat.install(app)
    metrics.install(app)
    app.register_blueprint(controls_bp)
    app.after_request(every_response)
    return app


def every_response(response: Response) -> Response:
    """The ``after_request`` hook of every response (:data:`EVERY_RESPONSE`)."""
    response.headers.update(EVERY_RESPONSE)
    return response


bp = Blueprint("mjpeg", __name__)


def _state() -> ServerState:
    return ServerState.of(current_app)


def _hub_or_404(server: ServerState, name: str | None) -> CaptureHub:
    hub = server.hub(name)
    if hub is None:
        abort(404, description=f"no camera named {name!r}")
    return hub


def layout_for_user_agent(user_agent: str) -> Layout:
    """The stream layout a browser paints without lag.

    Chromium paints a part only when the next part's headers arrive (crbug
    527446), which shows every frame one frame late, so Blink browsers
    (Chrome, Edge, Opera, Samsung Internet; not Chrome on iOS, which is WebKit
    and says ``CriOS``) get the next headers right after each frame. Others
    keep Content-Length and the frame headers on every part.
    """
    blink = "Chrome/" in user_agent or "Chromium/" in user_agent
    return Layout.ADVANCE_HEADERS if blink else Layout.STANDARD


def _client_address(request: Request) -> str:
    port = request.environ.get("REMOTE_PORT")
    address = request.remote_addr or "?"
    return f"{address}:{port}" if port else address


@bp.get("/")
@bp.get("/cameras/<name>/")
def viewer(name: str | None = None) -> str:
    server = _state()
    hub = _hub_or_404(server, name)
    advance = layout_for_user_agent(request.user_agent.string) is Layout.ADVANCE_HEADERS
    return render_template(
        "index.html",
        camera=hub.name,
        cameras=list(server.hubs),
        version=__version__,
        stream_url=url_for(
            "mjpeg.stream",
            name=hub.name,
            advance_headers=1 if advance else None,
            # Names this page's first stream for /status?viewer= (and busts caches).
            _=secrets.token_urlsafe(8),
        ),
    )


#: The stream view's endpoint (``/stream.mjpg`` and every alias of it).
STREAM_ENDPOINT = compat.ACTIONS["stream"]


@bp.get("/stream.mjpg")
@bp.get("/video_feed")
@bp.get("/cameras/<name>/stream.mjpg")
def stream(name: str | None = None) -> Response:
    return open_stream(_state(), name, request)


def open_stream(server: ServerState, name: str | None, request: Request) -> Response:
    """The stream view's work: camera, rate cap, slot (or ``503``), subscription,
    headers and layout. Flask's view calls it, and so does the front door's direct
    path for streams (``admission.py``), with the request it read; any
    ``HTTPException`` (``404``, ``400``) is raised before anything is taken."""
    hub = _hub_or_404(server, name)
    headers = {"Content-Type": hub.encoder.content_type, **NO_CACHE}
    max_fps = _max_fps(request.args.get("fps"))
    if request.method == "HEAD":
        return Response(b"", 200, headers)
    if not server.slots.try_acquire():
        server.refusals.refused("stream", f"{server.slots.limit} streams already open")
        return _unavailable(
            f"Too many viewers ({server.slots.limit}); try again later.", RETRY_AFTER_BUSY
        )
    try:
        subscription = hub.subscribe(max_fps=max_fps)
    except HubClosed:
        server.slots.release()
        return _unavailable("The server is shutting down.", RETRY_AFTER_BUSY)
    client = _client_address(request)
    token = request.args.get("_", "")[:MAX_TOKEN_LENGTH]
    server.track_viewer(token, +1)
    log.info(
        "client %s connected to camera %r (%s)", client, hub.name, counted(hub.clients, "viewer")
    )

    def on_close(subscription: Subscription, seconds: float, reason: str) -> None:
        server.slots.release()
        server.track_viewer(token, -1)
        log.info(
            "client %s left camera %r (%s) after %.1f s, %s sent, %d skipped (%s)",
            client,
            hub.name,
            reason,
            seconds,
            counted(subscription.frames_sent, "frame"),
            subscription.frames_skipped,
            counted(hub.clients, "viewer"),
        )

    # Chromium paints a part only when the next part's headers have arrived;
    # the viewer page asks for them to be sent early (layout_for_user_agent).
    layout = (
        Layout.ADVANCE_HEADERS if request.args.get("advance_headers") == "1" else Layout.STANDARD
    )
    opening = hub.encoder.opening_for(layout)
    adopt = request.environ.get(ADOPT_STREAM)
    if adopt is not None:  # the front door writes the stream from its event loop
        body: FanoutBody | WsgiBody = FanoutBody(
            adopt,
            hub=hub,
            subscription=subscription,
            opening=opening,
            on_close=on_close,
            layout=layout,
        )
    else:
        body = WsgiBody(
            subscription,
            opening=opening,
            heartbeat_interval=server.settings.heartbeat_interval,
            on_close=on_close,
            layout=layout,
        )
    return Response(body, 200, headers)


def _max_fps(text: str | None) -> float | None:
    """``?fps=N``: the viewer's rate cap (a positive number), or ``None``; 400 otherwise."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        abort(400, description=f"fps must be a positive number, not {text[:20]!r}")
    return value


def _unavailable(message: str, retry_after: str) -> Response:
    return Response(
        message + "\n", 503, {"Retry-After": retry_after, **NO_CACHE}, mimetype="text/plain"
    )


@bp.get("/snapshot.jpg")
@bp.get("/cameras/<name>/snapshot.jpg")
def snapshot(name: str | None = None) -> Response:
    server = _state()
    hub = _hub_or_404(server, name)
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
            **dict(encode_frame_headers(part.frame.timestamp, part.seq)),
        },
        mimetype="image/jpeg",
    )


@bp.get("/status")
def status() -> Response:
    server = _state()
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
        streams_refused=server.slots.refused,
        front_door=asdict(server.front_door),
        default_camera=server.settings.default_camera,
        cameras=cameras,
        **extra,
    )
    response.headers.update(NO_CACHE)
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return Response("ok\n", 200, {"Cache-Control": "no-store"}, mimetype="text/plain")
