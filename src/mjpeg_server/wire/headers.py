"""Header fields of the multipart format: a part's :class:`Headers`, and the boundary
parameter of a ``multipart/*`` ``Content-Type`` (to write one, or to read one).

Goal: the rules about header values in one place: what a boundary may be (RFC
2046), when it must be quoted (RFC 2045), how tolerant reading the parameter
is, and which ``Content-Length`` values are believed. No I/O; each function is linear in
the length of its input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import overload

from .events import ProtocolError

__all__ = [
    "MAX_TOLERANT_BOUNDARY",
    "Headers",
    "boundary_from_content_type",
    "boundary_from_first_line",
    "content_type",
    "parse_content_type",
    "validate_boundary",
]

# RFC 2046 §5.1.1 bchars: DIGIT / ALPHA / "'()+_,-./:=?" and space (not last).
_BOUNDARY_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
# RFC 2045 tspecials (plus space): a parameter value containing one must be quoted.
_TSPECIALS = frozenset('()<>@,;:\\"/[]?= ')
# "; name = value" where value is a quoted string or runs to the next ";".
_PARAM_RE = re.compile(r';\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')
_QUOTED_PAIR_RE = re.compile(r"\\(.)")
_LENGTH_RE = re.compile(r"[0-9]{1,18}")
#: A tolerant parser takes boundaries longer than RFC 2046's 70 characters, up to this.
MAX_TOLERANT_BOUNDARY = 256
# A body's first line when it is a delimiter: "--", the boundary, a line break.
_FIRST_DELIMITER_RE = re.compile(rb"--([!-~][ -~]{0,%d}?)[ \t]*\r?\n" % (MAX_TOLERANT_BOUNDARY - 1))


def validate_boundary(boundary: str) -> str:
    """Return ``boundary`` if RFC 2046 allows it, else raise ``ValueError``.

    1 to 70 characters from ``DIGIT ALPHA '()+_,-./:=?`` and space, not ending
    in a space.
    """
    if not _BOUNDARY_RE.fullmatch(boundary):
        raise ValueError(
            f"invalid multipart boundary {boundary!r}: RFC 2046 allows 1-70 characters "
            "from A-Z a-z 0-9 '()+_,-./:=? and space, not ending in a space"
        )
    return boundary


def content_type(boundary: str, subtype: str = "x-mixed-replace") -> str:
    """The ``Content-Type`` header value for a multipart body with ``boundary``.

    The boundary is quoted only when it contains a character that RFC 2045
    forbids in an unquoted parameter value (``:``, ``/``, ``=``, ``?``, space …):
    some camera clients do not expect quotes, so they are not added needlessly.
    """
    validate_boundary(boundary)
    if _TSPECIALS.intersection(boundary):
        return f'multipart/{subtype}; boundary="{boundary}"'
    return f"multipart/{subtype}; boundary={boundary}"


def parse_content_type(value: str) -> tuple[str, bool]:
    """(boundary, whether it was quoted) from a multipart ``Content-Type`` value.

    See :func:`boundary_from_content_type`.
    """
    mime = value.partition(";")[0].strip().lower()
    if not mime.startswith("multipart/"):
        raise ProtocolError(f"expected a multipart Content-Type, got {value!r}")
    for match in _PARAM_RE.finditer(value, len(mime)):
        if match[1].lower() != "boundary":
            continue
        quoted = match[2] is not None
        boundary = _QUOTED_PAIR_RE.sub(r"\1", match[2]) if quoted else match[3].strip()
        if not boundary:
            break
        return boundary, quoted
    raise ProtocolError(f"expected a boundary parameter in Content-Type, got {value!r}")


def boundary_from_content_type(value: str) -> str:
    """The boundary of a multipart ``Content-Type`` header value, unquoted.

    Tolerant like the parser: the parameter name in any case, quotes, extra
    parameters in any order, no space after ``;``. A leading ``--`` is kept (some
    cameras write the body's dashes into the header); the parser matches it
    either way. Raises :class:`ProtocolError` when the type is not
    ``multipart/*`` or has no boundary. ``MultipartParser.from_content_type``
    also records a quoted boundary as a deviation.
    """
    return parse_content_type(value)[0]


def boundary_from_first_line(line: bytes) -> str:
    """The boundary of a body whose first line (``line``, or more) is a delimiter:
    ``--``, the boundary, transport padding, a line break.

    For a body whose Content-Type does not say (ffmpeg's mpjpeg muxer sends
    ``application/octet-stream``). Raises :class:`ProtocolError` if the line is
    not a delimiter.
    """
    match = _FIRST_DELIMITER_RE.match(line)
    if match is None:
        raise ProtocolError(f"the body does not start with a boundary line: {line[:24]!r}")
    return match[1].decode("latin-1")


@dataclass(frozen=True, slots=True)
class Headers:
    """A part's header fields as received: ordered ``(name, value)`` pairs.

    Names keep their case and values are latin-1 decoded (every byte maps to one
    character, so nothing is lost) with surrounding spaces and tabs stripped.
    Lookups ignore case, as RFC 2045 header names do.
    """

    items: tuple[tuple[str, str], ...] = ()

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case), or ``default``."""
        key = name.lower()
        for field, value in self.items:
            if field.lower() == key:
                return value
        return default

    def get_all(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name`` (any case), in order."""
        key = name.lower()
        return tuple(value for field, value in self.items if field.lower() == key)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_all(name))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def content_length(self) -> int | None:
        """``Content-Length`` as an int, or None when absent.

        Space padding is tolerated. A value that is not 1 to 18 decimal digits
        (negative, signed, non-numeric, absurdly long), or several different
        values, raise :class:`ProtocolError`: a wrong length would misframe every
        later part, so guessing is worse than stopping.
        """
        values = self.get_all("content-length")
        if not values:
            return None
        value = values[0].strip(" \t")
        if any(other.strip(" \t") != value for other in values[1:]):
            raise ProtocolError(f"expected one Content-Length, got conflicting values {values}")
        if not _LENGTH_RE.fullmatch(value):
            raise ProtocolError(f"expected Content-Length to be 1-18 digits, got {value!r}")
        return int(value)
