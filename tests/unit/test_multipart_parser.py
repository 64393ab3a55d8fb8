"""Example-based tests of the multipart parser: each rule, each error, exact messages."""

from __future__ import annotations

import pytest
from codec_streams import bytewise, drain, feed_all, merge_data, parts_of

from mjpeg_server.wire.multipart import (
    DEVIATIONS,
    NEED_DATA,
    RFC_ALLOWED,
    Headers,
    MultipartParser,
    PartData,
    PartEncoder,
    PartEnd,
    PartStart,
    ProtocolError,
    StreamEnd,
    boundary_from_content_type,
)

HEAD = b"--b\r\nContent-Type: image/jpeg\r\nContent-Length: 10\r\n\r\n"


def parse(
    stream: bytes, boundary: str = "b", **options: bool
) -> tuple[list[object], frozenset[str]]:
    parser = MultipartParser(boundary, **options)
    return merge_data(feed_all(parser, [stream])), parser.deviations


def payloads(stream: bytes, boundary: str = "b") -> list[bytes]:
    return [payload for _, payload in parts_of(parse(stream, boundary)[0])]  # type: ignore[arg-type]


# -- Content-Type ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "boundary"),
    [
        ("multipart/x-mixed-replace;boundary=boundarydonotcross", "boundarydonotcross"),
        ("multipart/x-mixed-replace; boundary=frame", "frame"),
        ('multipart/x-mixed-replace; boundary="a:b/c"', "a:b/c"),
        ('multipart/x-mixed-replace; boundary="q\\"x"', 'q"x'),
        ("Multipart/X-Mixed-Replace; BOUNDARY=Frame", "Frame"),
        ("multipart/x-mixed-replace; charset=x; boundary = --myboundary ; foo=bar", "--myboundary"),
        ('multipart/mixed; a="x;boundary=evil"; boundary=good', "good"),
    ],
)
def test_boundary_from_content_type(value: str, boundary: str) -> None:
    assert boundary_from_content_type(value) == boundary


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("image/jpeg", "expected a multipart Content-Type, got 'image/jpeg'"),
        ("multipart/x-mixed-replace", "expected a boundary parameter"),
        ('multipart/x-mixed-replace; boundary=""', "expected a boundary parameter"),
        ("multipart/x-mixed-replace; name=boundary", "expected a boundary parameter"),
    ],
)
def test_boundary_from_content_type_errors(value: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        boundary_from_content_type(value)


def test_from_content_type_records_a_quoted_boundary_and_strict_mode_accepts_it() -> None:
    for strict in (False, True):
        parser = MultipartParser.from_content_type(
            'multipart/x-mixed-replace; boundary="b"', strict=strict
        )
        assert parser.boundary == "b"
        assert parser.deviations == {"quoted-boundary"}
    parser = MultipartParser.from_content_type("multipart/x-mixed-replace; boundary=b")
    assert parser.deviations == frozenset()


def test_boundaries_the_parser_refuses() -> None:
    with pytest.raises(ProtocolError, match="expected a boundary of 1-256 printable"):
        MultipartParser("")
    with pytest.raises(ProtocolError, match="printable"):
        MultipartParser("a\r\nb")
    with pytest.raises(ProtocolError, match="latin-1"):
        MultipartParser("snow\u2603")
    with pytest.raises(ProtocolError, match="RFC 2046 allows 1-70"):
        MultipartParser("b" * 71, strict=True)
    assert MultipartParser("b" * 71).boundary == "b" * 71


# A body whose Content-Type is not multipart but whose first line is a
# delimiter (ffmpeg's mpjpeg server: test_ffmpeg_server.py reads the real one).
@pytest.mark.parametrize(
    ("line", "boundary"),
    [
        (b"--ffmpeg\r\nContent-type: image/jpeg\r\n", "ffmpeg"),
        (b"--frame\n", "frame"),
        (b"--with space  \r\n", "with space"),
    ],
)
def test_boundary_from_the_first_line(line: bytes, boundary: str) -> None:
    parser = MultipartParser.from_first_line(line)
    assert parser.boundary == boundary
    assert parser.deviations == {"content-type-not-multipart"}


@pytest.mark.parametrize("line", [b"<!doctype html>\n", b"--\r\n", b"-- x\r\n", b"--ffmpeg"])
def test_no_boundary_in_the_first_line(line: bytes) -> None:
    with pytest.raises(ProtocolError) as error:
        MultipartParser.from_first_line(line)
    assert str(error.value) == f"the body does not start with a boundary line: {line[:24]!r}"


def test_the_first_line_is_quoted_up_to_24_bytes() -> None:
    line = b"<!doctype html><html><head><title>x"
    with pytest.raises(ProtocolError, match=r"line: b'<!doctype html><html><he'$"):
        MultipartParser.from_first_line(line)


def test_strict_parser_refuses_a_boundary_from_the_first_line() -> None:
    message = r"^strict mode: Content-Type is not multipart.*\(at byte 0 of"
    with pytest.raises(ProtocolError, match=message):
        MultipartParser.from_first_line(b"--ffmpeg\r\n", strict=True)


# -- Headers --------------------------------------------------------------------


def test_headers_lookup_ignores_case_and_keeps_order() -> None:
    headers = Headers((("Content-Type", "image/jpeg"), ("X-A", "1"), ("x-a", "2")))
    assert headers.get("content-type") == "image/jpeg"
    assert headers.get("X-A") == "1"
    assert headers.get_all("X-a") == ("1", "2")
    assert headers.get("missing") is None
    assert headers.get("missing", "d") == "d"
    assert "CONTENT-TYPE" in headers
    assert "Content-Length" not in headers
    assert 3 not in headers
    assert list(headers) == [("Content-Type", "image/jpeg"), ("X-A", "1"), ("x-a", "2")]
    assert len(headers) == 3
    assert headers.content_length is None


@pytest.mark.parametrize(
    ("values", "length"),
    [(("42",), 42), ((" 42 ",), 42), (("0",), 0), (("7", " 7"), 7), (("9" * 18,), int("9" * 18))],
)
def test_content_length(values: tuple[str, ...], length: int) -> None:
    assert Headers(tuple(("Content-Length", v) for v in values)).content_length == length


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (("-1",), "expected Content-Length to be 1-18 digits, got '-1'"),
        (("+1",), "got '\\+1'"),
        (("1e3",), "got '1e3'"),
        (("",), "got ''"),
        (("\u0663",), "got"),  # an Arabic-Indic digit: int() would take it
        (("9" * 19,), "1-18 digits"),
        (("1", "2"), "expected one Content-Length, got conflicting values"),
    ],
)
def test_bad_content_length(values: tuple[str, ...], message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        Headers(tuple(("content-length", v) for v in values)).content_length  # noqa: B018


def test_bad_content_length_is_a_parse_error_with_its_offset() -> None:
    with pytest.raises(ProtocolError, match=r"got 'ten' in the part headers \(at byte 5 of"):
        parse(b"--b\r\nContent-Length: ten\r\n\r\n0123456789\r\n--b--")


def test_header_values_are_latin1_and_stripped_and_folded_lines_join() -> None:
    stream = b"--b\r\nX-A:  caf\xe9 \t\r\nX-B: one\r\n  two\r\nContent-Length: 0\r\n\r\n\r\n--b--"
    ((headers, _),) = parts_of(parse(stream)[0])  # type: ignore[arg-type]
    assert headers.items == (("X-A", "caf\xe9"), ("X-B", "one two"), ("Content-Length", "0"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"no colon", r"expected a header line 'Name: value', got b'no colon' \(at byte 5 "),
        (b"Bad Name: x", "expected a header line 'Name: value', got b'Bad Name: x'"),
        (b": x", "expected a header line"),
        (b" folded", "expected a header line, got a continuation line"),
    ],
)
def test_bad_header_lines(line: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse(b"--b\r\n" + line + b"\r\n\r\nx\r\n--b--")


# -- framing and latency --------------------------------------------------------


def test_part_end_does_not_wait_for_the_next_boundary() -> None:
    parser = MultipartParser("b")
    parser.feed(HEAD + b"0123456789")
    assert drain(parser)[1:] == [PartData(b"0123456789"), PartEnd()]
    assert parser.next_event() is NEED_DATA


def test_a_chunk_inside_a_counted_payload_is_passed_on_without_copying() -> None:
    parser = MultipartParser("b")
    parser.feed(HEAD)
    assert isinstance(parser.next_event(), PartStart)
    chunk = b"01234"
    parser.feed(chunk)
    event = parser.next_event()
    assert isinstance(event, PartData)
    assert event.data is chunk


def test_content_length_frames_a_payload_that_contains_the_delimiter() -> None:
    payload = b"\r\n--b\r\n--b--"
    stream = b"--b\r\nContent-Length: 12\r\n\r\n" + payload + b"\r\n--b--"
    for strict in (False, True):
        assert parts_of(parse(stream, strict=strict)[0]) == [  # type: ignore[arg-type]
            (Headers((("Content-Length", "12"),)), payload)
        ]


def test_wrong_content_length_is_caught_at_the_next_boundary() -> None:
    with pytest.raises(
        ProtocolError,
        match=r"expected the boundary b'--b' after a part, got b'9\\r\\n--b--' \(at byte 63 ",
    ):
        parse(HEAD + b"0123456789" + b"9\r\n--b--")


def test_events_and_zero_length_parts() -> None:
    encoder = PartEncoder("b")
    stream = encoder.opening + encoder.encode(b"").removesuffix(b"\r\n") + b"--"
    events, _ = parse(stream)
    assert [type(e) for e in events] == [PartStart, PartEnd, StreamEnd]


def test_a_part_without_body_may_end_at_its_header_block() -> None:
    """RFC 2046: body-part := headers [CRLF *OCTET]; the blank line doubles as CRLF."""
    for strict in (False, True):
        events, deviations = parse(b"--b\r\nX-A: 1\r\n\r\n--b--", strict=strict)
        assert [type(e) for e in events] == [PartStart, PartEnd, StreamEnd]
        assert deviations == {"no-content-length"}


def test_scan_without_content_length() -> None:
    stream = (
        b"--b\r\nContent-Type: image/jpeg\r\n\r\nab\r\n-c--b\r\n\r\n--b\r\n\r\nxyz\r\n--b--\r\n"
    )
    strict = parts_of(parse(stream, strict=True)[0])  # type: ignore[arg-type]
    assert [payload for _, payload in strict] == [b"ab\r\n-c--b\r\n", b"xyz"]
    # The tolerant scan also ends a part at a boundary with no line break before it
    # (here followed by a part without headers or body).
    assert payloads(stream) == [b"ab\r\n-c", b"", b"xyz"]


# -- deviations -----------------------------------------------------------------

CANONICAL = HEAD + b"0123456789\r\n--b\r\n\r\nxyz\r\n--b--\r\nepilogue"


@pytest.mark.parametrize(
    ("name", "stream"),
    [
        ("lf-line-endings", CANONICAL.replace(b"\r\n", b"\n")),
        ("preamble", b"This is MIME.\r\n" + CANONICAL),
        ("preamble", b"\r\n\r\n" + CANONICAL),
        ("transport-padding", CANONICAL.replace(b"--b\r\n", b"--b \t\r\n")),
        ("no-crlf-before-boundary", CANONICAL.replace(b"0123456789\r\n", b"0123456789")),
        ("extra-crlf-after-payload", CANONICAL.replace(b"0123456789\r\n", b"0123456789\r\n\r\n")),
        ("missing-first-boundary", CANONICAL.removeprefix(b"--b\r\n")),
        ("padded-content-length", CANONICAL.replace(b"Length: 10", b"Length:    10 ")),
        ("padded-content-length", CANONICAL.replace(b"Length: 10", b"Length:  10")),
        ("padded-content-length", CANONICAL.replace(b"Length: 10", b"Length:10 ")),
        ("lf-line-endings", CANONICAL.replace(b"0123456789\r\n", b"0123456789\n")),
        ("lf-line-endings", CANONICAL.replace(b"--b\r\n\r\nxyz", b"--b\n\r\nxyz")),
        ("lf-line-endings", b"\n" + CANONICAL),
        ("no-close-delimiter", CANONICAL.removesuffix(b"--\r\nepilogue") + b"\r\n"),
    ],
)
def test_each_deviation_is_tolerated_and_reported(name: str, stream: bytes) -> None:
    events, deviations = parse(stream)
    assert [p for _, p in parts_of(events)] == [b"0123456789", b"xyz"]  # type: ignore[misc]
    assert deviations - {"no-content-length"} == {name}
    if name in RFC_ALLOWED:
        assert parse(stream, strict=True)[1] == deviations
    else:
        with pytest.raises(ProtocolError, match=f"strict mode: {DEVIATIONS[name]}"):
            parse(stream, strict=True)


def test_lf_before_a_boundary_after_a_part_without_content_length() -> None:
    stream = CANONICAL.replace(b"xyz\r\n", b"xyz\n")
    assert parse(stream)[1] == {"lf-line-endings", "no-content-length"}
    # Strictly, "LF--b" is no delimiter: the part runs on to the end of the stream.
    with pytest.raises(ProtocolError, match="stream ended inside a part, after 19 bytes"):
        parse(stream, strict=True)


def test_content_length_without_padding() -> None:
    for value in (b"Content-Length:10", b"Content-Length: 10", b"content-length:\t10"):
        stream = CANONICAL.replace(b"Content-Length: 10", value)
        assert parse(stream)[1] == {"no-content-length"}


def test_dashes_in_the_header_boundary() -> None:
    """Content-Type says boundary=--b and the body uses --b: a deviation, matched anyway."""
    events, deviations = parse(CANONICAL, boundary="--b")
    assert [p for _, p in parts_of(events)] == [b"0123456789", b"xyz"]  # type: ignore[misc]
    assert deviations == {"dashes-in-header-boundary", "no-content-length"}
    # The canonical form of that boundary still parses, without the deviation.
    canonical = CANONICAL.replace(b"--b", b"----b")
    assert parse(canonical, boundary="--b")[1] == {"no-content-length"}
    assert parse(canonical, boundary="--b", strict=True)[1] == {"no-content-length"}
    with pytest.raises(ProtocolError, match="strict mode: the Content-Type boundary includes"):
        parse(CANONICAL, boundary="--b", strict=True)


def test_lf_only_stream_without_content_length() -> None:
    stream = b"--b\nContent-Type: image/jpeg\n\nabc\n--b\n\nd\r\n--b--\n"
    events, deviations = parse(stream)
    assert [p for _, p in parts_of(events)] == [b"abc", b"d"]  # type: ignore[misc]
    assert deviations == {"lf-line-endings", "no-content-length"}


def test_every_deviation_name_is_documented() -> None:
    assert DEVIATIONS.keys() >= RFC_ALLOWED


def test_a_delimiter_split_across_feeds_ends_a_scanned_part() -> None:
    """The held-back tail is the start of the delimiter; the next feed completes it."""
    head = b"--b\r\n\r\n"
    for strict in (False, True):
        parser = MultipartParser("b", strict=strict)
        events = feed_all(parser, [head + b"0123456789\r\n--", b"b--"])
        assert [e for e in events if isinstance(e, PartData) and not e.data] == []
        assert parts_of(events) == [(Headers(), b"0123456789")]


def test_a_scanned_part_may_be_exactly_max_part_bytes() -> None:
    parser = MultipartParser("b", max_part_bytes=10)
    events = feed_all(parser, [b"--b\r\n\r\n0123456789\r\n--b--"])
    assert parts_of(events) == [(Headers(), b"0123456789")]


def test_error_excerpts_are_24_bytes() -> None:
    junk = b"J" * 40
    with pytest.raises(ProtocolError) as error:
        parse(HEAD + b"0123456789" + junk)
    assert f"got {junk[:24]!r} (at byte" in str(error.value)


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (HEAD + b"0123456789", "stream ended after a part, without a boundary"),
        (HEAD + b"0123456789\r\n--b", "stream ended inside a boundary line"),
    ],
)
def test_strict_mode_words_a_stream_that_stops(stream: bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as error:
        parse(stream, strict=True)
    assert str(error.value) == f"{message} (at byte {len(stream)} of the stream)"


def test_factories_keep_their_options() -> None:
    content_type = "multipart/x-mixed-replace; boundary=b"
    for parser in (
        MultipartParser.from_content_type(content_type),
        MultipartParser.from_first_line(b"--b\r\n"),
        MultipartParser("b"),
    ):
        assert (parser.strict, parser.max_header_bytes, parser.max_part_bytes) == (
            False,
            16384,
            32 * 1024 * 1024,
        )
    for parser in (
        MultipartParser.from_content_type(
            content_type, strict=True, max_header_bytes=7, max_part_bytes=9
        ),
        MultipartParser.from_first_line(b"--b\r\n", max_header_bytes=7, max_part_bytes=9),
    ):
        assert (parser.max_header_bytes, parser.max_part_bytes) == (7, 9)
    assert MultipartParser.from_content_type(content_type, strict=True).strict is True
    strict = MultipartParser.from_content_type(content_type, strict=True, max_part_bytes=4)
    with pytest.raises(ProtocolError, match="max_part_bytes=4"):
        feed_all(strict, [b"--b\r\nContent-Length: 5\r\n\r\n"])


def test_strict_scan_ends_only_at_crlf_and_the_boundary() -> None:
    """A held-back tail that starts with the bare token is payload in strict mode."""
    parser = MultipartParser("b", strict=True)
    events = feed_all(parser, [b"--b\r\n\r\n0123456789--bx", b"yz\r\n--b--"])
    assert parts_of(events) == [(Headers(), b"0123456789--bxyz")]


def test_preamble_limit_is_inclusive() -> None:
    def preamble(length: int) -> bytes:
        # The preamble's bytes and the line break before the first delimiter.
        return b"p" * (length - 2) + b"\r\n--b\r\n\r\nx\r\n--b--"

    assert payloads_of(preamble(64), max_header_bytes=64) == [b"x"]
    with pytest.raises(ProtocolError, match="within max_header_bytes=64, got none"):
        payloads_of(preamble(65), max_header_bytes=64)


def payloads_of(stream: bytes, **options: int) -> list[bytes]:
    parser = MultipartParser("b", **options)  # type: ignore[arg-type]
    return [payload for _, payload in parts_of(feed_all(parser, [stream]))]


def test_a_preamble_is_skipped_as_it_comes_keeping_only_what_may_start_a_delimiter() -> None:
    parser = MultipartParser("b")
    parser.feed(b"pp pp")
    assert drain(parser) == []
    assert parser.buffered == 4  # "--b" and a line break before it could still begin here
    for strict in (False, True):  # a delimiter split across feeds
        chunks = [b"pre amble\r\n--", b"b\r\n\r\nx\r\n--b--"]
        events = feed_all(MultipartParser("b", strict=strict), chunks)
        assert [p for _, p in parts_of(events)] == [b"x"]


def test_a_delimiter_right_after_a_preamble_without_a_line_break() -> None:
    events, deviations = parse(b"This is MIME--b\r\n\r\nx\r\n--b--")
    assert [p for _, p in parts_of(events)] == [b"x"]  # type: ignore[misc]
    assert deviations == {"preamble", "no-crlf-before-boundary", "no-content-length"}


def test_a_body_starting_with_a_colon_is_a_preamble() -> None:
    with pytest.raises(ProtocolError, match="expected the boundary b'--b', got the end"):
        parse(b": junk\r\n")


def test_a_header_name_as_long_as_the_limit_waits_to_be_told_apart() -> None:
    parser = MultipartParser("b", max_header_bytes=8)
    with pytest.raises(ProtocolError, match="end of the part headers within max_header_bytes=8"):
        feed_all(parser, [b"X-Abcdef", b": 1\r\n\r\nx\r\n--b--"])


def test_a_one_byte_payload_then_a_boundary_without_its_line_break() -> None:
    stream = b"--b\r\nContent-Length: 1\r\n\r\nx--b--"
    events, deviations = parse(stream)
    assert [p for _, p in parts_of(events)] == [b"x"]  # type: ignore[misc]
    assert deviations == {"no-crlf-before-boundary"}


def test_a_folded_line_continues_the_last_header_and_keeps_its_letters() -> None:
    stream = b"--b\r\nX-A: Xa\r\nX-B: b\r\nX-C: c\r\n Xtra\r\nContent-Length: 0\r\n\r\n\r\n--b--"
    ((headers, _),) = parts_of(parse(stream)[0])  # type: ignore[arg-type]
    assert headers.items == (
        ("X-A", "Xa"),
        ("X-B", "b"),
        ("X-C", "c Xtra"),
        ("Content-Length", "0"),
    )


@pytest.mark.parametrize("line", [b"no colon " * 6, b" " + b"f" * 50])
def test_bad_header_lines_are_quoted_up_to_40_bytes(line: bytes) -> None:
    with pytest.raises(ProtocolError) as error:
        parse(b"--b\r\n" + line + b"\r\n\r\nx\r\n--b--")
    assert f"got {line[:40]!r} (at byte" in str(error.value) or (
        f"continuation line {line[:40]!r} (at byte" in str(error.value)
    )


def test_padded_content_length_is_refused_at_its_value_in_strict_mode() -> None:
    stream = b"--b\r\nContent-Length:   3\r\n\r\nabc\r\n--b--"
    with pytest.raises(ProtocolError, match=r"padded with extra spaces \(at byte 20 of"):
        parse(stream, strict=True)


# -- end of stream --------------------------------------------------------------


def test_close_delimiter_ends_at_once_and_the_epilogue_is_dropped() -> None:
    parser = MultipartParser("b")
    parser.feed(HEAD + b"0123456789\r\n--b--")
    assert isinstance(drain(parser)[-1], StreamEnd)
    parser.feed(b"epilogue " * 1000)
    assert parser.buffered == 0
    assert parser.next_event() == StreamEnd()
    parser.feed(b"")
    assert parser.next_event() == StreamEnd()
    assert parser.deviations == frozenset()


def test_eof_right_after_a_delimiter_line_ends_the_stream_in_both_modes() -> None:
    stream = PartEncoder("b").opening + PartEncoder("b").encode(b"0123456789")
    for strict in (False, True):
        events, deviations = parse(stream, strict=strict)
        assert isinstance(events[-1], StreamEnd)
        assert deviations == {"no-close-delimiter"}


@pytest.mark.parametrize(
    "stream",
    [
        HEAD + b"0123456789",  # a counted part, then nothing
        HEAD + b"0123456789\r\n--b",  # inside the boundary line
        HEAD + b"0123456789\r\n--b  \r",
        HEAD + b"0123456789\r\n--",
    ],
)
def test_eof_after_a_complete_part_is_tolerated_but_not_strict(stream: bytes) -> None:
    events, deviations = parse(stream)
    assert [p for _, p in parts_of(events)] == [b"0123456789"]  # type: ignore[misc]
    assert deviations == {"no-close-delimiter"}
    with pytest.raises(ProtocolError, match="stream ended"):
        parse(stream, strict=True)


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (HEAD + b"012", r"stream ended inside a part, 3 of 10 bytes \(at byte 56 of the stream\)"),
        (b"--b\r\n\r\nabc\r\n--", r"stream ended inside a part, after 7 bytes and before the"),
        (b"--b\r\nContent-Type: ima", "expected the rest of the part headers, got the end"),
        (b"", r"^expected a boundary, got the end of the stream \(at byte 0 "),
        (b"\r\n", "expected a boundary, got the end of the stream"),
        (
            b"preamble only\r\n",
            r"^expected the boundary b'--b', got the end of the stream \(at byte 11 of",
        ),
    ],
)
def test_eof_elsewhere_is_an_error(stream: bytes, message: str) -> None:
    for chunks in ([stream], bytewise(stream)):
        with pytest.raises(ProtocolError, match=message):
            feed_all(MultipartParser("b"), chunks)


def test_feed_after_the_end_is_a_usage_error() -> None:
    parser = MultipartParser("b")
    parser.feed(b"")
    message = r"^feed\(\) called after the end of the stream \(b''\)$"
    with pytest.raises(RuntimeError, match=message):
        parser.feed(b"x")


def test_after_an_error_the_parser_refuses_everything() -> None:
    parser = MultipartParser("b")
    parser.feed(b"--b\r\nbad header\r\n\r\n")
    with pytest.raises(ProtocolError, match="expected a header line") as first:
        parser.next_event()
    with pytest.raises(ProtocolError, match="parser failed earlier: expected a header line"):
        parser.next_event()
    with pytest.raises(ProtocolError, match="parser failed earlier"):
        parser.feed(b"more")
    assert str(first.value).endswith("(at byte 5 of the stream)")


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (b"--b\r\nX-Big: " + b"x" * 100 + b"\r\n\r\n", "part headers within max_header_bytes=64"),
        (b"--b" + b" " * 100 + b"\r\n", "line break after the boundary"),
        (b"\r\n" * 40 + b"--b\r\n", "boundary within max_header_bytes=64, got"),
        (b"p" * 100 + b"\r\n--b\r\n", "expected the boundary b'--b' within max_header_bytes=64"),
        (
            b"--b\r\nContent-Length: 129\r\n\r\n",
            "at most max_part_bytes=128, got Content-Length 129",
        ),
        (
            b"--b\r\n\r\n" + b"x" * 200,
            "boundary within max_part_bytes=128 of a part without Content-Length",
        ),
        (b"--bx\r\n", r"expected a line break after the boundary, got b'x\\r\\n'"),
    ],
)
def test_limits_and_malformed_boundary_lines(stream: bytes, message: str) -> None:
    for chunks in ([stream], bytewise(stream)):
        parser = MultipartParser("b", max_header_bytes=64, max_part_bytes=128)
        with pytest.raises(ProtocolError, match=message):
            feed_all(parser, chunks)
