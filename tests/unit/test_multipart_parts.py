"""The parser's parts on their own: the receive buffer and the deviation policy.

The parser's behaviour is tested through MultipartParser (test_multipart_*);
these pin down the contracts its pieces keep for each other.
"""

from __future__ import annotations

import pytest

from mjpeg_server.wire.deviations import DEVIATIONS, RFC_ALLOWED, DeviationPolicy
from mjpeg_server.wire.events import ProtocolError, StreamEnd
from mjpeg_server.wire.receive_buffer import ReceiveBuffer


def test_feed_stores_without_copying_and_marks_the_end() -> None:
    buf = ReceiveBuffer()
    chunk = b"abc"
    buf.feed(chunk)
    buf.feed(bytearray(b"de"))  # stored as bytes
    assert list(buf.pending) == [b"abc", b"de"]
    assert buf.pending[0] is chunk
    assert type(buf.pending[1]) is bytes
    assert (buf.buffered, buf.eof) == (5, False)
    buf.feed(b"")
    assert (buf.buffered, buf.eof) == (5, True)


def test_pull_moves_one_chunk_at_a_time() -> None:
    buf = ReceiveBuffer()
    assert not buf.pull()
    buf.feed(b"ab")
    buf.feed(b"cd")
    assert buf.pull()
    assert (bytes(buf.data), buf.buffered) == (b"ab", 4)
    assert buf.pull()
    assert bytes(buf.data) == b"abcd"
    assert not buf.pull()


def test_discard_and_take_count_the_stream_offset_and_reset_the_search() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"0123456789")
    buf.pull()
    buf.search = 5
    buf.discard(2)
    assert (bytes(buf.data), buf.consumed, buf.search) == (b"23456789", 2, 0)
    buf.search = 3
    assert buf.take(3) == b"234"
    assert (bytes(buf.data), buf.consumed, buf.search) == (b"56789", 5, 0)
    assert buf.take(5) == b"56789"
    assert (bytes(buf.data), buf.consumed) == (b"", 10)


def test_take_payload_from_the_buffer_first() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"abcdef")
    buf.feed(b"ghi")
    buf.pull()
    assert buf.take_payload(4) == b"abcd"
    assert buf.take_payload(10) == b"ef"  # what the buffer has, not the next chunk yet
    assert buf.consumed == 6


def test_take_payload_passes_a_fed_chunk_on_whole_or_splits_it() -> None:
    buf = ReceiveBuffer()
    assert buf.take_payload(5) is None
    whole, longer = b"abc", b"defghij"
    buf.feed(whole)
    buf.feed(longer)
    assert buf.take_payload(3) is whole  # exactly fits: the same object
    assert buf.take_payload(4) == b"defg"
    assert bytes(buf.data) == b"hij"  # the rest waits in the buffer
    assert (buf.consumed, buf.buffered) == (7, 3)


def test_clear_counts_everything_as_consumed() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"abc")
    buf.pull()
    buf.feed(b"de")
    buf.search = 2
    buf.clear()
    assert (buf.buffered, buf.consumed, buf.search, bytes(buf.data)) == (0, 5, 0, b"")


def policy(strict: bool, consumed: int = 0) -> DeviationPolicy:
    buf = ReceiveBuffer()
    buf.consumed = consumed
    return DeviationPolicy(buf, strict=strict)


def test_tolerant_policy_records_every_deviation() -> None:
    tolerant = policy(strict=False)
    for name in DEVIATIONS:
        tolerant.deviate(name, 0)
    assert tolerant.seen == set(DEVIATIONS)
    assert tolerant.error is None


@pytest.mark.parametrize("name", sorted(DEVIATIONS))
def test_strict_policy_refuses_what_the_rfc_does_not_allow(name: str) -> None:
    strict = policy(strict=True, consumed=100)
    if name in RFC_ALLOWED:
        strict.deviate(name, 7)
        assert strict.seen == {name}
    else:
        with pytest.raises(ProtocolError) as error:
            strict.deviate(name, 7)
        assert str(error.value) == f"strict mode: {DEVIATIONS[name]} (at byte 107 of the stream)"
        assert strict.error == str(error.value)
        assert strict.seen == set()


def test_fail_words_the_offset_in_the_stream_and_remembers_it() -> None:
    failing = policy(strict=False, consumed=40)
    with pytest.raises(ProtocolError, match=r"^broken \(at byte 42 of the stream\)$"):
        failing.fail("broken", 2)
    assert failing.error == "broken (at byte 42 of the stream)"


def test_a_stream_that_just_stops() -> None:
    tolerant = policy(strict=False)
    assert tolerant.end_without_close("after a part", 0) == StreamEnd()
    assert tolerant.seen == {"no-close-delimiter"}
    strict = policy(strict=True, consumed=9)
    with pytest.raises(ProtocolError, match=r"^stream ended after a part \(at byte 12 of"):
        strict.end_without_close("after a part", 3)
    assert strict.seen == set()
