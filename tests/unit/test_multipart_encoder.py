"""The encoder half: boundary rules, Content-Type quoting, part framing."""

from __future__ import annotations

import pytest

from mjpeg_server.wire import encoder as encoder_module
from mjpeg_server.wire.multipart import (
    NEED_DATA,
    Layout,
    MultipartParser,
    PartData,
    PartEncoder,
    PartEnd,
    PartStart,
    content_type,
    validate_boundary,
)


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


def test_each_layout_opens_with_its_own_bytes() -> None:
    encoder = PartEncoder("frame")
    assert (encoder.boundary, encoder.content_type) == (
        "frame",
        "multipart/x-mixed-replace; boundary=frame",
    )
    assert encoder.opening_for(Layout.STANDARD) == encoder.opening == b"--frame\r\n"
    assert encoder.opening_for(Layout.ADVANCE_HEADERS) == encoder.advance_opening


def test_advance_headers_layout_round_trips() -> None:
    encoder = PartEncoder("frame")
    assert encoder.advance_opening == b"--frame\r\nContent-Type: image/jpeg\r\n\r\n"
    assert encoder.encode_advance(b"JPEG") == (
        b"JPEG\r\n--frame\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    # A payload that contains the delimiter cannot be framed without a length;
    # real JPEGs do not, and the parser finds each end by the delimiter.
    payloads = [b"\xff\xd8one\xff\xd9", b"\xff\xd8two\r\n--fram\xff\xd9", b""]
    stream = encoder.advance_opening + b"".join(encoder.encode_advance(p) for p in payloads)
    parser = MultipartParser("frame")
    parser.feed(stream)
    received: list[bytes] = []
    ended = 0
    while (event := parser.next_event()) is not NEED_DATA:
        if isinstance(event, PartStart):
            assert event.headers.content_length is None
            received.append(b"")
        elif isinstance(event, PartData):
            received[-1] += event.data
        elif isinstance(event, PartEnd):
            ended += 1
    assert received[:ended] == payloads
    # What follows is the headers sent ahead for the next frame, still to come.
    assert (len(received), received[-1]) == (len(payloads) + 1, b"")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Bad Name", "x", "invalid header name 'Bad Name'"),
        ("X-A", "x\r\nX-B: y", "header 'X-A' value contains a line break"),
    ],
)
def test_header_injection_is_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PartEncoder("frame").encode(b"", [(name, value)])


def test_an_encoder_for_another_part_type_frames_its_parts_with_it() -> None:
    encoder = PartEncoder("b", "image/png")
    assert encoder.part_content_type == "image/png"
    assert encoder.encode(b"x").startswith(b"Content-Type: image/png\r\nContent-Length: 1\r\n")
    assert encoder.advance_opening == b"--b\r\nContent-Type: image/png\r\n\r\n"
    with pytest.raises(ValueError, match="header 'Content-Type' value contains a line break"):
        PartEncoder("b", "image/png\r\nX-B: y")


def test_a_stream_checks_each_header_name_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-frame work: a stream's repeated names are checked on first use only."""
    checked: list[str] = []
    check_name = encoder_module._check_name

    def counted(name: str) -> bytes:
        checked.append(name)
        return check_name(name)

    monkeypatch.setattr(encoder_module, "_check_name", counted)
    encoder = PartEncoder("frame")
    for seq in range(5):
        encoder.encode(b"x", [("X-Timestamp", "1.5"), ("X-Frame-Seq", str(seq))])
    # Content-Type once, when the encoder is made; the others on their first part.
    assert checked == ["Content-Type", "X-Timestamp", "X-Frame-Seq"]


def test_header_names_are_checked_on_every_part_however_many_were_seen() -> None:
    """The encoder remembers names it has checked (a stream repeats a few per
    frame), never one it refused, and checks every name past what it remembers."""
    encoder = PartEncoder("frame")
    names = [f"X-Name-{index}" for index in range(100)]
    part = encoder.encode(b"x", [(name, "1") for name in names])
    assert all(f"{name}: 1\r\n".encode() in part for name in names)
    for _ in range(2):
        with pytest.raises(ValueError, match="invalid header name"):
            encoder.encode(b"x", [("Bad Name", "1")])
    for _ in range(2):  # a value is checked every time, even under a known name
        with pytest.raises(ValueError, match="value contains a line break"):
            encoder.encode(b"x", [(names[0], "1\r\nX-B: y")])
    with pytest.raises(ValueError, match="invalid header name"):
        encoder.encode(b"x", [(names[-1], "1"), ("Bad:Name", "1")])


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\r\nb"])
def test_any_line_break_in_a_header_value_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="value contains a line break"):
        PartEncoder("b").encode(b"x", [("X-A", value)])


def test_an_invalid_boundary_is_refused_with_the_rule() -> None:
    with pytest.raises(ValueError, match="not ending in a space") as error:
        PartEncoder("bad boundary ")
    assert str(error.value) == (
        "invalid multipart boundary 'bad boundary ': RFC 2046 allows 1-70 characters "
        "from A-Z a-z 0-9 '()+_,-./:=? and space, not ending in a space"
    )
