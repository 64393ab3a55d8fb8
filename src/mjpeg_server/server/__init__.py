"""The server side: HTTP in front of the capture hubs.

- ``app``: the Flask app (``create_app(settings)``), its routes and status;
- ``bodies``: a stream as a response body (adopted by the front door, or
  written by any other WSGI server);
- ``loop``: the one event loop thread that does all socket I/O;
- ``front_door``: accepts connections, reads requests under deadlines, writes
  responses, hands streams to the fan-out;
- ``wsgi_bridge``: a complete request in, the app's answer out: the environ,
  the pool of threads that runs the app, the response bytes;
- ``fanout``: writes every stream socket;
- ``serving``: running it all (the front door, or Werkzeug's development server).

The server knows hubs, never devices: cameras are the hub's business.
"""

from __future__ import annotations

import sys


def _import_flask_without_ssl() -> None:
    """Import Flask without loading ``ssl`` (about 1 MB of RSS of a 35 MB budget).

    Flask imports werkzeug.serving, which imports http.server and so http.client,
    which imports ``ssl`` only to define ``HTTPSConnection``, which Flask never
    uses. So ``ssl`` is hidden during that one import, and the http.client made
    then (kept by werkzeug's development server, which needs no HTTPS client) is
    then dropped from ``sys.modules``: whatever imports http.client later
    (urllib.request for prometheus_client, requests for a relay camera) gets a
    complete one, ``ssl`` included, at that moment. Does nothing when Flask,
    ``ssl`` or http.client is already loaded (an application embedding the kit).
    """
    if any(name in sys.modules for name in ("flask", "ssl", "http.client")):
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]  # makes "import ssl" raise ImportError
    try:
        import flask  # noqa: F401, PLC0415
    finally:
        del sys.modules["ssl"]
        sys.modules.pop("http.client", None)


_import_flask_without_ssl()
