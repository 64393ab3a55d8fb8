"""The multipart parser at its edges: each limit at exactly its value and one
past it, the offset every strict-mode error gives, and what counts as padding
or as a header value's spaces. Exact messages throughout."""

from __future__ import annotations

import pytest
from codec_streams import bytewise, drain, feed_all, merge_data

from mjpeg_server.wire.headers import MAX_TOLERANT_BOUNDARY
from mjpeg_server.wire.multipart import (
    Headers,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    ProtocolError,
    StreamEnd,
)

X_PART = [PartStart(Headers()), PartData(b"x"), PartEnd(), StreamEnd()]


def events(
    chunks: list[bytes], boundary: str = "b", *, eof: bool = True, **options: int | bool
) -> list[object]:
    parser = MultipartParser(boundary, **options)  # type: ignore[arg-type]
    return list(merge_data(feed_all(parser, chunks, eof=eof)))


def error(
    chunks: list[bytes], boundary: str = "b", *, eof: bool = True, **options: int | bool
) -> str:
    with pytest.raises(ProtocolError) as raised:
        events(chunks, boundary, eof=eof, **options)
    return str(raised.value)


# -- where strict mode says a deviation is ------------------------------------------

AFTER_X = b"--b\r\nContent-Length: 1\r\n\r\nx"  # 27 bytes: the next byte is at 27


@pytest.mark.parametrize(
    ("rest", "deviation"),
    [
        (b"\n--b--", "lines end in LF instead of CRLF"),
        (b"--b--", "a boundary directly after a payload, without its CRLF"),
        (b"\r\n\r\n--b--", "extra line breaks between a payload and the next boundary"),
    ],
)
def test_strict_mode_points_at_the_line_breaks_before_a_boundary(
    rest: bytes, deviation: str
) -> None:
    message = error([AFTER_X + rest], strict=True)
    assert message == f"strict mode: {deviation} (at byte 27 of the stream)"


def test_strict_mode_points_at_a_header_line_s_lf() -> None:
    message = error([b"--b\r\nX-A: 1\n\r\nx\r\n--b--"], strict=True)
    assert message == "strict mode: lines end in LF instead of CRLF (at byte 11 of the stream)"


def test_the_end_of_the_stream_inside_a_header_block() -> None:
    message = error([b"--b\r\nX-A: 1\r\n"])
    assert message == (
        "expected the rest of the part headers, got the end of the stream "
        "(at byte 13 of the stream)"
    )


# -- a run of line breaks, and the boundary after a part ----------------------------


def test_a_run_of_line_breaks_may_be_exactly_max_header_bytes() -> None:
    assert events([b"\r\n" * 32 + b"--b\r\n\r\nx\r\n--b--"], max_header_bytes=64) == X_PART
    assert error([b"\r\n" * 32 + b"\n--b\r\n"], max_header_bytes=64) == (
        "expected a boundary within max_header_bytes=64, got 65 bytes of line breaks "
        "(at byte 65 of the stream)"
    )


def test_headers_after_line_breaks_at_the_start_are_a_missing_first_boundary() -> None:
    parser = MultipartParser("b")
    got = merge_data(feed_all(parser, [b"\r\nContent-Length: 1\r\n\r\nx\r\n--b--"]))
    assert got == [
        PartStart(Headers((("Content-Length", "1"),))),
        PartData(b"x"),
        PartEnd(),
        StreamEnd(),
    ]
    assert parser.deviations == {"missing-first-boundary"}


@pytest.mark.parametrize(("boundary", "token"), [("boundary", "--boundary"), ("--x", "----x")])
def test_bytes_after_a_part_too_few_for_a_boundary_and_not_its_start_are_refused_at_once(
    boundary: str, token: str
) -> None:
    head = f"--{boundary}\r\nContent-Length: 1\r\n\r\nx".encode()
    message = error([head + b"y"], boundary, eof=False)  # no more bytes needed to tell
    assert message == (
        f"expected the boundary {token.encode()!r} after a part, got b'y' "
        f"(at byte {len(head)} of the stream)"
    )


# -- the rest of a delimiter line ---------------------------------------------------


def test_a_delimiter_line_may_reach_max_header_bytes_before_its_line_break() -> None:
    # 8 bytes after the token, no line break yet: not over the limit; the line
    # break then comes at offset 8: not over it either.
    chunks = [b"--b" + b" " * 7 + b"\r", b"\n\r\nx\r\n--b--"]
    assert events(chunks, max_header_bytes=8) == X_PART
    assert error([b"--b" + b" " * 8 + b"\r\n"], max_header_bytes=8) == (
        "expected a line break after the boundary, got b'        \\r\\n' (at byte 3 of the stream)"
    )


def test_a_line_break_right_after_the_token_is_no_overflow() -> None:
    # More than max_header_bytes buffered, but the line break is the first byte.
    assert events([b"--b\n\nx\r\n--b--"], max_header_bytes=8) == X_PART


def test_a_close_delimiter_fed_byte_by_byte_needs_no_header_room() -> None:
    assert events(bytewise(b"--b--"), max_header_bytes=0) == [StreamEnd()]


@pytest.mark.parametrize(
    ("line", "excerpt"),
    [
        (b"\t" + b" " * 100 + b"\r\n", "b'\\t" + " " * 23 + "'"),  # over the limit
        (b"x\r\n", "b'x\\r\\n'"),  # not padding
        (
            b"\x0b\r\n\r\nx\r\n--b--",
            "b'\\x0b\\r\\n\\r\\nx\\r\\n--b--'",
        ),  # padding is SP and HT only
        (b"X\r\n\r\nx\r\n--b--", "b'X\\r\\n\\r\\nx\\r\\n--b--'"),
    ],
)
def test_what_follows_a_boundary_token_is_quoted_from_its_first_byte(
    line: bytes, excerpt: str
) -> None:
    assert error([b"--b" + line], max_header_bytes=64) == (
        f"expected a line break after the boundary, got {excerpt} (at byte 3 of the stream)"
    )


# -- header blocks -------------------------------------------------------------------

BLOCK = b"--b\r\nX-A: 1\r\nX-B: 2\r\n\r\nx\r\n--b--"  # a header block of 18 bytes


def test_a_header_block_may_be_exactly_max_header_bytes() -> None:
    headers = Headers((("X-A", "1"), ("X-B", "2")))
    assert events([BLOCK], max_header_bytes=18) == [
        PartStart(headers), PartData(b"x"), PartEnd(), StreamEnd(),
    ]  # fmt: skip
    assert error([BLOCK], max_header_bytes=17) == (
        "expected the end of the part headers within max_header_bytes=17, got more "
        "(at byte 22 of the stream)"
    )


def test_short_header_lines_add_up_to_the_limit() -> None:
    stream = b"--b\r\n" + b"X-A: 1\r\n" * 3 + b"\r\nx\r\n--b--"
    assert error([stream], max_header_bytes=16) == (
        "expected the end of the part headers within max_header_bytes=16, got more "
        "(at byte 28 of the stream)"
    )


def test_a_header_line_still_coming_counts_against_the_limit() -> None:
    # Refused as soon as it is over, before its line break comes.
    assert error([b"--b\r\nX-Long: " + b"a" * 20], eof=False, max_header_bytes=16) == (
        "expected the end of the part headers within max_header_bytes=16, got more "
        "(at byte 33 of the stream)"
    )
    # Lines already parsed count once: 8 bytes of them and 12 still coming are
    # exactly the limit, not over it.
    assert events([b"--b\r\nX-A: 1\r\nX-B: 1234567"], eof=False, max_header_bytes=20) == []


def test_a_blank_lf_line_is_the_end_of_the_headers_whatever_ends_the_buffer() -> None:
    # The headers' blank line is an LF alone, and the bytes fed so far end in a CR.
    assert events([b"--b\r\n\nx\r", b"\n--b--"]) == X_PART


def test_header_values_lose_only_spaces_and_tabs_around_them() -> None:
    got = events([b"--b\r\nX-A: \x0ba\x0b\r\nX-B: b\r\n \x0cc\x0c \r\n\r\nx\r\n--b--"])
    assert got[0] == PartStart(Headers((("X-A", "\x0ba\x0b"), ("X-B", "b \x0cc\x0c"))))


def test_content_length_may_be_exactly_max_part_bytes() -> None:
    stream = b"--b\r\nContent-Length: 4\r\n\r\nabcd\r\n--b--"
    assert events([stream], max_part_bytes=4)[1] == PartData(b"abcd")


# -- the boundary, and what a scan holds back ----------------------------------------


def test_a_tolerant_boundary_may_be_exactly_the_longest() -> None:
    boundary = "q" * MAX_TOLERANT_BOUNDARY
    stream = f"--{boundary}\r\n\r\nx\r\n--{boundary}--".encode()
    assert events([stream], boundary) == X_PART
    with pytest.raises(ProtocolError, match="1-256 printable characters"):
        MultipartParser(boundary + "q")


def test_a_scan_for_a_boundary_with_dashes_holds_back_the_needle_and_four_bytes() -> None:
    # Header "--x", body "----x": the scan looks for "--x" and keeps back what a
    # partial one (2 bytes) and the "--" and CRLF before it (4) could be.
    parser = MultipartParser("--x")
    parser.feed(b"--x\r\n\r\n" + b"p" * 100)
    got = merge_data(drain(parser))
    assert got == [PartStart(Headers()), PartData(b"p" * 94)]
    assert parser.buffered == 6
