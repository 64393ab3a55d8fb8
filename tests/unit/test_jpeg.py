"""wire.jpeg: the frame check and the size from the frame header, on JPEGs built here."""

from __future__ import annotations

import pytest

from mjpeg_server.wire.jpeg import EOI, SOI, is_complete_jpeg, jpeg_end, jpeg_size
from support.fixtures import FRAMES


def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body


def sof(marker: int, width: int, height: int) -> bytes:
    return segment(marker, b"\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big") + b"\x03")


APP0 = segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
DQT = segment(0xDB, bytes(65))
SCAN = segment(0xDA, b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00") + b"\x12\x34"


def test_the_bundled_frames() -> None:
    for frame in FRAMES:
        assert is_complete_jpeg(frame)
        assert jpeg_size(frame) == (640, 480)


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        (SOI + EOI, True),
        (SOI + b"x" + EOI + b"\x00\x00", True),  # zero padding after EOI (some encoders)
        (SOI + b"x", False),
        (b"x" + SOI + EOI, False),
        (SOI + EOI + b"X", False),  # only zero bytes may follow EOI
        (b"", False),
    ],
)
def test_is_complete_jpeg(data: bytes, complete: bool) -> None:
    assert is_complete_jpeg(data) is complete


@pytest.mark.parametrize("marker", [0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xCF])
def test_size_from_any_start_of_frame(marker: int) -> None:
    assert jpeg_size(SOI + APP0 + DQT + sof(marker, 1280, 720) + SCAN + EOI) == (1280, 720)


@pytest.mark.parametrize("marker", [0xC4, 0xC8, 0xCC])
def test_segments_in_the_sof_range_that_are_not_frame_headers_are_skipped(marker: int) -> None:
    data = SOI + segment(marker, b"\x00" * 5) + sof(0xC0, 320, 240) + SCAN + EOI
    assert jpeg_size(data) == (320, 240)


def test_fill_bytes_and_standalone_markers_are_stepped_over() -> None:
    restart = b"\xff\xd0"  # RST0: no length field
    for fill in (b"\xff", b"\xff\xff"):
        data = SOI + fill + APP0 + restart + b"\xff\x01" + sof(0xC0, 17, 9) + SCAN + EOI
        assert jpeg_size(data) == (17, 9)


def test_segment_lengths_are_two_bytes_big_endian() -> None:
    exif = segment(0xE1, bytes(300))  # longer than one byte can say
    assert jpeg_size(SOI + exif + sof(0xC0, 0x0102, 0x0304) + SCAN + EOI) == (0x0102, 0x0304)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x89PNG\r\n",
        SOI,
        SOI + APP0 + SCAN + EOI,  # a scan before any frame header
        SOI + APP0 + b"\x00\xc0",  # not a marker where one must be
        SOI + sof(0xC0, 320, 240)[:8],  # a frame header cut short
        SOI + APP0,  # nothing after the segment
    ],
)
def test_no_size(data: bytes) -> None:
    assert jpeg_size(data) is None


def test_a_frame_header_ending_exactly_with_the_data() -> None:
    header = sof(0xC0, 2, 3)
    assert jpeg_size(SOI + header[:9]) == (2, 3)
    assert jpeg_size(SOI + header[:8]) is None


def test_the_picture_ends_at_the_scan_s_eoi() -> None:
    thumbnail = segment(0xE1, b"Exif\x00\x00" + SOI + b"thumb" + EOI)  # an EOI before the scan
    picture = SOI + thumbnail + sof(0xC0, 8, 8) + SCAN + EOI
    assert jpeg_end(picture) == len(picture)
    assert jpeg_end(picture + b"trailer with " + EOI) == len(picture)  # the first one after
    assert jpeg_end(picture[:-1]) is None  # cut before its EOI
    assert jpeg_end(SOI + EOI) is None  # no scan: no picture


def test_the_picture_s_end_is_found_past_fill_bytes_restarts_and_long_segments() -> None:
    exif = segment(0xE1, bytes(300) + EOI)  # long, and with an EOI inside
    picture = SOI + b"\xff" + exif + b"\xff\xd0" + sof(0xC0, 8, 8) + SCAN + EOI
    assert jpeg_end(picture + b"after" + EOI) == len(picture)


def test_the_picture_s_end_is_searched_for_after_the_scan_header() -> None:
    # A scan header is a segment like the others: bytes in it that read FF D9 (here a
    # component selector 0xFF with tables 0xD9) are not the picture's end.
    for scan_header in (
        segment(0xDA, b"\x01\xff\xd9\x00\x3f\x00"),
        segment(0xDA, b"\x01\x01\x00\x00\xff\xd9"),  # in its last bytes
        segment(0xDA, bytes(300) + EOI),  # a length over 255: both of its bytes count
    ):
        picture = SOI + sof(0xC0, 8, 8) + scan_header + b"\x12\x34" + EOI
        assert jpeg_end(picture) == len(picture)
        assert jpeg_end(SOI + scan_header) is None  # nothing after the header: no EOI
        # An empty scan: the EOI right after the header is the end.
        assert jpeg_end(SOI + scan_header + EOI) == len(SOI + scan_header + EOI)
