"""The HTTP/1 response reader (wire.http1): head, and each body framing, whole and byte by byte."""

from __future__ import annotations

import pytest
from codec_streams import bytewise

from mjpeg_server.wire.http1 import (
    MAX_CHUNK_LINE,
    ChunkedDecoder,
    CloseDelimitedDecoder,
    LengthDecoder,
    ResponseError,
    ResponseHead,
    ResponseHeadReader,
    body_decoder,
)

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=b\r\nX-A: 1\r\n"


def read_head(chunks: list[bytes], max_head: int = 64 * 1024) -> tuple[ResponseHead, bytes]:
    reader = ResponseHeadReader(max_head)
    for index, chunk in enumerate(chunks):
        got = reader.feed(chunk)
        if got is not None:
            head, rest = got
            return head, rest + b"".join(chunks[index + 1 :])
    raise AssertionError("the head never ended")


@pytest.mark.parametrize("blank", [b"\r\n", b"\n"])
@pytest.mark.parametrize("split", [False, True])
def test_head_ends_at_the_first_blank_line(blank: bytes, split: bool) -> None:
    data = HEAD.replace(b"\r\n", blank) + blank + b"--b\r\n\r\n\r\n"
    head, rest = read_head(bytewise(data) if split else [data])
    assert (head.status, head.reason) == (200, "OK")
    assert head.headers == {
        "content-type": "multipart/x-mixed-replace;boundary=b",
        "x-a": "1",
    }
    assert rest == b"--b\r\n\r\n\r\n"


def test_a_blank_line_of_mixed_line_breaks_ends_the_head() -> None:
    head, rest = read_head([b"HTTP/1.0 200 OK\nX-A: 1\n\r\nbody"])
    assert head.headers == {"x-a": "1"}
    assert rest == b"body"


def test_a_header_value_may_hold_colons() -> None:
    head = ResponseHead.parse(b"HTTP/1.1 302 Found\r\nLocation: http://cam:8080/x")
    assert head.headers == {"location": "http://cam:8080/x"}


def test_what_a_bad_status_line_says() -> None:
    line = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3 and then some more"
    with pytest.raises(ResponseError) as error:
        ResponseHead.parse(line)
    assert str(error.value) == f"expected an HTTP status line, got {line[:40].decode()!r}"


@pytest.mark.parametrize(
    "feeds", [[b"\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"], [b"\r\n", b"\r\nHTTP/1.1 200 OK\r\n\r\n"]]
)
def test_a_blank_line_at_the_very_start_ends_an_empty_head(feeds: list[bytes]) -> None:
    reader = ResponseHeadReader()
    for data in feeds[:-1]:
        assert reader.feed(data) is None
    with pytest.raises(ResponseError, match=r"got ''$"):
        reader.feed(feeds[-1])


def test_header_names_in_lower_case_and_the_first_value_wins() -> None:
    head = ResponseHead.parse(
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nretry-after: 9"
    )
    assert (head.status, head.reason, head.headers) == (
        503,
        "Service Unavailable",
        {"retry-after": "5"},
    )


def test_a_status_line_without_reason() -> None:
    assert ResponseHead.parse(b"HTTP/1.1 204").reason == ""


@pytest.mark.parametrize(
    "line",
    [
        b"SSH-2.0-OpenSSH_9.2",
        b"HTTP/1.1 OK",
        b"HTTP/1.1 20 OK",
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1 \xb2\xb2\xb2 x",
        b"",
    ],
)
def test_not_a_status_line(line: bytes) -> None:
    with pytest.raises(ResponseError, match="expected an HTTP status line, got"):
        ResponseHead.parse(line)


def test_a_head_longer_than_the_limit() -> None:
    exactly = ResponseHeadReader(max_head=64)
    assert exactly.feed(b"x" * 64) is None  # the limit itself is allowed
    reader = ResponseHeadReader(max_head=64)
    assert reader.feed(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 7) is None  # 59 bytes: may go on
    with pytest.raises(ResponseError, match="no end of the response headers in 64 bytes"):
        reader.feed(b"X: y\r\n")


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({"transfer-encoding": "chunked"}, ChunkedDecoder),
        ({"transfer-encoding": "gzip, Chunked", "content-length": "5"}, ChunkedDecoder),
        ({"content-length": "5"}, LengthDecoder),
        ({"content-length": "+5"}, CloseDelimitedDecoder),
        ({"content-length": "\u00b2"}, CloseDelimitedDecoder),
        ({}, CloseDelimitedDecoder),
    ],
)
def test_body_framing(headers: dict[str, str], kind: type) -> None:
    decoder = body_decoder(ResponseHead(200, "OK", headers))
    assert type(decoder) is kind
    assert decoder.done is False


def test_a_counted_body_has_the_header_s_length() -> None:
    decoder = body_decoder(ResponseHead(200, "OK", {"content-length": "12"}))
    assert decoder.feed(b"0123456789abcdef") == [b"0123456789ab"]
    assert decoder.done is True


def test_close_delimited_body_is_all_of_it_and_never_done() -> None:
    decoder = CloseDelimitedDecoder()
    assert decoder.feed(b"abc") == [b"abc"]
    assert decoder.feed(b"") == []
    assert not decoder.done


@pytest.mark.parametrize("split", [False, True])
def test_length_body_ends_with_its_length(split: bool) -> None:
    decoder = LengthDecoder(5)
    data = b"01234 and what follows"
    out = [
        piece for chunk in (bytewise(data) if split else [data]) for piece in decoder.feed(chunk)
    ]
    assert b"".join(out) == b"01234"
    assert all(out)
    assert decoder.done


def test_an_empty_length_body_is_done_at_once() -> None:
    assert LengthDecoder(0).done
    assert not LengthDecoder(1).done


def chunk(data: bytes, extension: bytes = b"") -> bytes:
    return b"%X%s\r\n%s\r\n" % (len(data), extension, data)


CHUNKED = chunk(b"hello ") + chunk(b"world", b";name=value") + b"0\r\nTrailer: x\r\n\r\nafter"


@pytest.mark.parametrize("split", [False, True])
def test_chunked_body(split: bool) -> None:
    decoder = ChunkedDecoder()
    out: list[bytes] = []
    for piece in bytewise(CHUNKED) if split else [CHUNKED]:
        out += decoder.feed(piece)
    assert b"".join(out) == b"hello world"
    assert all(out)
    assert decoder.done


def test_chunk_data_is_passed_on_without_a_copy_when_it_is_the_whole_read() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"5\r\n") == []
    data = b"abcde"
    (piece,) = decoder.feed(data)
    assert piece is data


def test_chunked_lines_may_end_in_lf_and_sizes_in_any_case() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"a\nabcdefghij\nA\r\nABCDEFGHIJ\r\n0\n\n") == [
        b"abcdefghij",
        b"ABCDEFGHIJ",
    ]
    assert decoder.done


def test_chunk_sizes_are_hexadecimal() -> None:
    decoder = ChunkedDecoder()
    data = b"1" * 16 + b"2" * 16
    assert b"".join(decoder.feed(b"20\r\n" + data + b"\r\n0\r\n\r\n")) == data
    assert decoder.done


def test_chunk_data_continued_in_the_next_read() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"5\r\nab") == [b"ab"]
    assert decoder.feed(b"cde\r\n0\r\n\r\n") == [b"cde"]
    assert decoder.done


def test_a_read_that_starts_with_a_bare_line_feed() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"3\nabc") == [b"abc"]
    assert decoder.feed(b"\n0\n\n") == []
    assert decoder.done


def test_a_long_line_is_measured_from_where_it_starts() -> None:
    decoder = ChunkedDecoder()
    chunk_data = b"x" * 200
    line = b"1;" + b"e" * (MAX_CHUNK_LINE - 2)  # the longest allowed, still incomplete
    assert decoder.feed(b"C8\r\n" + chunk_data + b"\r\n" + line) == [chunk_data]
    assert decoder.feed(b"\r\nz\r\n") == [b"z"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"zz\r\n", "bad chunk size line b'zz'"),
        (b"X5\r\n", "bad chunk size line b'X5'"),
        (b"5\x0b\r\n", "bad chunk size line"),  # only spaces and tabs are padding
        (b"3\r\nabc  \r\n", "expected CRLF after a chunk, got b'  '"),
        (b"\r\n", "bad chunk size line b''"),
        (b"-1\r\n", "bad chunk size line"),
        (b"1" * 17 + b"\r\n", "bad chunk size line"),
        (b"3\r\nabcX\r\n", "expected CRLF after a chunk, got b'X'"),
        (b"1" * (MAX_CHUNK_LINE + 1), f"a line of more than {MAX_CHUNK_LINE} bytes"),
    ],
)
def test_bad_chunked_bodies(data: bytes, message: str) -> None:
    with pytest.raises(ResponseError, match=message):
        ChunkedDecoder().feed(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"g" * 30 + b"\r\n", f"chunked body: bad chunk size line {b'g' * 20!r}"),
        (
            b"1\r\nx" + b"y" * 30 + b"\r\n",
            f"chunked body: expected CRLF after a chunk, got {b'y' * 20!r}",
        ),
    ],
)
def test_chunked_errors_quote_20_bytes(data: bytes, message: str) -> None:
    with pytest.raises(ResponseError) as error:
        ChunkedDecoder().feed(data)
    assert str(error.value) == message


def test_a_chunk_line_of_exactly_the_limit_waits_for_more() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"1;" + b"x" * (MAX_CHUNK_LINE - 2)) == []
    assert decoder.feed(b"\r\nx\r\n") == [b"x"]
