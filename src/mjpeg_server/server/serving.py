"""Running the app: the built-in front door (the default) or Werkzeug's development server.

Why one process, and nothing like gunicorn in front (issue 9):

* **the camera belongs to the process that opened it.** A second process
  would open it again and fail on an exclusive device (failure mode F8), so
  there is exactly one, and nothing to orphan: however the process ends (a
  signal, the OOM killer's SIGKILL, a crash), the kernel closes the device
  with it and a restarted server gets the camera at once. gunicorn's arbiter
  always forks a worker, which outlived a killed master holding the camera,
  and two interpreters cost twice the memory;
* **one event loop thread does all socket I/O** (``front_door``, ``fanout``):
  connections, request heads, responses and every stream, so a viewer or a
  misbehaving client is a file descriptor, never a thread. A small pool runs
  the Flask app for complete requests.

Signals: SIGINT, SIGTERM and SIGHUP all end every stream, release the cameras
and exit with status 0 within about a second. SIGHUP is not a reload: taking
new settings without dropping viewers would need the listening socket and
every stream handed to a new process, which is not worth it for a camera
server that restarts in well under a second; SIGHUP does what a hang-up means,
a clean stop (under systemd, ``systemctl restart`` applies a new config).

The listening socket is bound by the CLI before this module serves, so a port
in use is reported in one line at once, and port 0 picks a free port that is
logged.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import socket
from types import FrameType
from typing import TYPE_CHECKING

from flask import Flask

from ..config import Settings
from .state import ServerState

if TYPE_CHECKING:
    import ssl

__all__ = ["TlsError", "bind_listener", "load_tls", "serve"]

log = logging.getLogger(__name__)

#: Signals that stop the server cleanly.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: The open-file limit the server raises its soft limit to (at most the hard limit):
#: each connection and stream is a descriptor.
WANTED_FILES = 65536


class TlsError(Exception):
    """The certificate or key cannot be used. The message is one line for the user."""


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
    return listener


def load_tls(settings: Settings) -> ssl.SSLContext | None:
    """The server's TLS context from ``--tls-cert``/``--tls-key``, or None without them.

    ``ssl`` is imported only here, when TLS is configured: it costs memory.
    """
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    import ssl  # noqa: PLC0415 - only with TLS

    for flag, path in (("--tls-cert", settings.tls_cert), ("--tls-key", settings.tls_key)):
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            raise TlsError(f"cannot read {flag} {path!r}: {error.strerror}") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (ssl.SSLError, OSError) as error:
        reason = getattr(error, "reason", None) or error.strerror or str(error)
        raise TlsError(
            f"cannot use --tls-cert {settings.tls_cert!r} with --tls-key {settings.tls_key!r}: "
            f"{reason}"
        ) from None
    return context


def serve(
    app: Flask, settings: Settings, listener: socket.socket, tls: ssl.SSLContext | None = None
) -> None:
    """Serve ``app`` on ``listener`` until SIGINT, SIGTERM or SIGHUP, then release the cameras."""
    host, port = listener.getsockname()[:2]
    scheme = "https" if tls is not None else "http"
    server = "the front door" if settings.server == "builtin" else "the development server"
    log.info(
        "serving %d camera(s) on %s://%s:%d/ with %s",
        len(settings.cameras),
        scheme,
        host,
        port,
        server,
    )
    if settings.server == "builtin":
        _serve_front_door(app, settings, listener, tls)
    else:
        _serve_dev(app, listener, tls)


def _raise_file_limit() -> int:
    """Raise the soft open-file limit towards :data:`WANTED_FILES`; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = WANTED_FILES if hard == resource.RLIM_INFINITY else min(WANTED_FILES, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return WANTED_FILES if soft == resource.RLIM_INFINITY else soft


def _wait_for_stop_signal() -> int:
    """Block the main thread until a stop signal; returns its number.

    The kernel hands a process's signal to any one of its threads, and Python
    runs a handler only when the main thread runs bytecode: a main thread asleep
    in a lock wait missed a SIGTERM that landed on the event loop's thread, and
    the server ran on. So the main thread sleeps in a read of the signal wake-up
    pipe, which the C-level handler writes the signal's number to in whichever
    thread took it.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        pass  # the number arrives through the wake-up pipe

    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)  # set_wakeup_fd requires it
    previous = signal.set_wakeup_fd(write_end)
    try:
        while True:
            for number in os.read(read_end, 64):
                if number in STOP_SIGNALS:
                    return number
    finally:
        signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)


def _serve_front_door(
    app: Flask, settings: Settings, listener: socket.socket, tls: ssl.SSLContext | None
) -> None:
    from .admission import loop_app  # noqa: PLC0415
    from .fanout import FanOut  # noqa: PLC0415 - the dev server needs neither
    from .front_door import RESERVED_FDS, FrontDoor  # noqa: PLC0415
    from .loop import EventLoop  # noqa: PLC0415

    state = ServerState.of(app)
    loop = EventLoop("front-door")
    fanout = FanOut(
        loop,
        heartbeat_interval=settings.heartbeat_interval,
        send_timeout=settings.send_timeout,
        tls=tls is not None,
        stats=state.front_door,
    )
    front = FrontDoor(
        app,
        listener,
        loop=loop,
        fanout=fanout,
        stats=state.front_door,
        header_timeout=settings.header_timeout,
        send_timeout=settings.send_timeout,
        tls=tls,
        max_connections=_raise_file_limit() - RESERVED_FDS,
        refusals=state.refusals,
        loop_app=loop_app(app),
    )
    front.start()
    try:
        sig = _wait_for_stop_signal()
        log.info("stopping (%s): ending streams, releasing cameras", signal.Signals(sig).name)
    finally:
        state.close()  # the hubs: streams end with "server stopped", cameras close
        front.close()


def _serve_dev(app: Flask, listener: socket.socket, tls: ssl.SSLContext | None) -> None:
    from werkzeug.serving import make_server  # noqa: PLC0415 - only for --server dev

    host, port = listener.getsockname()[:2]
    server = make_server(host, port, app, threaded=True, fd=listener.fileno(), ssl_context=tls)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for sig in STOP_SIGNALS:
        signal.signal(sig, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        ServerState.of(app).close()
        server.server_close()
        listener.close()
