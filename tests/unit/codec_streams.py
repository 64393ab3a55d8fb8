"""Test helpers for the multipart codec: drive a parser, build streams, strategies.

A :class:`Dialect` describes how a sender bends RFC 2046, one flag per deviation
the parser tolerates, so a test can build a stream with any combination of them
and know exactly which deviations the parser must report.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from mjpeg_server.wire.multipart import (
    NEED_DATA,
    Event,
    Headers,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    StreamEnd,
)

Part = tuple[tuple[tuple[str, str], ...], bytes]

#: RFC 2046 §5.1.1: 1-70 of these, not ending in a space.
BOUNDARIES = st.from_regex(r"\A[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]\Z")
HEADER_NAMES = st.from_regex(r"\AX-[0-9A-Za-z\-]{1,12}\Z")
#: Visible latin-1 characters and inner spaces: values survive stripping unchanged.
HEADER_VALUES = st.from_regex(r"\A([!-~\xa0-\xff]([ !-~\xa0-\xff]{0,30}[!-~\xa0-\xff])?)?\Z")
HEADER_LISTS = st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=3).map(tuple)


def drain(parser: MultipartParser, limit: int = 1_000_000) -> list[Event]:
    """Every event the parser has now, up to NEED_DATA or StreamEnd."""
    events: list[Event] = []
    for _ in range(limit):
        event = parser.next_event()
        if event is NEED_DATA:
            return events
        events.append(event)
        if isinstance(event, StreamEnd):
            return events
    raise AssertionError(f"no NEED_DATA or StreamEnd after {limit} events")


def feed_all(parser: MultipartParser, chunks: Iterable[bytes], *, eof: bool = True) -> list[Event]:
    """Feed ``chunks`` (then the end of the stream), draining after each one.

    After StreamEnd the rest is fed (the epilogue) but not drained again.
    """
    events: list[Event] = []
    for chunk in chunks:
        parser.feed(chunk)
        if not ended(events):
            events += drain(parser)
    if eof and not ended(events):
        parser.feed(b"")
        events += drain(parser)
    return events


def ended(events: list[Event]) -> bool:
    return bool(events) and isinstance(events[-1], StreamEnd)


def merge_data(events: Iterable[Event]) -> list[Event]:
    """Adjacent PartData events joined into one: the chunking-independent view."""
    merged: list[Event] = []
    for event in events:
        if isinstance(event, PartData) and merged and isinstance(merged[-1], PartData):
            merged[-1] = PartData(merged[-1].data + event.data)
        else:
            merged.append(event)
    return merged


def parts_of(events: Iterable[Event]) -> list[tuple[Headers, bytes]]:
    """(headers, payload) of every complete part."""
    parts: list[tuple[Headers, bytes]] = []
    headers: Headers | None = None
    data: list[bytes] = []
    for event in events:
        if isinstance(event, PartStart):
            headers, data = event.headers, []
        elif isinstance(event, PartData):
            data.append(event.data)
        elif isinstance(event, PartEnd):
            assert headers is not None
            parts.append((headers, b"".join(data)))
    return parts


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """``data`` cut at the given offsets (taken modulo its length, sorted)."""
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


@dataclass(frozen=True)
class Dialect:
    """How a sender writes its stream: one flag per tolerated deviation."""

    content_length: bool = True
    lf: bool = False
    padding: bytes = b""
    preamble: bytes = b""
    missing_first_boundary: bool = False
    no_crlf_before_boundary: bool = False
    extra_crlf: bool = False
    padded_content_length: bool = False
    dashes_in_header: bool = False
    close: bool = True

    def parser_boundary(self, boundary: str) -> str:
        """What the sender's Content-Type says the boundary is."""
        return "--" + boundary if self.dashes_in_header else boundary

    def expected_deviations(self, parts: Sequence[Part]) -> frozenset[str]:
        has_lines = bool(parts) or not self.close  # else the body is just "--b--"
        names = {
            "lf-line-endings": self.lf and has_lines,
            "transport-padding": bool(self.padding) and self._boundary_lines(parts) > 0,
            "preamble": bool(self.preamble),
            "missing-first-boundary": self.missing_first_boundary and bool(parts),
            "no-crlf-before-boundary": self.no_crlf_before_boundary
            and any(payload for _, payload in parts),
            "extra-crlf-after-payload": self.extra_crlf and bool(parts),
            "no-content-length": not self.content_length and bool(parts),
            "padded-content-length": self.padded_content_length and bool(parts),
            "dashes-in-header-boundary": self.dashes_in_header,
            "no-close-delimiter": not self.close,
        }
        return frozenset(name for name, present in names.items() if present)

    def _boundary_lines(self, parts: Sequence[Part]) -> int:
        """How many delimiter lines (not the close delimiter) the stream has."""
        opening = 1 if parts and not self.missing_first_boundary else 0
        return opening + max(len(parts) - 1, 0) + (0 if self.close else 1)

    def separator(self) -> bytes:
        """What this sender writes between a payload and the next boundary."""
        newline = b"\n" if self.lf else b"\r\n"
        if self.no_crlf_before_boundary:
            return b""
        return newline * 2 if self.extra_crlf else newline

    def build(self, boundary: str, parts: Sequence[Part]) -> bytes:
        """The body of a stream of ``parts``, each with its extra headers and payload."""
        newline = b"\n" if self.lf else b"\r\n"
        token = b"--" + boundary.encode("latin-1")
        out = [self.preamble]
        if not parts:
            out += [token, b"--" if self.close else self.padding + newline]
            return b"".join(out)
        if not self.missing_first_boundary:
            out.append(token + self.padding + newline)
        for index, (headers, payload) in enumerate(parts):
            out.append(b"Content-Type: image/jpeg" + newline)
            out += [f"{name}: {value}".encode("latin-1") + newline for name, value in headers]
            if self.content_length:
                length = b"  %d " if self.padded_content_length else b"%d"
                out.append(b"Content-Length: " + length % len(payload) + newline)
            out += [newline, payload, self.separator(), token]
            last = index == len(parts) - 1
            out.append(
                b"--" + newline + b"epilogue" if last and self.close else self.padding + newline
            )
        return b"".join(out)

    def expected_headers(self, headers: tuple[tuple[str, str], ...], payload: bytes) -> Headers:
        items = (("Content-Type", "image/jpeg"), *headers)
        if self.content_length:
            items += (("Content-Length", str(len(payload))),)
        return Headers(items)

    def can_frame(self, boundary: str, parts: Sequence[Part]) -> bool:
        """Whether a tolerant parser can tell these parts apart in this dialect.

        A dashed header boundary "--" + boundary where the boundary itself starts
        with "-" is ambiguous: "---" + "--" (close) is also "-----" (the canonical
        token). Beyond that, every payload must be representable.
        """
        if self.dashes_in_header and boundary.startswith("-"):
            return False
        return all(self.representable(boundary, payload) for _, payload in parts)

    def representable(self, boundary: str, payload: bytes) -> bool:
        """Whether a tolerant parser can frame ``payload`` in this dialect.

        With Content-Length, always. Without it the payload is found by scanning
        for the delimiter, so the payload must not contain it (tolerant: the
        token; for a header boundary with leading dashes, the boundary itself),
        and must not end in bytes that the scan would take as part of the
        delimiter (a line break, or dashes before a dashed token).
        """
        if self.content_length:
            return True
        token = b"--" + boundary.encode("latin-1")
        header_boundary = self.parser_boundary(boundary).encode("latin-1")
        needle = header_boundary if header_boundary.startswith(b"--") else token
        framed = payload + self.separator() + token
        if framed.find(needle) != len(framed) - len(needle):
            return False
        if not self.separator().endswith(b"\r\n") and re.search(rb"[\r\n]\Z", payload):
            return False
        return not (self.no_crlf_before_boundary and payload.endswith(b"-"))


@st.composite
def dialects(draw: st.DrawFn) -> Dialect:
    content_length = draw(st.booleans())
    extra_or_no_crlf = draw(st.sampled_from(["", "extra", "no-crlf"]))
    missing_first = draw(st.booleans())
    return Dialect(
        content_length=content_length,
        lf=draw(st.booleans()),
        padding=draw(st.sampled_from([b"", b" ", b"\t", b" \t "])),
        preamble=b""
        if missing_first
        else draw(st.sampled_from([b"", b"\r\n\r\n", b"This is a multi-part message.\r\n"])),
        missing_first_boundary=missing_first,
        no_crlf_before_boundary=extra_or_no_crlf == "no-crlf",
        extra_crlf=extra_or_no_crlf == "extra" and content_length,
        padded_content_length=content_length and draw(st.booleans()),
        dashes_in_header=draw(st.booleans()),
        close=draw(st.booleans()),
    )


def payloads(max_size: int = 300) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, JPEG-like ones, and ones full of line breaks and dashes."""
    return st.one_of(
        st.binary(max_size=max_size),
        st.binary(max_size=max_size).map(lambda body: b"\xff\xd8" + body + b"\xff\xd9"),
        st.lists(st.sampled_from([b"\r", b"\n", b"-", b"--", b"x", b"\r\n--"]), max_size=20).map(
            b"".join
        ),
    )
