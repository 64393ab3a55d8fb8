"""The front door: every connection's life before (and instead of) a stream.

One :class:`~mjpeg_server.server.loop.EventLoop` thread accepts connections
and does all their socket I/O; nothing else touches a client's socket. A
connection costs a file descriptor and a small object until it is a complete
request, so clients that misbehave cost the others nothing:

* **request heads** are read with h11 (the sans-I/O HTTP/1.1 library) as the
  bytes come. A head must be complete within ``header_timeout`` seconds of the
  connection (or of the previous response, on a kept-alive one), counted in
  total, not per byte, and fit in :data:`HEAD_LIMIT` bytes; otherwise the
  connection gets ``408`` or ``431`` and is closed. A body (a login form, a
  control) must also be complete by then and fit in :data:`BODY_LIMIT`.
  With TLS the handshake happens on the loop too, under the same deadline;
* **complete requests** go to a small fixed pool of threads
  (:data:`POOL_THREADS`) that run the Flask app (a WSGI environ built from the
  h11 request, see ``wsgi_bridge``). The app's response comes back to the loop as bytes and the
  loop writes it without blocking. Flask stays the one definition of every
  route, and ``before_request``/``after_request`` hooks cover every response,
  streams included;
* **streams**: the stream view still decides everything (access, slots,
  ``503``, headers, layout, rate cap) and returns a
  :class:`~mjpeg_server.server.bodies.FanoutBody`. When it is iterated, the
  body asks the front door (through the environ's
  :data:`~mjpeg_server.server.bodies.ADOPT_STREAM`) to adopt it; the loop then
  writes the response head, built from what the app passed to
  ``start_response``, and hands the socket to the
  :class:`~mjpeg_server.server.fanout.FanOut` on the same loop. No thread waits
  on a stream. A stream request runs on the loop itself, not on the pool
  (``loop_app``, from ``admission.loop_app``, says which requests and with
  what): the view never waits, and in a join storm, hundreds of viewers at
  once, handing each request to a thread and back cost more than the view
  (two wake-ups, and the loop and the pool taking turns on the GIL);
* **send deadline**: a response whose socket accepts no byte for
  ``send_timeout`` seconds is dropped (streams: see the fan-out);
* **closing without cost**: after a response that ends the connection, the
  loop shuts down its writing side and reads and discards whatever the client
  still sends until it closes or :data:`LINGER` seconds pass (closing with
  unread bytes would make the kernel send a reset that can destroy the
  response before the client reads it). No thread ever waits on such a client;
* **keep-alive** for short requests (HTTP/1.1's default): pollers such as
  Home Assistant and OctoPrint fetch snapshots and status all day, and the
  viewer page polls ``/status``; reusing the connection saves them a handshake
  and the server a ``TIME_WAIT`` socket per request. A kept-alive connection
  waiting for its next request is exactly a connection waiting for a head: it
  costs nothing and is closed after ``header_timeout``. Streams always end
  their connection.

Worst-case costs: per connection, one small object, an h11 parser holding at
most :data:`HEAD_LIMIT` bytes, and a file descriptor; per loop wake-up, the
ready sockets only. Deadlines are checked by a sweep over the open connections
a few times per second (linear in connections, never per byte). Requests queue
for the pool; past :data:`QUEUE_LIMIT` waiting, new ones get ``503`` from the
loop at once. Connections beyond what the process's file limit allows are
closed as they are accepted, so the camera can always still open its device.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import select
import socket
import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import h11

from .bodies import FanoutBody
from .connection import Connection, Phase
from .fanout import SERVER_STOPPED, FanOut
from .loop import EventLoop, Timer, retry_errors
from .refusals import RefusalLog
from .state import FrontDoorStats
from .wsgi_bridge import (
    AppPool,
    call_app,
    environ_for,
    error_bytes,
    response_bytes,
    stream_head,
)

if TYPE_CHECKING:
    import ssl

    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

__all__ = ["BODY_LIMIT", "HEAD_LIMIT", "LINGER", "POOL_THREADS", "FrontDoor"]

log = logging.getLogger(__name__)

#: Largest request head (request line and headers), bytes.
HEAD_LIMIT = 16 * 1024
#: Largest request body, bytes (forms and small JSON; nothing here uploads).
BODY_LIMIT = 64 * 1024
#: Seconds a closing connection may keep sending before it is closed anyway.
LINGER = 2.0
#: Threads that run the Flask app for complete requests.
POOL_THREADS = 8
#: Complete requests that may wait for a pool thread; more get 503 at once.
QUEUE_LIMIT = 512
#: Connections accepted per listener wake-up, so a flood cannot starve the rest.
ACCEPT_BATCH = 64
#: File descriptors kept free of connections (camera, files, the loop's own).
RESERVED_FDS = 64
_RECV_SIZE = 64 * 1024
_IN = select.EPOLLIN | select.EPOLLRDHUP
_OUT = select.EPOLLOUT
_NO_FDS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class FrontDoor:
    """Accepts on ``listener`` and serves ``app`` on ``loop`` (see the module docstring).

    :meth:`start` and :meth:`close` may be called from any thread.
    """

    def __init__(
        self,
        app: WSGIApplication,
        listener: socket.socket,
        *,
        loop: EventLoop,
        fanout: FanOut,
        stats: FrontDoorStats,
        header_timeout: float = 10.0,
        send_timeout: float = 10.0,
        tls: ssl.SSLContext | None = None,
        max_connections: int = 1024,
        refusals: RefusalLog | None = None,
        loop_app: Callable[[WSGIEnvironment], WSGIApplication | None] | None = None,
    ) -> None:
        self._app = app
        self._loop_app = loop_app
        self._listener = listener
        self._loop = loop
        self._fanout = fanout
        self.stats = stats
        self.header_timeout = header_timeout
        self.send_timeout = send_timeout
        self._tls = tls
        self._max_connections = max_connections
        # Refused connections and requests, summarised (one line per kind and interval).
        self._refusals = refusals or RefusalLog(log)
        self._connections: dict[int, Connection] = {}
        self._pool = AppPool(POOL_THREADS, "http")
        self._queued = 0
        self._queued_lock = threading.Lock()
        self._sweep: Timer | None = None
        self._closed = False
        host, port = listener.getsockname()[:2]
        self._server = (str(host), str(port))
        self._scheme = "https" if tls is not None else "http"
        self._retry = retry_errors(tls=tls is not None)
        loop.add_stop_hook(self._shut_down)

    # -- any thread ------------------------------------------------------------

    def start(self) -> None:
        self._listener.setblocking(False)
        self._loop.call_soon(self._listen)
        self._loop.start()

    def close(self, timeout: float = 2.0) -> None:
        """Stop accepting, close every connection and stream, stop the loop."""
        self._loop.stop(timeout)

    @property
    def connections(self) -> int:
        """Connections the front door holds now (streams not counted)."""
        return len(self._connections)

    # -- accepting (loop thread) ---------------------------------------------------

    def _listen(self) -> None:
        self._loop.register(self._listener.fileno(), select.EPOLLIN, self._on_listener)

    def _on_listener(self, _events: int) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in _NO_FDS:
                    # Out of descriptors: leave the queue to the kernel for a moment
                    # instead of spinning on a listener that stays readable.
                    self._refusals.refused("connection", f"cannot accept: {error.strerror}")
                    self._loop.unregister(self._listener.fileno())
                    self._loop.call_later(0.1, self._listen)
                    return
                continue  # the client gave up before we took it
            self.stats.accepted += 1
            if len(self._connections) + self._fanout.clients >= self._max_connections:
                self.stats.refused += 1
                sock.close()
                self._refusals.refused("connection", f"{self._max_connections} connections open")
                continue
            self._admit(sock, peer)

    def _admit(self, sock: socket.socket, peer: Any) -> None:
        sock.setblocking(False)
        deadline = self._loop.now + self.header_timeout
        if self._tls is not None:
            try:
                sock = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except OSError:
                sock.close()
                return
        conn = Connection(sock, peer, HEAD_LIMIT, deadline)
        if self._tls is not None:
            conn.phase = Phase.HANDSHAKE
        self._connections[conn.fd] = conn
        self._watch(conn, _IN)
        if self._sweep is None:
            self._sweep = self._loop.call_later(self._sweep_interval(), self._sweep_deadlines)

    def _watch(self, conn: Connection, events: int) -> None:
        if conn.registered:
            self._loop.modify(conn.fd, events)
        else:
            self._loop.register(conn.fd, events, partial(self._on_event, conn))
            conn.registered = True

    def _unwatch(self, conn: Connection) -> None:
        if conn.registered:
            self._loop.unregister(conn.fd)
            conn.registered = False

    def _on_event(self, conn: Connection, events: int) -> None:
        phase = conn.phase
        if phase is Phase.READING:
            self._read(conn)
        elif phase is Phase.WRITING:
            self._flush(conn)
        elif phase is Phase.LINGERING:
            self._drain(conn)
        elif phase is Phase.HANDSHAKE:
            self._handshake(conn)

    # -- reading a request ---------------------------------------------------------

    def _handshake(self, conn: Connection) -> None:
        try:
            conn.sock.do_handshake()  # type: ignore[attr-defined]  # an SSLSocket here
        except self._retry as error:
            want_write = type(error).__name__ == "SSLWantWriteError"
            self._watch(conn, _IN | _OUT if want_write else _IN)
            return
        except OSError as error:
            self.stats.tls_failures += 1
            log.debug("TLS handshake with %s failed: %s", conn.peer, error)
            self._close(conn)
            return
        conn.phase = Phase.READING
        self._watch(conn, _IN)
        self._read(conn)

    def _read(self, conn: Connection) -> None:
        sock = conn.sock
        try:
            data = sock.recv(_RECV_SIZE)
            # TLS: decrypted bytes left in the SSL object raise no epoll event.
            while data and self._tls is not None and sock.pending():  # type: ignore[attr-defined]
                data += sock.recv(_RECV_SIZE)
        except self._retry:
            return
        except OSError:
            self._close(conn)
            return
        if not data:
            conn.eof = True
        conn.received += len(data)
        conn.h11.receive_data(data)
        self._process(conn)

    def _process(self, conn: Connection) -> None:
        """Turn the bytes h11 has into a request; dispatch it once complete."""
        parser = conn.h11
        while True:
            try:
                event = parser.next_event()
            except h11.RemoteProtocolError as error:
                self._on_protocol_error(conn, error)
                return
            if event is h11.NEED_DATA:
                if conn.eof:
                    self._close(conn)
                elif conn.request is None and conn.received > HEAD_LIMIT:
                    self._refuse_oversize(conn)
                else:
                    self._watch(conn, _IN)
                return
            if not self._on_request_event(conn, event):
                return

    def _on_request_event(self, conn: Connection, event: object) -> bool:
        """Take one part of a request; False once the connection needs nothing more."""
        parser = conn.h11
        if isinstance(event, h11.Request):
            if conn.received > HEAD_LIMIT and (
                conn.received - len(parser.trailing_data[0]) > HEAD_LIMIT
            ):
                self._refuse_oversize(conn)
                return False
            conn.request = event
            if parser.they_are_waiting_for_100_continue:
                self._send_now(
                    conn, parser.send(h11.InformationalResponse(status_code=100, headers=[]))
                )
            return True
        if isinstance(event, h11.Data):
            conn.body += event.data
            if len(conn.body) <= BODY_LIMIT:
                return True
            self.stats.bad_requests += 1
            self._respond_error(conn, 413, "Content Too Large", "request body too large")
        elif isinstance(event, h11.EndOfMessage):
            self._dispatch(conn)
        else:  # ConnectionClosed
            self._close(conn)
        return False

    def _on_protocol_error(self, conn: Connection, error: h11.RemoteProtocolError) -> None:
        if conn.eof or conn.received == 0:
            self._close(conn)  # the client left mid-request: nobody to tell
        elif error.error_status_hint == 431:
            self._refuse_oversize(conn)
        else:
            self.stats.bad_requests += 1
            self._respond_error(conn, 400, "Bad Request", str(error))

    def _refuse_oversize(self, conn: Connection) -> None:
        self.stats.oversize_heads += 1
        self._respond_error(
            conn, 431, "Request Header Fields Too Large", f"request head over {HEAD_LIMIT} bytes"
        )

    @staticmethod
    def _send_now(conn: Connection, data: bytes) -> None:
        """Best effort, never blocking: a few bytes such as ``100 Continue``."""
        with contextlib.suppress(OSError):
            conn.sock.send(data)

    # -- running the app (a pool thread; the loop for a stream) ---------------------

    def _dispatch(self, conn: Connection) -> None:
        conn.phase = Phase.RUNNING
        conn.deadline = float("inf")
        self._unwatch(conn)
        request = conn.request
        assert request is not None
        adopted: list[FanoutBody] = []
        environ = environ_for(
            request,
            bytes(conn.body),
            peer=conn.peer,
            server=self._server,
            scheme=self._scheme,
            adopt=adopted.append,
        )
        loop_app = self._choose_loop_app(environ)
        if loop_app is not None:
            self.stats.requests += 1
            self.stats.on_loop += 1
            self._run_app(loop_app, conn, environ, adopted, on_loop=True)
            return
        with self._queued_lock:
            busy = self._queued >= QUEUE_LIMIT
            if not busy:
                self._queued += 1
        if busy:
            self.stats.overloaded += 1
            self._refusals.refused("request", "every app thread busy (503)")
            self._respond_error(conn, 503, "Service Unavailable", "server busy; try again")
            return
        self.stats.requests += 1
        self._pool.submit(partial(self._run_queued, conn, environ, adopted))

    def _choose_loop_app(self, environ: WSGIEnvironment) -> WSGIApplication | None:
        """The app to run this request with on the loop, or None for the pool. If
        choosing fails, the pool runs the whole app, as for any request: a
        connection is never left without an answer."""
        if self._loop_app is None:
            return None
        try:
            return self._loop_app(environ)
        except Exception:
            log.exception(
                "cannot tell where to run %s %s; the app thread pool runs it",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
            )
            return None

    def _run_queued(
        self, conn: Connection, environ: WSGIEnvironment, adopted: list[FanoutBody]
    ) -> None:
        with self._queued_lock:
            self._queued -= 1
        self._run_app(self._app, conn, environ, adopted, on_loop=False)

    def _run_app(
        self,
        app: WSGIApplication,
        conn: Connection,
        environ: WSGIEnvironment,
        adopted: list[FanoutBody],
        *,
        on_loop: bool,
    ) -> None:
        """Run ``app`` for ``conn``'s request; on a pool thread, or on the loop when
        ``on_loop`` (then the answer is handed on at once, not queued)."""
        request = conn.request
        assert request is not None
        try:
            status, headers, body = call_app(app, environ)
        except Exception:
            log.exception("error answering %s %s", request.method, request.target)
            for stream in adopted:
                stream.abandon(SERVER_STOPPED)
            adopted.clear()
            status, headers = "500 Internal Server Error", [("Content-Type", "text/plain")]
            body = b"Internal Server Error\n"
        if adopted:
            head = stream_head(request, status, headers)
            call = partial(self._hand_over, conn, adopted[0], head)
        else:
            try:
                data = response_bytes(conn.h11, request, status, headers, body)
            except h11.LocalProtocolError as error:
                log.error("cannot send the app's response to %s: %s", request.target, error)
                data = error_bytes(500, "Internal Server Error", "bad response")
                conn.must_close = True
            call = partial(self._respond, conn, data)
        if on_loop:
            call()
        else:
            self._on_loop(conn, call, adopted[0] if adopted else None)

    def _on_loop(
        self, conn: Connection, call: Callable[[], None], stream: FanoutBody | None = None
    ) -> None:
        # False while stopping: the stop hook has closed the socket already.
        if not self._loop.call_soon(call) and stream is not None:
            stream.abandon(SERVER_STOPPED)

    # -- writing (loop thread) -------------------------------------------------------

    def _hand_over(self, conn: Connection, stream: FanoutBody, head: bytes) -> None:
        """The app chose a stream: the fan-out writes the head and the parts from now on."""
        if self._connections.pop(conn.fd, None) is None:  # closed meanwhile
            stream.abandon(SERVER_STOPPED)
            return
        self.stats.streams += 1
        self._fanout.add(
            conn.sock,
            stream.hub,
            stream.subscription,
            head + stream.opening,
            stream.finished,
            layout=stream.layout,
        )

    def _respond(self, conn: Connection, data: bytes) -> None:
        if self._connections.get(conn.fd) is not conn:
            return  # closed meanwhile (shutdown)
        conn.phase = Phase.WRITING
        conn.out = memoryview(data)
        conn.deadline = self._loop.now + self.send_timeout
        self._flush(conn)

    def _respond_error(self, conn: Connection, status: int, reason: str, text: str) -> None:
        conn.must_close = True
        self._respond(conn, error_bytes(status, reason, text))

    def _flush(self, conn: Connection) -> None:
        out = conn.out
        try:
            while out:
                sent = conn.sock.send(out)
                out = out[sent:]
                conn.deadline = self._loop.now + self.send_timeout
        except self._retry as error:
            conn.out = out
            want_read = type(error).__name__ == "SSLWantReadError"
            self._watch(conn, _IN if want_read else _OUT)
            return
        except OSError:
            self._close(conn)
            return
        conn.out = out
        self._finished_response(conn)

    def _finished_response(self, conn: Connection) -> None:
        parser = conn.h11
        if (
            parser.our_state is h11.DONE
            and parser.their_state is h11.DONE
            and not conn.eof
            and not conn.must_close
        ):
            parser.start_next_cycle()
            conn.phase = Phase.READING
            conn.request = None
            conn.body = bytearray()
            conn.kept_alive = True
            conn.received = len(parser.trailing_data[0])
            conn.deadline = self._loop.now + self.header_timeout
            self._watch(conn, _IN)
            if conn.received:
                self._process(conn)  # a pipelined request is already here
            return
        if conn.eof:
            self._close(conn)
            return
        # Closing with unread bytes would send a reset, which may destroy the
        # response on its way: finish writing, then read until the client closes.
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_WR)
        conn.phase = Phase.LINGERING
        conn.deadline = self._loop.now + LINGER
        self._watch(conn, _IN)

    def _drain(self, conn: Connection) -> None:
        try:
            while conn.sock.recv(_RECV_SIZE):
                pass
        except self._retry:
            return
        except OSError:
            pass
        self._close(conn)

    # -- deadlines and closing ---------------------------------------------------------

    def _sweep_interval(self) -> float:
        return min(0.5, max(0.02, min(self.header_timeout, self.send_timeout, LINGER) / 4))

    def _sweep_deadlines(self) -> None:
        self._sweep = None
        now = self._loop.now
        for conn in [c for c in self._connections.values() if c.deadline <= now]:
            phase = conn.phase
            if phase is Phase.WRITING:
                self.stats.send_timeouts += 1
                self._close(conn)
            elif phase is Phase.LINGERING:
                self._close(conn)
            elif conn.kept_alive and conn.received == 0:
                self._close(conn)  # an idle kept-alive connection: no request was due
            else:
                self.stats.header_timeouts += 1
                if conn.received and phase is Phase.READING:
                    self._respond_error(conn, 408, "Request Timeout", "request head too slow")
                else:
                    self._close(conn)
        if self._connections:
            self._sweep = self._loop.call_later(self._sweep_interval(), self._sweep_deadlines)

    def _close(self, conn: Connection) -> None:
        if self._connections.get(conn.fd) is conn:
            del self._connections[conn.fd]
        self._unwatch(conn)
        conn.sock.close()

    def _shut_down(self) -> None:
        self._closed = True
        self._loop.unregister(self._listener.fileno())
        self._listener.close()
        for conn in list(self._connections.values()):
            self._close(conn)
