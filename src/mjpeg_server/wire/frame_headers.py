"""A frame's own part headers, ``X-Timestamp`` and ``X-Frame-Seq``: one writer, one reader.

Goal: what the server writes (the hub's parts, the snapshot route) and what
the tools read (the client, the probe, the bench) follow one rule, so no
reader accepts a value that another rejects and the writer never writes one
that a reader would reject:

* ``X-Timestamp``: the capture time in Unix seconds, a finite decimal number
  (``1700000000.250000``; written with six decimals, microseconds). NaN,
  infinities, hex, underscores and anything else that is not a plain decimal
  number read as "no timestamp".
* ``X-Frame-Seq``: the camera's frame counter, 1 to 18 ASCII digits (a
  counter starts at 0 and only grows). A sign, a fraction or other digits
  read as "no sequence number".

A value that breaks the rule is not an error: the header is treated as absent
(the frame is still a frame; a tool just cannot measure latency or gaps from
it). Sans-I/O; cost: one regex match per header.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from .headers import Headers

__all__ = [
    "SEQUENCE",
    "TIMESTAMP",
    "FrameStamp",
    "decode_frame_headers",
    "encode_frame_headers",
    "parse_seq",
    "parse_timestamp",
]

#: The header names, as written (readers match them in any case).
TIMESTAMP: Final = "X-Timestamp"
SEQUENCE: Final = "X-Frame-Seq"

_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SEQ_RE = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True, slots=True)
class FrameStamp:
    """What a part's headers say about its frame; None where a header is absent or invalid."""

    #: Capture time, Unix seconds.
    timestamp: float | None
    #: The camera's frame counter.
    seq: int | None


def encode_frame_headers(timestamp: float, seq: int) -> tuple[tuple[str, str], tuple[str, str]]:
    """The ``(name, value)`` pairs for a frame captured at ``timestamp`` with number ``seq``.

    For :meth:`~mjpeg_server.wire.encoder.PartEncoder.encode` or a response's
    headers. Raises ``ValueError`` for a timestamp that is not finite or a
    negative ``seq``: the readers would drop them.
    """
    if not math.isfinite(timestamp):
        raise ValueError(f"{TIMESTAMP} must be a finite number, got {timestamp!r}")
    if seq < 0:
        raise ValueError(f"{SEQUENCE} must not be negative, got {seq}")
    return ((TIMESTAMP, f"{timestamp:.6f}"), (SEQUENCE, str(seq)))


def parse_timestamp(value: str | None) -> float | None:
    """An ``X-Timestamp`` value as a finite float, or None (absent or not valid)."""
    if value is None:
        return None
    text = value.strip(" \t")
    if not _DECIMAL_RE.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None  # "1e999" overflows to inf


def parse_seq(value: str | None) -> int | None:
    """An ``X-Frame-Seq`` value as an int, or None (absent or not valid)."""
    if value is None:
        return None
    text = value.strip(" \t")
    return int(text) if _SEQ_RE.fullmatch(text) else None


def decode_frame_headers(headers: Headers | Mapping[str, str]) -> FrameStamp:
    """``X-Timestamp`` and ``X-Frame-Seq`` from a part's :class:`Headers` (or any
    mapping whose ``get`` ignores case, like a response's headers)."""
    return FrameStamp(parse_timestamp(headers.get(TIMESTAMP)), parse_seq(headers.get(SEQUENCE)))
