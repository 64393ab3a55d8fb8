"""Running the app: gunicorn (the default) or Werkzeug's development server.

Why gunicorn, and configured this way (field notes §5):

* **one worker process, always.** The camera belongs to the process that
  opened it; a second worker would open it again and fail on an exclusive
  device (failure mode F8). Concurrency comes from threads instead.
* **gthread with ``max_clients + 8`` threads.** Each stream holds a thread for
  its whole life; the spare threads keep the page, ``/status`` and snapshots
  responsive when every stream slot is taken.
* **no keep-alive.** The connections that matter are streams, which never end;
  a short request pays one handshake, and shutdown never waits for idle
  kept-alive connections to time out.
* **SIGINT/SIGTERM end the streams.** :class:`StreamingWorker` closes every
  hub when gunicorn asks the worker to stop, so streams finish, cameras are
  released and the process exits at once instead of waiting out
  ``graceful_timeout`` for responses that never end.

The listening socket is bound here, before gunicorn starts, and handed over as
``fd://N``: a port in use is reported in one line at once (gunicorn would
retry for five seconds), and port 0 picks a free port that is logged.
"""

from __future__ import annotations

import logging
import signal
import socket
from types import FrameType
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.serving import make_server

from ..config import Settings
from .state import ServerState

__all__ = ["StreamingWorker", "bind_listener", "serve", "thread_count"]

log = logging.getLogger(__name__)

#: Threads beyond one per stream, for pages, status and snapshots.
SPARE_THREADS = 8


def thread_count(max_clients: int) -> int:
    return max_clients + SPARE_THREADS


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket. Raises ``OSError`` (address in use, bad host …)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(1024)
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


class StreamingWorker(ThreadWorker):
    """gunicorn's gthread worker, which also ends the streams when told to stop."""

    _quitting = False

    def _end_streams(self) -> None:
        # Runs in the signal handler on the worker's main thread, which only
        # runs gunicorn's event loop and never holds a hub lock.
        if self.wsgi is not None:
            ServerState.of(self.wsgi).close()  # type: ignore[arg-type]  # the Flask app we load

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:  # SIGTERM: graceful
        super().handle_exit(sig, frame)
        self._end_streams()

    def handle_quit(self, sig: int, frame: FrameType | None) -> None:  # SIGINT/SIGQUIT: fast
        # Ctrl-C reaches the whole process group: the worker gets SIGINT itself and
        # SIGQUIT from the arbiter, possibly while the first handler still runs.
        if self._quitting:
            return
        self._quitting = True
        self._end_streams()
        super().handle_quit(sig, frame)


class _GunicornApplication(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:  # a Flask app; the gunicorn stubs' WSGI alias is stricter than Flask's
        return self._app


def gunicorn_options(listener_fd: int, settings: Settings) -> dict[str, Any]:
    return {
        "bind": [f"fd://{listener_fd}"],
        "workers": 1,
        "worker_class": f"{__name__}.StreamingWorker",
        "threads": thread_count(settings.max_clients),
        "keepalive": 0,
        "graceful_timeout": 3,
        "timeout": 30,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "mjpeg-server",
        # gunicorn's control socket lives in ~/.gunicorn, shared by every server of
        # the user: two mjpeg-servers (or a test suite) would fight over it.
        "control_socket_disable": True,
    }


def serve(app: Flask, settings: Settings, listener: socket.socket) -> None:
    """Serve ``app`` on ``listener`` until SIGINT or SIGTERM, then release the cameras."""
    host, port = listener.getsockname()[:2]
    server = (
        f"gunicorn (1 worker, {thread_count(settings.max_clients)} threads)"
        if settings.server == "gunicorn"
        else "the development server"
    )
    log.info(
        "serving %d camera(s) on http://%s:%d/ with %s", len(settings.cameras), host, port, server
    )
    if settings.server == "gunicorn":
        # gunicorn owns the socket from here (it closes the fd it is given). The
        # worker it forks unwinds through this frame when it exits: nothing may
        # follow this call that the worker should not run too.
        _GunicornApplication(app, gunicorn_options(listener.detach(), settings)).run()
    else:
        _serve_dev(app, listener)


def _serve_dev(app: Flask, listener: socket.socket) -> None:
    host, port = listener.getsockname()[:2]
    server = make_server(host, port, app, threaded=True, fd=listener.fileno())

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        ServerState.of(app).close()
        server.server_close()
        listener.close()
