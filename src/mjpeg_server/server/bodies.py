"""One client's stream, as a WSGI response body. Two ways to write it:

* :class:`FanoutBody` (the default under gunicorn): the socket is handed
  to the :class:`~mjpeg_server.fanout.FanOut` loop, which writes the HTTP head
  and the parts itself; the WSGI thread only waits for the stream to end.
* :class:`WsgiBody` (any other WSGI server, the dev server, tests): the
  WSGI server writes each part this body yields, from its own thread.

Both bodies are classes, not generators, on purpose: a WSGI server that never
starts iterating (the client hung up first) still calls ``close()``, and a
generator's ``finally`` would not run, leaking the subscription and keeping
the camera open.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from email.utils import formatdate

from ..hub import CaptureHub, HubClosed, Subscription
from ..wire.multipart import Layout
from .fanout import FanOut, FanOutClient

__all__ = ["FanoutBody", "WsgiBody", "http_head"]


class WsgiBody:
    """Iterates the opening delimiter, then each new part; re-sends the newest one
    (the hub's heartbeat) after ``heartbeat_interval`` seconds of camera silence.

    Ends when the hub closes. ``close()`` leaves the hub and calls ``on_close``
    exactly once, whether or not iteration ever started.
    """

    def __init__(
        self,
        subscription: Subscription,
        *,
        opening: bytes,
        heartbeat_interval: float,
        on_close: Callable[[Subscription, float, str], None],
        layout: Layout = Layout.STANDARD,
    ) -> None:
        self.subscription = subscription
        self.heartbeat_interval = heartbeat_interval
        self.layout = layout
        self.started_at = time.monotonic()
        self._opening: bytes | None = opening
        self._on_close: Callable[[Subscription, float, str], None] | None = on_close
        self._reason = "client left"

    def __iter__(self) -> WsgiBody:
        return self

    def __next__(self) -> bytes:
        if self._opening is not None:
            opening, self._opening = self._opening, None
            return opening
        while True:
            try:
                part = self.subscription.next_part(self.heartbeat_interval)
            except HubClosed:
                self._reason = "server stopped"
                raise StopIteration from None
            if part is not None:
                return part.wire(self.layout)
            beat = self.subscription.heartbeat(self.layout)
            if beat is not None:
                return beat

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            self.subscription.close()
            on_close(self.subscription, time.monotonic() - self.started_at, self._reason)


def http_head(protocol: str, headers: Mapping[str, str]) -> bytes:
    """The status line and headers of a ``200`` stream response whose body ends
    when the connection closes (no length, no chunking: valid in HTTP/1.0 and
    1.1, and what mjpg-streamer and µStreamer send)."""
    version = "HTTP/1.0" if protocol == "HTTP/1.0" else "HTTP/1.1"
    lines = [f"{version} 200 OK", f"Date: {formatdate(usegmt=True)}", "Connection: close"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class FanoutBody:
    """The WSGI body of a stream written by the fan-out loop.

    Iterating it hands the socket to the loop (with the HTTP head and the
    opening delimiter to write first) and waits until the stream is over; it
    then ends without yielding anything. By then the loop has shut the socket
    down, so the WSGI server's own attempt to write a response head fails as
    for any client that has left (gunicorn logs that at debug level only).
    ``on_close`` runs exactly once, whether or not iteration started.
    """

    def __init__(
        self,
        fanout: FanOut,
        sock: socket.socket,
        *,
        hub: CaptureHub,
        subscription: Subscription,
        head: bytes,
        on_close: Callable[[Subscription, float, str], None],
        layout: Layout = Layout.STANDARD,
    ) -> None:
        self._fanout = fanout
        self._layout = layout
        self._sock = sock
        self._hub = hub
        self.subscription = subscription
        self._head = head
        self._on_close: Callable[[Subscription, float, str], None] | None = on_close
        self._client: FanOutClient | None = None
        self.started_at = time.monotonic()

    def __iter__(self) -> FanoutBody:
        return self

    def __next__(self) -> bytes:
        if self._client is None:
            self._client = self._fanout.add(
                self._sock,
                self._hub,
                self.subscription,
                self._head,
                self._finished,
                layout=self._layout,
            )
        self._client.finished.wait()
        raise StopIteration

    def _finished(self, client: FanOutClient) -> None:
        self._report(client.reason)

    def _report(self, reason: str) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close(self.subscription, time.monotonic() - self.started_at, reason)

    def close(self) -> None:
        if self._client is None:  # never handed over: nothing else will clean up
            self.subscription.close()
            self._report("client left")
