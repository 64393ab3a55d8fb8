"""An EXIF orientation tag on a JPEG: the rotation method the server does not use,
kept for the tests and the benchmark that show why (only browsers honour it)."""

from __future__ import annotations

import struct


def exif_app1(orientation: int) -> bytes:
    """A minimal APP1 Exif segment: a little-endian TIFF header and one IFD0 entry."""
    tiff = b"II*\x00" + struct.pack("<I", 8)
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)
    ifd += struct.pack("<I", 0)
    payload = b"Exif\x00\x00" + tiff + ifd
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def with_exif(jpeg: bytes, tag: bytes) -> bytes:
    """``jpeg`` with ``tag`` (an APP segment) right after SOI."""
    return jpeg[:2] + tag + jpeg[2:]
