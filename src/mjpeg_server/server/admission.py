"""Stream requests on the front door's event loop: which, and with what.

In a join storm (hundreds of viewers connecting at once) each stream request
used to cross to a pool thread and back: two wake-ups, and the loop and the
pool taking turns on the GIL, so the requests queued behind each other. The
stream view never waits (it checks access, takes a slot, subscribes and
returns a body the loop adopts), so the front door runs it on the loop
(``FrontDoor(loop_app=...)``), with what :func:`loop_app` chooses:

* **not a stream**, or a request whose ``Authorization`` may cost a bcrypt
  hash (:func:`.auth.may_block`): ``None``, the pool runs the app;
* **a stream, on an app whose request hooks are exactly the ones create_app
  installs without access control** (compat's ``?action=`` dispatch before,
  :func:`.app.every_response` after): the stream view's own work
  (:func:`.app.open_stream`) with ``every_response`` applied, as Flask's
  ``after_request`` would, and nothing of Flask's per-request machinery
  (contexts, signals, hook lookups, about half of a stream request's cost).
  A ``404`` or ``400`` it raises is raised before anything is taken, so Flask
  answers those again, as it answers everything;
* **any other stream** (access control on, or a hook this module does not
  know): the whole Flask app, on the loop.

The URL map is the app's own and :func:`.compat.served_by` maps the
``?action=`` alias as compat's hook does, so a URL is a stream here exactly
when it is one for Flask. ``tests/unit/test_stream_admission.py`` compares the
answers both ways over real sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask, Request
from werkzeug.exceptions import HTTPException

from . import auth, compat
from .app import STREAM_ENDPOINT, every_response, open_stream, stream
from .state import ServerState

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["direct_streams", "loop_app"]


def loop_app(app: Flask) -> Callable[[WSGIEnvironment], WSGIApplication | None]:
    """For a complete request's environ: the WSGI app to run it with on the event
    loop, or ``None`` to run ``app`` on the pool (see the module docstring)."""
    # Bound once: the host plays no part in these routes, and matching a path
    # with a bound adapter costs a fraction of binding one per request.
    urls = app.url_map.bind("localhost")
    server = ServerState.of(app)
    direct = direct_streams(app)

    def choose(environ: WSGIEnvironment) -> WSGIApplication | None:
        try:
            endpoint, args = urls.match(environ["PATH_INFO"], environ["REQUEST_METHOD"])
        except HTTPException:  # 404, 405, a redirect: the pool answers those
            return None
        request = app.request_class(environ)
        if compat.served_by(endpoint, request.args) != STREAM_ENDPOINT:
            return None
        if auth.may_block(app, environ.get("HTTP_AUTHORIZATION")):
            return None
        if not direct:
            return app
        return _Stream(app, server, request, args.get("name"))

    return choose


def direct_streams(app: Flask) -> bool:
    """True if a stream request may skip Flask's machinery on ``app``: its request
    hooks are exactly those :class:`_Stream` replays, and ``stream`` is the view."""

    def hooks(table: dict[Any, list[Any]]) -> dict[Any, list[Any]]:
        return {key: funcs for key, funcs in table.items() if funcs}

    return (
        auth.of(app) is None
        and hooks(app.before_request_funcs) == {None: [compat.dispatch_action]}
        and hooks(app.after_request_funcs) == {None: [every_response]}
        and not hooks(app.url_value_preprocessors)
        and not hooks(app.teardown_request_funcs)
        and not app.teardown_appcontext_funcs
        and app.view_functions.get(STREAM_ENDPOINT) is stream
    )


class _Stream:
    """The WSGI app of one direct stream request (see the module docstring)."""

    __slots__ = ("_app", "_name", "_request", "_server")

    def __init__(self, app: Flask, server: ServerState, request: Request, name: str | None) -> None:
        self._app = app
        self._server = server
        self._request = request
        self._name = name

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            response = open_stream(self._server, self._name, self._request)
        except HTTPException:  # raised before anything was taken: Flask answers it
            return self._app(environ, start_response)
        return every_response(response)(environ, start_response)
