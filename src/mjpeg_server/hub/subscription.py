"""A viewer's end of a hub: the part it takes next, and what it skipped.

"Latest value" delivery: the hub keeps only its newest :class:`Part` and a
version number; a subscription remembers the version it last took, so a slow
consumer skips to the newest part and nothing ever queues for it. A part is
framed once by the hub and the same object is handed to every subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Self

from ..cameras import Frame
from ..wire.multipart import Layout, PartEncoder
from .pacing import RateCap

if TYPE_CHECKING:
    from .capture import CaptureHub

__all__ = ["HubClosed", "Part", "Subscription"]


class HubClosed(Exception):
    """The hub (or the subscription) was closed: the stream is over."""


@dataclass(frozen=True)
class Part:
    """One frame as it goes on the wire: the same object for every client."""

    frame: Frame
    #: The multipart part: headers, JPEG, and the delimiter that ends it.
    data: bytes
    #: The hub's stream sequence number (``X-Frame-Seq``): the camera's counter,
    #: continued across reopens so that it never goes backwards.
    seq: int
    #: Publish counter: increases by one per part, whatever the camera's numbering.
    version: int
    encoder: PartEncoder = field(repr=False, compare=False)
    #: When the hub published it, on the hub's clock (``CaptureHub.clock``).
    published_at: float = 0.0

    @cached_property
    def advance_data(self) -> bytes:
        """The part in the advance-headers layout (``PartEncoder.encode_advance``),
        made once, when a client first needs it, and shared like :attr:`data`."""
        return self.encoder.encode_advance(self.frame.jpeg)

    def wire(self, layout: Layout) -> bytes:
        """The part's bytes in ``layout``."""
        return self.advance_data if layout is Layout.ADVANCE_HEADERS else self.data


class Subscription:
    """One consumer of a hub's frames. Not thread-safe: one consumer thread each."""

    __slots__ = (
        "_closed",
        "_hub",
        "_rate",
        "_version",
        "counted",
        "frames_sent",
        "frames_skipped",
    )

    def __init__(
        self, hub: CaptureHub, version: int, *, counted: bool, rate: RateCap | None = None
    ) -> None:
        self._hub = hub
        #: The viewer's rate cap (?fps=): parts it passes over count as skipped.
        self._rate = rate
        # The version this subscriber has already seen; the newest part is newer.
        self._version = version
        self._closed = False
        #: Whether this subscription counts as a client in the status (a stream
        #: does; a snapshot waiting for one frame does not).
        self.counted = counted
        self.frames_sent = 0
        self.frames_skipped = 0

    def next_part(self, timeout: float | None = None) -> Part | None:
        """Block until a part newer than the last one taken; ``None`` after ``timeout``.

        Raises :class:`HubClosed` once the hub or this subscription is closed.
        """
        hub = self._hub
        deadline = None if timeout is None else hub.clock() + timeout
        with hub._cond:
            while True:
                # Checked after every wake-up, the last one included: a part may
                # have come with the timeout.
                part = self.poll()
                if part is not None:
                    return part
                if deadline is None:
                    hub._cond.wait()
                    continue
                remaining = deadline - hub.clock()
                if remaining <= 0:
                    return None
                hub._cond.wait(remaining)

    def poll(self) -> Part | None:
        """The newest part if it is newer than the last one taken, without blocking."""
        if self._closed or self._hub._closed:
            raise HubClosed(self._hub.name)
        part = self._hub._latest  # one attribute read: atomic, no lock needed
        if part is None or part.version <= self._version:
            return None
        if self._rate is not None and not self._rate.take(part.frame.timestamp):
            # Passed over for good: taken later it would be late.
            self.frames_skipped += part.version - self._version
            self._version = part.version
            return None
        return self._take(part)

    def _take(self, part: Part) -> Part:
        self.frames_skipped += part.version - self._version - 1
        self.frames_sent += 1
        self._version = part.version
        return part

    def heartbeat(self, layout: Layout = Layout.STANDARD) -> bytes | None:
        """Bytes to re-send when the camera has been silent: see :meth:`CaptureHub.heartbeat`."""
        return self._hub.heartbeat(layout)

    def close(self) -> None:
        """Leave the hub. Idempotent."""
        if not self._closed:
            self._closed = True
            self._hub._unsubscribe(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
