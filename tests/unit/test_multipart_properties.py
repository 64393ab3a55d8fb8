"""Property tests of the multipart parser: round trips, chunking, bounds, fuzzing."""

from __future__ import annotations

import pytest
from codec_streams import (
    BOUNDARIES,
    HEADER_LISTS,
    Dialect,
    Part,
    bytewise,
    dialects,
    drain,
    feed_all,
    merge_data,
    parts_of,
    payloads,
    split,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from mjpeg_server.wire.multipart import (
    NEED_DATA,
    RFC_ALLOWED,
    Event,
    MultipartParser,
    PartData,
    PartEncoder,
    PartEnd,
    PartStart,
    ProtocolError,
    StreamEnd,
)

# More examples than the profile's default where the input space is large; scaled
# with the profile (200 and 300 by default; fewer under "mutation", which runs
# these tests once per surviving mutant).
MANY = 2 * settings.default.max_examples
MOST = 3 * settings.default.max_examples

CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)
PARTS = st.lists(st.tuples(HEADER_LISTS, payloads()), max_size=4)


def parse(
    boundary: str, chunks: list[bytes], *, strict: bool = False
) -> tuple[list[Event], frozenset[str]]:
    parser = MultipartParser(boundary, strict=strict)
    events = merge_data(feed_all(parser, chunks))
    return events, parser.deviations


def outcome(boundary: str, chunks: list[bytes]) -> tuple[list[Event], frozenset[str]] | str:
    """Events and deviations, or "error" (the message's offset may depend on chunking)."""
    try:
        return parse(boundary, chunks)
    except ProtocolError:
        return "error"


@given(boundary=BOUNDARIES, parts=PARTS, headers=HEADER_LISTS, cuts=CUTS)
def test_encoder_round_trip(
    boundary: str, parts: list[Part], headers: tuple[tuple[str, str], ...], cuts: list[int]
) -> None:
    """Whatever PartEncoder writes, both parser modes give back exactly, in any chunking.

    Payloads may contain the delimiter: Content-Length frames them.
    """
    encoder = PartEncoder(boundary)
    stream = encoder.opening + b"".join(encoder.encode(payload, extra) for extra, payload in parts)
    for strict in (False, True):
        events, deviations = parse(boundary, split(stream, cuts), strict=strict)
        assert [(h.items, p) for h, p in parts_of(events)] == [
            (
                (
                    ("Content-Type", "image/jpeg"),
                    ("Content-Length", str(len(payload))),
                    *extra,
                ),
                payload,
            )
            for extra, payload in parts
        ]
        assert isinstance(events[-1], StreamEnd)
        assert deviations == {"no-close-delimiter"}


@settings(max_examples=MANY)
@given(boundary=BOUNDARIES, dialect=dialects(), parts=PARTS, cuts=CUTS)
def test_every_tolerated_deviation_round_trips(
    boundary: str, dialect: Dialect, parts: list[Part], cuts: list[int]
) -> None:
    """Any mix of deviations parses to the parts sent and reports exactly those deviations."""
    assume(dialect.can_frame(boundary, parts))
    stream = dialect.build(boundary, parts)
    events, deviations = parse(dialect.parser_boundary(boundary), split(stream, cuts))
    assert parts_of(events) == [
        (dialect.expected_headers(headers, payload), payload) for headers, payload in parts
    ]
    assert isinstance(events[-1], StreamEnd)
    assert deviations == dialect.expected_deviations(parts)


@given(boundary=BOUNDARIES, dialect=dialects(), parts=PARTS)
def test_strict_mode_rejects_exactly_the_deviations_the_rfc_does_not_allow(
    boundary: str, dialect: Dialect, parts: list[Part]
) -> None:
    assume(dialect.can_frame(boundary, parts))
    # Without Content-Length, "x--b" then an empty part ("headers CRLF CRLF--b") is
    # an RFC-valid stream with other parts: the strict scan rightly reads it so.
    assume(
        dialect.content_length
        or not dialect.no_crlf_before_boundary
        or all(payload for _, payload in parts)
    )
    stream = dialect.build(boundary, parts)
    expected = dialect.expected_deviations(parts)
    if expected - RFC_ALLOWED:
        with pytest.raises(ProtocolError):
            parse(dialect.parser_boundary(boundary), [stream], strict=True)
    else:
        _, deviations = parse(dialect.parser_boundary(boundary), [stream], strict=True)
        assert deviations == expected


@settings(max_examples=MANY)
@given(boundary=BOUNDARIES, dialect=dialects(), parts=PARTS, cuts=CUTS)
def test_split_invariance(
    boundary: str, dialect: Dialect, parts: list[Part], cuts: list[int]
) -> None:
    """Whole, cut anywhere, or byte at a time: the same events after merging data."""
    stream = dialect.build(boundary, parts)
    header_boundary = dialect.parser_boundary(boundary)
    whole = outcome(header_boundary, [stream])
    assert outcome(header_boundary, split(stream, cuts)) == whole
    assert outcome(header_boundary, bytewise(stream)) == whole


@given(
    boundary=BOUNDARIES,
    parts=st.lists(payloads(), min_size=1, max_size=3),
    cuts=CUTS,
    max_header_bytes=st.integers(min_value=1, max_value=200),
)
def test_memory_bound_after_every_feed(
    boundary: str, parts: list[bytes], cuts: list[int], max_header_bytes: int
) -> None:
    """Drained, the parser holds at most max_header_bytes + len(boundary) + 3 bytes."""
    dialect = Dialect(content_length=False, preamble=b"pre\r\n")
    assume(all(dialect.representable(boundary, payload) for payload in parts))
    stream = dialect.build(boundary, [((), payload) for payload in parts])
    parser = MultipartParser(boundary, max_header_bytes=max_header_bytes)
    bound = max_header_bytes + len(boundary) + 3
    for chunk in split(stream, cuts):
        parser.feed(chunk)
        try:
            drain(parser)
        except ProtocolError as exc:
            message = str(exc)
            break
        assert parser.buffered <= bound
    else:
        return
    assert "max_header_bytes" in message


@given(boundary=BOUNDARIES, parts=st.lists(payloads(), min_size=1, max_size=3), cuts=CUTS)
def test_content_length_payload_leaves_at_once_and_part_ends_with_its_last_byte(
    boundary: str, parts: list[bytes], cuts: list[int]
) -> None:
    """No byte of a counted payload waits, and PartEnd never waits for the next boundary."""
    encoder = PartEncoder(boundary)
    stream = encoder.opening
    spans = []  # where each payload is in the stream
    for payload in parts:
        part = encoder.encode(payload)
        start = len(stream) + part.index(b"\r\n\r\n") + 4
        spans.append((start, start + len(payload)))
        stream += part
    parser = MultipartParser(boundary)
    events: list[Event] = []
    offset = 0
    for chunk in split(stream, cuts + [end for _, end in spans]):
        parser.feed(chunk)
        offset += len(chunk)
        events += drain(parser)
        assert sum(isinstance(e, PartEnd) for e in events) == sum(end <= offset for _, end in spans)
        received = b"".join(e.data for e in events if isinstance(e, PartData))
        assert received == b"".join(stream[start : min(end, offset)] for start, end in spans)


@given(boundary=BOUNDARIES, payload=payloads(2000), cuts=CUTS, strict=st.booleans())
def test_scan_holds_back_at_most_a_delimiter(
    boundary: str, payload: bytes, cuts: list[int], strict: bool
) -> None:
    """Without Content-Length, all but len(boundary) + 3 fed payload bytes leave at once."""
    dialect = Dialect(content_length=False)
    assume(dialect.representable(boundary, payload))
    head = b"--" + boundary.encode() + b"\r\nContent-Type: image/jpeg\r\n\r\n"
    parser = MultipartParser(boundary, strict=strict)
    received = 0
    fed = 0
    for chunk in split(payload, cuts):
        parser.feed(head + chunk if not fed else chunk)
        fed += len(chunk)
        received += sum(len(e.data) for e in drain(parser) if isinstance(e, PartData))
        assert fed - len(boundary) - 3 <= received <= fed


def test_scan_hold_back_bound_is_reached() -> None:
    """The bound above is exact: len(boundary) + 3 bytes wait for the next feed."""
    parser = MultipartParser("b")
    parser.feed(b"--b\r\n\r\n0123456789")
    assert drain(parser)[1:] == [PartData(b"012345")]
    assert parser.buffered == len("b") + 3


@settings(max_examples=MOST)
@given(data=st.binary(max_size=400), boundary=st.sampled_from(["b", "--b", "frame"]), cuts=CUTS)
def test_fuzz_arbitrary_bytes_give_events_or_protocol_error(
    data: bytes, boundary: str, cuts: list[int]
) -> None:
    for strict in (False, True):
        parser = MultipartParser(boundary, strict=strict, max_header_bytes=64, max_part_bytes=256)
        try:
            events = feed_all(parser, split(data, cuts))
        except ProtocolError:
            with pytest.raises(ProtocolError):
                parser.next_event()
            continue
        assert all(isinstance(e, PartStart | PartData | PartEnd | StreamEnd) for e in events)
        assert isinstance(events[-1], StreamEnd)


@given(
    boundary=st.sampled_from(["b", "--b", "frame"]),
    dialect=dialects(),
    parts=PARTS,
    edits=st.lists(
        st.tuples(st.integers(0, 10_000), st.binary(max_size=3)), min_size=1, max_size=3
    ),
    cuts=CUTS,
)
def test_fuzz_mutated_streams(
    boundary: str,
    dialect: Dialect,
    parts: list[Part],
    edits: list[tuple[int, bytes]],
    cuts: list[int],
) -> None:
    """Valid streams with bytes replaced: still events or ProtocolError, chunking-invariant."""
    stream = bytearray(dialect.build(boundary, parts))
    for offset, replacement in edits:
        at = offset % (len(stream) + 1)
        stream[at : at + len(replacement)] = replacement
    mutated = bytes(stream)
    header_boundary = dialect.parser_boundary(boundary)
    assert outcome(header_boundary, split(mutated, cuts)) == outcome(header_boundary, [mutated])


class EventGrammar(RuleBasedStateMachine):
    """Feed a (possibly corrupted) stream in steps; events always obey the grammar.

    ``(PartStart PartData* PartEnd)* StreamEnd?``, and after a ProtocolError the
    parser refuses everything.
    """

    @initialize(
        boundary=st.sampled_from(["b", "--b", "mjpegframe"]),
        dialect=dialects(),
        parts=PARTS,
        corrupt=st.one_of(
            st.none(), st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=2))
        ),
        strict=st.booleans(),
    )
    def start(
        self,
        boundary: str,
        dialect: Dialect,
        parts: list[Part],
        corrupt: tuple[int, bytes] | None,
        strict: bool,
    ) -> None:
        stream = bytearray(dialect.build(boundary, parts))
        if corrupt is not None:
            at = corrupt[0] % (len(stream) + 1)
            stream[at : at + len(corrupt[1])] = corrupt[1]
        self.stream = bytes(stream)
        self.boundary = dialect.parser_boundary(boundary)
        self.parser = MultipartParser(self.boundary, strict=strict, max_header_bytes=256)
        self.bound = 256 + len(self.boundary) + 3
        self.fed = 0
        self.eof = False
        self.failed = False
        self.in_part = False
        self.ended = False

    @precondition(lambda self: not self.eof and not self.failed)
    @rule(n=st.integers(min_value=1, max_value=64))
    def feed(self, n: int) -> None:
        chunk = self.stream[self.fed : self.fed + n]
        self.fed += len(chunk)
        self.eof = not chunk
        self.parser.feed(chunk)

    @precondition(lambda self: not self.failed and not self.ended)
    @rule(n=st.integers(min_value=1, max_value=8))
    def next_events(self, n: int) -> None:
        for _ in range(n):
            try:
                event = self.parser.next_event()
            except ProtocolError:
                self.failed = True
                return
            if event is NEED_DATA:
                assert not self.eof, "NEED_DATA after the end of the stream"
                assert self.parser.buffered <= self.bound
                return
            self.check(event)
            if self.ended:
                return

    def check(self, event: Event) -> None:
        if isinstance(event, PartStart):
            assert not self.in_part
            self.in_part = True
        elif isinstance(event, PartData):
            assert self.in_part
            assert event.data
        elif isinstance(event, PartEnd):
            assert self.in_part
            self.in_part = False
        else:
            assert not self.in_part
            self.ended = True

    @precondition(lambda self: self.ended)
    @rule()
    def stream_end_repeats(self) -> None:
        assert isinstance(self.parser.next_event(), StreamEnd)

    @precondition(lambda self: self.failed)
    @rule(data=st.binary(max_size=4))
    def refuses_after_error(self, data: bytes) -> None:
        with pytest.raises(ProtocolError, match="failed earlier"):
            self.parser.feed(data)
        with pytest.raises(ProtocolError, match="failed earlier"):
            self.parser.next_event()

    @invariant()
    def holds_no_more_than_it_was_fed(self) -> None:
        if hasattr(self, "parser") and not self.failed:
            assert self.parser.buffered <= self.fed


TestEventGrammar = EventGrammar.TestCase
TestEventGrammar.settings = settings(max_examples=60, stateful_step_count=40)
