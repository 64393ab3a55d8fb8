"""What the multipart parser says: its events, ``NEED_DATA``, and ``ProtocolError``.

Goal: the small vocabulary shared by the parser, its readers and every caller,
in the style of h11's events. Plain frozen data; no I/O, O(1) each.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeAlias

if TYPE_CHECKING:
    from .headers import Headers

__all__ = [
    "NEED_DATA",
    "Event",
    "NeedData",
    "PartData",
    "PartEnd",
    "PartStart",
    "ProtocolError",
    "StreamEnd",
]


class ProtocolError(ValueError):
    """Malformed multipart input: the one exception the parser raises for bad bytes.

    The message says what was expected, what was seen and at which byte offset of
    the stream (counted from the first byte fed). A parser that raised it refuses
    any further input, like h11: its state is unknown, so nothing it said after
    the error could be trusted.
    """


@dataclass(frozen=True, slots=True)
class PartStart:
    """A part begins; its headers are complete."""

    headers: Headers


@dataclass(frozen=True, slots=True)
class PartData:
    """Some payload bytes of the current part, in order (never empty)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class PartEnd:
    """The current part's payload is complete."""


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The multipart body is over; every later :meth:`~MultipartParser.next_event` says so again."""


Event: TypeAlias = PartStart | PartData | PartEnd | StreamEnd


class NeedData(enum.Enum):
    """The type of :data:`NEED_DATA` (an enum, so type checkers narrow ``is`` tests)."""

    NEED_DATA = "NEED_DATA"


#: Returned by :meth:`MultipartParser.next_event` when it cannot say more until
#: :meth:`MultipartParser.feed` is called.
NEED_DATA: Final = NeedData.NEED_DATA
