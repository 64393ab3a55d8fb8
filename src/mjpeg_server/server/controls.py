"""Runtime camera controls: ``GET``/``POST /controls`` and ``/cameras/<name>/controls``.

``GET`` lists what the camera lets a user change: each control's type, range
or choices, default, current value, and whether a change is ``live`` or
reopens the camera. ``POST`` takes a JSON object ``{"rotate": 90, "overlay":
"%H:%M:%S"}`` (``null`` puts a control back to its default) and answers with
the new listing, or ``400`` and one line saying what is wrong.

A control is a spec option, so a change is checked exactly as at start-up:
the camera is rebuilt from its spec with the new options (same messages as
``--camera``), then handed to its hub (:meth:`CaptureHub.reconfigure`), which
applies it between two frames or reopens the camera; viewers stay connected
either way (a reopen is a gap in ``X-Frame-Seq``). If the camera cannot open
with the new settings the previous ones come back and the answer is ``400``.
Every change is logged; with ``--config FILE`` it is also written back to the
camera's ``[cameras.NAME]`` table (``"saved"`` in the answer), so it survives
a restart.

Access: the app-wide check of ``server/auth.py`` (a ``before_request`` hook)
covers these routes like every other, ``POST`` included.

``POST`` needs ``Content-Type: application/json``: a cross-site HTML form
cannot send that without the browser asking first (CORS), so another site
cannot change the camera through a visitor's browser.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from flask import Blueprint, Response, abort, current_app, jsonify, make_response, request

from ..cameras import Camera, SpecError, create_camera
from ..cameras.base import CameraError
from ..config import ConfigError
from ..hub import CaptureHub, HubClosed
from .state import ServerState

__all__ = ["APPLY_TIMEOUT", "bp", "controls_json", "option_value"]

log = logging.getLogger(__name__)

#: Seconds a POST waits for the hub to apply a change (a reopen of a real camera
#: takes about a second); past it the answer is 202 and the change still happens.
APPLY_TIMEOUT = 15.0

bp = Blueprint("controls", __name__)


def _fail(status: int, message: str) -> NoReturn:
    abort(make_response(jsonify(error=message), status))


def _hub(name: str | None) -> CaptureHub:
    server = ServerState.of(current_app)
    hub = server.hub(name)
    if hub is None:
        _fail(404, f"no camera named {name!r}")
    return hub


def controls_json(camera: Camera) -> dict[str, Any]:
    return {control.name: control.to_json() for control in camera.controls()}


def _listing(hub: CaptureHub) -> dict[str, Any]:
    camera = hub.camera
    return {"camera": hub.name, "spec": str(camera.spec or ""), "controls": controls_json(camera)}


def option_value(name: str, value: object) -> str | None:
    """A JSON value as the spec option's text (``None``: back to the default)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number")
        return f"{value:g}" if value == int(value) else repr(value)
    if isinstance(value, str):
        return value
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return f"{value[0]}x{value[1]}"  # size as [width, height]
    raise ValueError(f"{name} must be a number, true/false, text or null")


@bp.get("/controls")
@bp.get("/cameras/<name>/controls")
def get_controls(name: str | None = None) -> Response:
    response = jsonify(_listing(_hub(name)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/controls")
@bp.post("/cameras/<name>/controls")
def post_controls(name: str | None = None) -> Response:
    hub = _hub(name)
    if not request.is_json:
        _fail(415, "send the changes as JSON (Content-Type: application/json)")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body:
        _fail(400, 'expected a JSON object of control: value, e.g. {"rotate": 90}')
    camera = hub.camera
    known = {control.name for control in camera.controls()}
    unknown = sorted(set(body) - known)
    if unknown:
        _fail(
            400,
            f"camera {hub.name!r} has no control {', '.join(unknown)} "
            f"(controls: {', '.join(sorted(known))})",
        )
    try:
        changes = {key: option_value(key, value) for key, value in body.items()}
    except ValueError as error:
        _fail(400, str(error))
    result = apply_changes(hub, changes)
    status = 200 if result["applied"] else 202
    return make_response(jsonify(result), status)


def apply_changes(hub: CaptureHub, changes: Mapping[str, str | None]) -> dict[str, Any]:
    """Rebuild ``hub``'s camera with ``changes`` to its spec options and hand it over.
    Aborts with 400 for a value the backend refuses."""
    server = ServerState.of(current_app)
    camera = hub.camera
    if camera.spec is None:
        _fail(400, f"camera {hub.name!r} was not built from a spec: it has no controls")
    spec = camera.spec.with_options(changes)
    try:
        new = create_camera(spec, server.settings.camera_defaults, name=hub.name)
    except (SpecError, CameraError) as error:
        _fail(400, str(error))
    try:
        outcome = hub.reconfigure(new, APPLY_TIMEOUT)
    except HubClosed:
        _fail(503, "the server is shutting down")
    said = ", ".join(
        f"{key}={'(default)' if value is None else value}" for key, value in changes.items()
    )
    if outcome.error is not None:
        log.warning("camera %r: %s refused: %s", hub.name, said, outcome.error)
        _fail(400, f"camera {hub.name!r} cannot run with {said}: {outcome.error}")
    how = "reopened" if outcome.reopened else "applied"
    if not outcome.done.is_set():
        how = "being applied"
    log.info("camera %r: controls %s %s (now %s)", hub.name, said, how, spec)
    return {
        **_listing(hub),
        "applied": outcome.done.is_set(),
        "reopened": outcome.reopened,
        "saved": _save(server, hub.name, changes),
    }


def _save(server: ServerState, name: str, changes: Mapping[str, str | None]) -> bool | None:
    """Write ``changes`` back to the ``--config`` file; ``None`` when there is none."""
    path = server.settings.config_file
    if path is None:
        return None
    from .. import config_file  # noqa: PLC0415 - only with --config

    try:
        config_file.update_camera(Path(path), name, changes)
    except ConfigError as error:
        log.warning("camera %r: changes not saved: %s", name, error)
        return False
    log.info("camera %r: changes saved to %s", name, path)
    return True
