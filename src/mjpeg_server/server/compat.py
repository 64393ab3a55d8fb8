"""The URLs other programs already use for a stream and a snapshot.

OctoPrint, Mainsail, Fluidd, crowsnest and many phone apps assume
mjpg-streamer's ``/?action=stream`` and ``/?action=snapshot``; others assume
µStreamer's ``/stream`` and ``/snapshot``. Answering those with the viewer page
and a 200 breaks them silently, so they are served here as the same views as
``/stream.mjpg`` and ``/snapshot.jpg``, for the default camera and under
``/cameras/<name>/``::

    /?action=stream      /stream      /cameras/<name>/?action=stream    /cameras/<name>/stream
    /?action=snapshot    /snapshot    /cameras/<name>/?action=snapshot  /cameras/<name>/snapshot

Any other query on a viewer page (``/?action=foo``, ``/?x=1``) keeps the page.
The views are not copied: the µStreamer paths are extra rules for the same
endpoints, and ``?action=`` is dispatched before the viewer runs, so an alias
behaves exactly like its original (limits, status, the fan-out, access control).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue

__all__ = ["ACTIONS", "dispatch_action", "install", "served_by"]

#: ``?action=`` value → the endpoint that serves it.
ACTIONS = {"stream": "mjpeg.stream", "snapshot": "mjpeg.snapshot"}
_VIEWER = "mjpeg.viewer"


def install(app: Flask) -> None:
    """Add the aliases to an app whose ``mjpeg`` blueprint is registered."""
    for prefix in ("", "/cameras/<name>"):
        app.add_url_rule(f"{prefix}/stream", endpoint=ACTIONS["stream"])
        app.add_url_rule(f"{prefix}/snapshot", endpoint=ACTIONS["snapshot"])
    app.before_request(dispatch_action)


def served_by(endpoint: str | None, args: Mapping[str, str]) -> str | None:
    """The endpoint that answers a request routed to ``endpoint`` with query ``args``:
    the stream or snapshot for ``?action=`` on a viewer URL, else ``endpoint`` itself."""
    if endpoint == _VIEWER:
        return ACTIONS.get(args.get("action", ""), endpoint)
    return endpoint


def dispatch_action() -> ResponseReturnValue | None:
    """Serve ``?action=stream|snapshot`` on a viewer URL; ``None`` lets the page run."""
    endpoint = served_by(request.endpoint, request.args)
    if endpoint == request.endpoint or endpoint is None:
        return None
    view = current_app.ensure_sync(current_app.view_functions[endpoint])  # as Flask dispatches
    result: ResponseReturnValue = view(**(request.view_args or {}))
    return result
