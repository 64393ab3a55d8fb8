"""What the multipart readers share: the boundary's byte patterns, the limits, the
policy, and the :class:`Reader` interface.

Goal: one home for how a delimiter is recognised (the boundary token, the
tolerated ``--`` variant, what a payload scan looks for and how many bytes it
must hold back), so that the readers (:mod:`.readers`, :mod:`.payload_readers`)
agree on it. No I/O; each method looks at a bounded number of bytes, O(len(boundary)).
"""

from __future__ import annotations

from .deviations import DeviationPolicy
from .events import Event
from .receive_buffer import ReceiveBuffer

__all__ = ["Framing", "Reader"]


class Framing:
    """What every reader of one stream shares: the boundary's byte patterns,
    the limits, and the deviation policy. Fixed for the parser's life."""

    __slots__ = (
        "alt_token",
        "hold",
        "lookback",
        "max_header_bytes",
        "max_part_bytes",
        "needle",
        "needle_offset",
        "policy",
        "token",
    )

    def __init__(
        self,
        boundary: bytes,
        policy: DeviationPolicy,
        *,
        max_header_bytes: int,
        max_part_bytes: int,
    ) -> None:
        self.policy = policy
        self.max_header_bytes = max_header_bytes
        self.max_part_bytes = max_part_bytes
        #: What a delimiter line starts with: "--" and the boundary.
        self.token = b"--" + boundary
        #: The boundary alone, when it already starts with "--" (some cameras'
        #: header says "boundary=--x" and the body "--x"): matched as a deviation.
        self.alt_token = boundary if boundary.startswith(b"--") else None
        # What a payload without Content-Length is scanned for, and how many bytes
        # before a match may still belong to the delimiter (its line break, and
        # the "--" when the alternative token is searched for).
        if policy.strict:
            self.needle = b"\r\n" + self.token
            self.needle_offset = 2
            self.lookback = 0
        elif self.alt_token is not None:
            self.needle = self.alt_token
            self.needle_offset = 0
            self.lookback = 4
        else:
            self.needle = self.token
            self.needle_offset = 0
            self.lookback = 2
        #: Bytes a scan holds back: a partial needle and its lookback.
        self.hold = len(self.needle) - 1 + self.lookback

    def match_token(self, data: bytearray, at: int) -> int | None:
        """End of the boundary token at ``at``; -1 if there is none; None: need more."""
        token = self.token
        if data.startswith(token, at):
            return at + len(token)
        if len(data) - at < len(token) and token.startswith(data[at:]):
            return None
        alt = self.alt_token
        if alt is not None:
            if data.startswith(alt, at):
                self.policy.deviate("dashes-in-header-boundary", at)
                return at + len(alt)
            if len(data) - at < len(alt) and alt.startswith(data[at:]):
                return None
        return -1

    def delimiter_start(self, data: bytearray, found: int) -> int:
        """Where the delimiter whose needle was found at ``found`` starts.

        That is its boundary token, less the line break before it (it belongs to
        the delimiter, not to the payload: RFC 2046).
        """
        start = found + self.needle_offset
        if self.needle == self.alt_token and data[max(0, found - 2) : found] == b"--":
            start -= 2  # the canonical "--" + boundary, found by its "--x" suffix
        if start >= 2 and data[start - 2 : start] == b"\r\n":
            return start - 2
        if start >= 1 and data[start - 1] == 0x0A:
            return start - 1
        return start


class Reader:
    """One framing of the body: reads it, and says who reads what follows.

    :meth:`read` returns an event, the reader that takes over (another framing
    starts; nothing to say yet), or None to wait for more bytes. An event that
    completes the reader's framing (:class:`PartStart`: the header block is
    read; :class:`PartEnd`: the payload is) hands over to :attr:`successor`,
    which the reader sets before it returns that event. After
    :class:`StreamEnd` nothing follows.
    """

    __slots__ = ("successor",)

    def __init__(self) -> None:
        #: Who reads on after this reader's PartStart or PartEnd.
        self.successor: Reader = self

    def read(self, buf: ReceiveBuffer) -> Event | Reader | None:
        """An event, the reader that takes over, or None to wait for more bytes."""
        raise NotImplementedError

    def read_eof(self, buf: ReceiveBuffer) -> Event:
        """The stream ended while :meth:`read` wanted more: a final event, or raise."""
        raise NotImplementedError
