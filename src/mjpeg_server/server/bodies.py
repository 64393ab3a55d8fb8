"""One client's stream, as a WSGI response body. Two ways to write it:

* :class:`FanoutBody` (the front door, the default server): the server put an
  adopt callable in the environ (:data:`ADOPT_STREAM`); iterating the body hands
  it over, and the server's event loop writes the HTTP head (from what the app
  passed to ``start_response``, so ``after_request`` headers are in it) and the
  parts. Iteration yields nothing and returns at once: no thread waits.
* :class:`WsgiBody` (any other WSGI server, the dev server, tests): the
  WSGI server writes each part this body yields, from its own thread.

Both bodies are classes, not generators, on purpose: a WSGI server that never
starts iterating (the client hung up first) still calls ``close()``, and a
generator's ``finally`` would not run, leaking the subscription and keeping
the camera open.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..hub import CaptureHub, HubClosed, Subscription
from ..wire.multipart import Layout

if TYPE_CHECKING:
    from .fanout import FanOutClient

__all__ = ["ADOPT_STREAM", "FanoutBody", "WsgiBody"]

#: WSGI environ key of a server that writes streams itself: a callable that the
#: stream body calls with itself when the server iterates it.
ADOPT_STREAM = "mjpeg_server.adopt_stream"


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


class FanoutBody:
    """The WSGI body of a stream written by the front door's fan-out.

    The first ``next()`` calls ``adopt(self)`` and ends the iteration: the
    server then writes the head and hands the socket to its fan-out, which
    calls :meth:`finished` when the stream is over. ``on_close`` runs exactly
    once: then, or on :meth:`close` if the body was never handed over, or on
    :meth:`abandon` if the server could not take it after all.
    """

    def __init__(
        self,
        adopt: Callable[[FanoutBody], None],
        *,
        hub: CaptureHub,
        subscription: Subscription,
        opening: bytes,
        on_close: Callable[[Subscription, float, str], None],
        layout: Layout = Layout.STANDARD,
    ) -> None:
        self._adopt: Callable[[FanoutBody], None] | None = adopt
        self.hub = hub
        self.subscription = subscription
        #: Written after the head: the opening delimiter of the multipart body.
        self.opening = opening
        self.layout = layout
        self._on_close: Callable[[Subscription, float, str], None] | None = on_close
        self.started_at = time.monotonic()

    def __iter__(self) -> FanoutBody:
        return self

    def __next__(self) -> bytes:
        adopt, self._adopt = self._adopt, None
        if adopt is not None:
            adopt(self)
        raise StopIteration

    def finished(self, client: FanOutClient) -> None:
        """The fan-out's end-of-stream callback."""
        self._report(client.reason)

    def abandon(self, reason: str) -> None:
        """The server adopted the body but could not start the stream."""
        self.subscription.close()
        self._report(reason)

    def _report(self, reason: str) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close(self.subscription, time.monotonic() - self.started_at, reason)

    def close(self) -> None:
        if self._adopt is not None:  # never handed over: nothing else will clean up
            self._adopt = None
            self.abandon("client left")
