"""The parser's receive buffer: bytes fed and not yet turned into events.

Goal: modelled on h11's ``ReceiveBuffer``, it keeps the bytes a reader is
looking at, the chunks fed after them, where in the stream the first unread
byte is (for error messages), and how far the current reader has already
searched (:attr:`ReceiveBuffer.search`), so that a search resumes there
instead of rescanning: with it, parsing is linear in the bytes fed.

Cost: :meth:`~ReceiveBuffer.feed` stores a reference, no copy; a chunk is
copied into :attr:`~ReceiveBuffer.data` once, when a reader needs to look at
it (:meth:`~ReceiveBuffer.pull`), and once more on the way out
(:meth:`~ReceiveBuffer.take`). A chunk that lies wholly inside a counted
payload leaves as the same object, never copied
(:meth:`~ReceiveBuffer.take_payload`). Removing bytes from the front of a
``bytearray`` is amortised O(1) in CPython.
"""

from __future__ import annotations

from collections import deque

__all__ = ["ReceiveBuffer"]


class ReceiveBuffer:
    """Bytes fed to a parser that it has not yet given back as events."""

    __slots__ = ("consumed", "data", "eof", "pending", "search")

    def __init__(self) -> None:
        #: The bytes being looked at; the front is the next unread byte.
        self.data = bytearray()
        #: Chunks fed after :attr:`data`, not yet looked at (not copied yet).
        self.pending: deque[bytes] = deque()
        #: How many bytes of the stream came before ``data[0]``.
        self.consumed = 0
        #: Where the current reader's next search in :attr:`data` starts: it
        #: has already looked at everything before (less what a match could
        #: still span). Readers keep it; removing bytes resets it to 0.
        self.search = 0
        #: The end of the stream was fed (``b""``).
        self.eof = False

    @property
    def buffered(self) -> int:
        """Bytes fed and not yet taken or discarded."""
        return len(self.data) + sum(map(len, self.pending))

    def feed(self, chunk: bytes) -> None:
        """Store ``chunk`` (a reference; ``b""`` marks the end of the stream)."""
        if not chunk:
            self.eof = True
        else:
            self.pending.append(chunk if type(chunk) is bytes else bytes(chunk))

    def pull(self) -> bool:
        """Append the next fed chunk to :attr:`data`; False if there is none."""
        if not self.pending:
            return False
        self.data += self.pending.popleft()
        return True

    def discard(self, n: int) -> None:
        """Drop the first ``n`` bytes of :attr:`data`."""
        del self.data[:n]
        self.consumed += n
        self.search = 0

    def take(self, n: int) -> bytes:
        """Remove and return the first ``n`` bytes of :attr:`data` (one copy)."""
        data = self.data
        if n < len(data):
            with memoryview(data) as view:
                out = view[:n].tobytes()
            del data[:n]
        else:
            out = bytes(data)
            data.clear()
        self.consumed += n
        self.search = 0
        return out

    def take_payload(self, limit: int) -> bytes | None:
        """At most ``limit`` (> 0) next bytes of the stream; None if none are here.

        From :attr:`data` first; else straight from the next fed chunk: the
        caller's own object when it fits, with no copy (its rest, if any, goes
        into :attr:`data`).
        """
        data = self.data
        if data:
            return self.take(min(limit, len(data)))
        if not self.pending:
            return None
        chunk = self.pending.popleft()
        if len(chunk) > limit:
            data += memoryview(chunk)[limit:]
            chunk = chunk[:limit]
        self.consumed += len(chunk)
        return chunk

    def clear(self) -> None:
        """Drop everything fed (the stream is over)."""
        self.consumed += self.buffered
        self.data.clear()
        self.pending.clear()
        self.search = 0
