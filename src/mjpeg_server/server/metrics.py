"""``/metrics``: the server's counters in Prometheus' text format.

prometheus_client is imported on the first scrape, not at start-up (idle
memory budget). Nothing is counted twice: a collector reads the same numbers
``/status`` shows (each hub's status, the stream slots, access control) at
scrape time, so the hot path pays nothing for metrics. Each app has its own
registry, so tests and embedders may build as many apps as they like.

Per camera (label ``camera``)::

    mjpeg_server_frames_captured_total   frames the camera delivered
    mjpeg_server_frames_sent_total       frames written to viewers (each viewer counts)
    mjpeg_server_frames_skipped_total    frames viewers skipped (slow, or rate-capped)
    mjpeg_server_frames_unchanged_total  identical frames not sent (--drop-same-frames)
    mjpeg_server_camera_opens_total      … closes_total, failures_total
    mjpeg_server_viewers                 streams open now
    mjpeg_server_fps                     measured frame rate; fps_configured: asked for
    mjpeg_server_camera_state            1 for the camera's current state (label ``state``)

Per server: ``mjpeg_server_streams``/``…_max_streams``,
``mjpeg_server_streams_refused_total`` (503 at --max-clients), the front door's
counts (``…_connections_accepted_total``, ``…_connections_refused_total``,
``…_requests_total``, ``…_header_timeouts_total``, ``…_send_timeouts_total`` …),
``mjpeg_server_auth_failures_total``, ``mjpeg_server_auth_lockouts_total``,
``mjpeg_server_uptime_seconds`` and ``mjpeg_server_info{version}``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, Response, current_app

from .. import __version__
from ..hub import HubState, HubStatus
from . import auth
from .state import ServerState

__all__ = ["install"]

EXTENSION = "mjpeg_server.metrics"
#: The text format every Prometheus reads (newer prometheus_client versions
#: announce 1.0.0, which is the same text for ASCII names like ours).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_registry_lock = threading.Lock()


#: The front door's counters (state.FrontDoorStats): metric name (before
#: ``_total``) and help. Zero under ``--server dev``.
_FRONT_DOOR = {
    "accepted": ("connections_accepted", "Connections accepted."),
    "refused": ("connections_refused", "Connections closed at once: at the connection limit."),
    "requests": ("requests", "Complete requests run through the app."),
    "streams": ("streams_started", "Requests that became streams."),
    "on_loop": ("requests_on_loop", "Requests answered on the event loop, not a pool thread."),
    "header_timeouts": ("header_timeouts", "Connections closed: no request head in time."),
    "oversize_heads": ("oversize_heads", "Request heads over the size limit (431)."),
    "bad_requests": ("bad_requests", "Malformed requests (400) and bodies too large (413)."),
    "send_timeouts": ("send_timeouts", "Responses and streams ended: no byte taken in time."),
    "overloaded": ("overloaded", "Requests answered 503: too many waited for the app."),
    "tls_failures": ("tls_failures", "TLS handshakes that failed."),
}


class _Collector:
    """Reads the app's state at scrape time (prometheus_client's collector protocol)."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (  # noqa: PLC0415  # first scrape only
            CounterMetricFamily,
            GaugeMetricFamily,
            InfoMetricFamily,
        )

        server = ServerState.of(self._app)
        statuses = [hub.status() for hub in server.hubs.values()]
        per_camera = {
            "frames_captured": "Frames the camera delivered.",
            "frames_sent": "Frames written to viewers; each viewer counts.",
            "frames_skipped": "Frames viewers skipped: slow, or capped by ?fps=.",
            "frames_unchanged": "Identical frames not sent (--drop-same-frames).",
            "frames_rejected": "Frames the camera delivered that were not JPEGs: never served.",
            "opens": "Times the camera was opened.",
            "closes": "Times the camera was closed.",
            "failures": "Times the camera failed and was reopened.",
        }
        for field, help_text in per_camera.items():
            name = field if field.startswith("frames") else f"camera_{field}"
            counter = CounterMetricFamily(f"mjpeg_server_{name}", help_text, labels=["camera"])
            for status in statuses:
                counter.add_metric([status.name], getattr(status, field))
            yield counter
        gauges: dict[str, tuple[str, Callable[[HubStatus], float]]] = {
            "viewers": ("Streams open now.", lambda s: s.clients),
            "fps": ("Measured frame rate.", lambda s: s.fps_measured),
            "fps_configured": ("Frame rate asked of the camera.", lambda s: s.fps_configured),
        }
        for name, (help_text, value) in gauges.items():
            gauge = GaugeMetricFamily(f"mjpeg_server_{name}", help_text, labels=["camera"])
            for status in statuses:
                gauge.add_metric([status.name], value(status))
            yield gauge
        state = GaugeMetricFamily(
            "mjpeg_server_camera_state",
            "1 for the camera's current state, 0 for the others.",
            labels=["camera", "state"],
        )
        for status in statuses:
            for each in HubState:
                state.add_metric([status.name, str(each)], 1.0 if status.state is each else 0.0)
        yield state
        yield from self._server(server, CounterMetricFamily, GaugeMetricFamily)
        info = InfoMetricFamily("mjpeg_server", "The server's version.")
        info.add_metric([], {"version": __version__})
        yield info

    def _server(self, server: ServerState, counter: Any, gauge: Any) -> Iterator[Any]:
        yield gauge("mjpeg_server_streams", "Streams open, all cameras.", server.slots.active)
        yield gauge("mjpeg_server_max_streams", "--max-clients.", server.slots.limit)
        yield counter(
            "mjpeg_server_streams_refused",
            "Streams refused with 503 because --max-clients were open.",
            server.slots.refused,
        )
        stats = server.front_door
        for field in dataclasses.fields(stats):
            name, help_text = _FRONT_DOOR.get(
                field.name, (f"front_door_{field.name}", f"The front door's {field.name} count.")
            )
            yield counter(f"mjpeg_server_{name}", help_text, getattr(stats, field.name))
        access = auth.of(self._app)
        yield counter(
            "mjpeg_server_auth_failures",
            "Wrong, unknown or malformed credentials.",
            access.failures if access else 0,
        )
        yield counter(
            "mjpeg_server_auth_lockouts",
            "Requests refused with 429 after too many failures from their address.",
            access.locked_out if access else 0,
        )
        yield gauge(
            "mjpeg_server_uptime_seconds",
            "Seconds since the server started.",
            time.monotonic() - server.started_at,
        )


def _registry(app: Flask) -> Any:
    from prometheus_client import CollectorRegistry  # noqa: PLC0415  # first scrape only

    with _registry_lock:
        registry = app.extensions.get(EXTENSION)
        if registry is None:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_Collector(app))
            app.extensions[EXTENSION] = registry
        return registry


def metrics() -> Response:
    from prometheus_client import generate_latest  # noqa: PLC0415  # first scrape only

    body = generate_latest(_registry(current_app))
    return Response(body, 200, {"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})


def install(app: Flask) -> None:
    app.add_url_rule("/metrics", endpoint="metrics", view_func=metrics)
