"""The server side: HTTP in front of the capture hubs.

- ``app``: the Flask app (``create_app(settings)``), its routes and status;
- ``bodies``: a stream as a response body (adopted by the front door, or
  written by any other WSGI server);
- ``loop``: the one event loop thread that does all socket I/O;
- ``front_door``: accepts connections, reads requests, runs the app on a small
  pool, writes responses, hands streams to the fan-out;
- ``fanout``: writes every stream socket;
- ``serving``: running it all (the front door, or Werkzeug's development server).

The server knows hubs, never devices: cameras are the hub's business.
"""

from __future__ import annotations

import sys


def _import_flask_without_ssl() -> None:
    """Import Flask without loading ``ssl`` (about 1 MB of RSS of a 35 MB budget).

    Flask imports werkzeug.serving, which imports http.server and so http.client,
    which imports ``ssl`` only to define ``HTTPSConnection``; nothing here uses
    that class (the relay camera's requests/urllib3 and the TLS front door import
    ``ssl`` themselves, when they are used). Hiding ``ssl`` during that one
    import leaves those modules without their HTTPS extras and everything else
    as usual; ``ssl`` imports normally afterwards. Does nothing when Flask or
    ``ssl`` is already loaded (an application embedding the kit).
    """
    if "flask" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]  # makes "import ssl" raise ImportError
    try:
        import flask  # noqa: F401, PLC0415
    finally:
        del sys.modules["ssl"]


_import_flask_without_ssl()
