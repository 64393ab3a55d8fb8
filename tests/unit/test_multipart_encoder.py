"""The encoder half: boundary rules, Content-Type quoting, part framing."""

from __future__ import annotations

import pytest

from mjpeg_server.multipart import PartEncoder, content_type, validate_boundary


@pytest.mark.parametrize("boundary", ["b", "frame", "a" * 70, "with space.x", "'()+_,-./:=?"])
def test_valid_boundaries(boundary: str) -> None:
    assert validate_boundary(boundary) == boundary


@pytest.mark.parametrize("boundary", ["", "a" * 71, "ends in space ", "semi;colon", "caf\xe9"])
def test_invalid_boundaries(boundary: str) -> None:
    with pytest.raises(ValueError, match="invalid multipart boundary"):
        validate_boundary(boundary)


def test_content_type_quotes_only_when_needed() -> None:
    assert content_type("frame") == "multipart/x-mixed-replace; boundary=frame"
    assert content_type("a:b") == 'multipart/x-mixed-replace; boundary="a:b"'
    assert content_type("a b", "mixed") == 'multipart/mixed; boundary="a b"'


def test_part_layout() -> None:
    encoder = PartEncoder("frame")
    assert encoder.opening == b"--frame\r\n"
    assert encoder.encode(b"JPEG", [("X-Timestamp", "1.5")]) == (
        b"Content-Type: image/jpeg\r\nContent-Length: 4\r\nX-Timestamp: 1.5\r\n\r\n"
        b"JPEG\r\n--frame\r\n"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [("Bad Name", "x", "invalid header name"), ("X-A", "x\r\nX-B: y", "contains a line break")],
)
def test_header_injection_is_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PartEncoder("frame").encode(b"", [(name, value)])
