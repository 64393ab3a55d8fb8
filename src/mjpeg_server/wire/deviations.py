"""The deviation policy: which bends of RFC 2046 the parser accepts, in one place.

Goal: the readers only *name* what they see (``policy.deviate("lf-line-endings",
at)``) and *where* they fail; whether a deviation is recorded or raised, what
an error message says about its offset, and when a stream that just stops
counts as complete are decided here, once. No I/O; every call is O(1).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NoReturn

from .events import ProtocolError, StreamEnd
from .receive_buffer import ReceiveBuffer

__all__ = ["DEVIATIONS", "RFC_ALLOWED", "DeviationPolicy"]

#: Every deviation from RFC 2046 the tolerant parser accepts, by its stable short
#: name (what :attr:`MultipartParser.deviations` and the probe report), with a
#: one-line description.
DEVIATIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "lf-line-endings": "lines end in LF instead of CRLF",
        "preamble": "text or blank lines before the first boundary (legal, ignored)",
        "transport-padding": "spaces or tabs after a boundary (receivers must accept them)",
        "no-crlf-before-boundary": "a boundary directly after a payload, without its CRLF",
        "extra-crlf-after-payload": "extra line breaks between a payload and the next boundary",
        "missing-first-boundary": "the first part's headers come without a boundary before them",
        "no-content-length": "parts without Content-Length: framed by scanning for the boundary",
        "padded-content-length": "Content-Length value padded with extra spaces",
        "dashes-in-header-boundary": "the Content-Type boundary includes the body's leading '--'",
        "quoted-boundary": "the Content-Type boundary parameter is quoted (legal)",
        "no-close-delimiter": "the stream ended without the close delimiter '--boundary--'",
        "content-type-not-multipart": "Content-Type is not multipart/*; the body's first line "
        "gave the boundary (ffmpeg -f mpjpeg sends application/octet-stream)",
    }
)

#: The deviations strict mode still accepts: RFC 2046 allows them (a preamble, a
#: quoted boundary, parts without Content-Length, which it never mentions) or
#: requires receivers to accept them (transport padding); and a live
#: ``x-mixed-replace`` stream ends when the connection closes, so a stream that
#: ends right after a delimiter line (as every stream ``PartEncoder`` writes
#: does) has no close delimiter. They are still recorded: the probe reports them.
RFC_ALLOWED: Final = frozenset(
    {"preamble", "transport-padding", "quoted-boundary", "no-content-length", "no-close-delimiter"}
)


class DeviationPolicy:
    """Records deviations, or raises for them in strict mode; words every error.

    Offsets (``at``) are counted from the start of ``buffer``'s unread bytes;
    messages give them as offsets in the stream. After the first error the
    policy remembers it (:attr:`error`): the parser refuses everything after.
    """

    __slots__ = ("_buffer", "error", "seen", "strict")

    def __init__(self, buffer: ReceiveBuffer, *, strict: bool) -> None:
        self._buffer = buffer
        self.strict = strict
        #: Names (keys of :data:`DEVIATIONS`) of the deviations accepted so far.
        self.seen: set[str] = set()
        #: The first error's message, once there was one.
        self.error: str | None = None

    def fail(self, message: str, at: int) -> NoReturn:
        """Raise :class:`ProtocolError` for a problem ``at`` bytes into the buffer."""
        self.error = f"{message} (at byte {self._buffer.consumed + at} of the stream)"
        raise ProtocolError(self.error)

    def deviate(self, name: str, at: int) -> None:
        """Accept deviation ``name`` (seen ``at`` bytes into the buffer), or fail in
        strict mode unless the RFC allows it."""
        if self.strict and name not in RFC_ALLOWED:
            self.fail(f"strict mode: {DEVIATIONS[name]}", at)
        self.seen.add(name)

    def end_without_close(self, what: str, at: int) -> StreamEnd:
        """The stream ended ``what`` (after a part, inside a boundary line), where a
        tolerant parser can call it complete: strict mode cannot."""
        if self.strict:
            self.fail(f"stream ended {what}", at)
        self.deviate("no-close-delimiter", at)
        return StreamEnd()
