"""The socket fan-out over real loopback TCP connections.

Each test hands the server end of a connection to a :class:`FanOut` (as the
app does with a connection it accepted) and reads the client end with the kit's
parser.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

import pytest

from mjpeg_server.cameras.emulated import EmulatedCamera
from mjpeg_server.hub import CaptureHub, HubSettings
from mjpeg_server.server.fanout import SENDFILE_FROM, UNSENT_LIMIT, FanOut, FanOutClient
from mjpeg_server.wire.multipart import (
    NEED_DATA,
    MultipartParser,
    PartData,
    PartEncoder,
    PartEnd,
    PartStart,
)
from support.fixtures import FRAMES
from support.waiting import LIVENESS, wait_until

ENCODER = PartEncoder("fanouttest")
HEAD = b"HTTP/1.1 200 OK\r\n\r\n"


class Reader:
    """The client end of a connection: reads and parses what the fan-out sends."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(LIVENESS)
        self.parser = MultipartParser("fanouttest")
        self.head = b""
        self._payload = bytearray()

    def read_head(self) -> bytes:
        data = b""
        while len(data) < len(HEAD):
            data += self.sock.recv(len(HEAD) - len(data))
        self.head = data
        return data

    def next_part(self) -> tuple[int, bytes]:
        """(X-Frame-Seq, JPEG) of the next whole part."""
        seq = -1
        while True:
            event = self.parser.next_event()
            if event is NEED_DATA:
                data = self.sock.recv(65536)
                self.parser.feed(data)
                if not data:
                    raise EOFError
            elif isinstance(event, PartStart):
                seq = int(event.headers.get("X-Frame-Seq", "-1"))
                self._payload.clear()
            elif isinstance(event, PartData):
                self._payload += event.data
            elif isinstance(event, PartEnd):
                return seq, bytes(self._payload)
            else:
                raise EOFError

    def at_eof(self) -> bool:
        """True once the fan-out has shut the connection down (bytes in flight are skipped)."""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return True


@pytest.fixture
def fanout() -> Iterator[FanOut]:
    fanout = FanOut(heartbeat_interval=0.2)
    yield fanout
    fanout.close()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def connect(listener: socket.socket, *, rcvbuf: int | None = None) -> tuple[Reader, socket.socket]:
    client = socket.socket()
    if rcvbuf is not None:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    client.connect(listener.getsockname())
    server_side, _ = listener.accept()
    return Reader(client), server_side


def hub_for(camera: EmulatedCamera, **settings: float | None) -> CaptureHub:
    return CaptureHub(camera, ENCODER, settings=HubSettings(**settings))  # type: ignore[arg-type]


def add(
    fanout: FanOut, server_side: socket.socket, hub: CaptureHub, finished: list[FanOutClient]
) -> FanOutClient:
    return fanout.add(server_side, hub, hub.subscribe(), HEAD + ENCODER.opening, finished.append)


def test_head_then_the_shared_parts(fanout: FanOut, listener: socket.socket) -> None:
    finished: list[FanOutClient] = []
    with hub_for(EmulatedCamera(FRAMES, fps=50)) as hub:
        reader, server_side = connect(listener)
        add(fanout, server_side, hub, finished)
        assert reader.read_head() == HEAD
        parts = [reader.next_part() for _ in range(5)]
        seqs = [seq for seq, _ in parts]
        assert seqs == sorted(set(seqs))
        for seq, jpeg in parts:
            assert jpeg == FRAMES[seq % 3]
        assert hub.status().clients == 1
        assert hub.status().frames_sent >= 5


def test_a_reader_that_stops_never_holds_up_the_others(
    fanout: FanOut, listener: socket.socket
) -> None:
    finished: list[FanOutClient] = []
    with hub_for(EmulatedCamera(FRAMES, fps=100)) as hub:
        stuck_reader, stuck_side = connect(listener, rcvbuf=4096)
        stuck = add(fanout, stuck_side, hub, finished)
        reader, server_side = connect(listener)
        add(fanout, server_side, hub, finished)
        reader.read_head()
        # The stuck client reads nothing; its socket fills and it starts lagging.
        wait_until(lambda: stuck.lagging, LIVENESS)
        seqs = [reader.next_part()[0] for _ in range(100)]
        assert seqs == sorted(set(seqs))
        assert stuck.lagging
        # When it reads again, the stale frames it gets first are only what fits
        # in UNSENT_LIMIT plus its own receive buffer (Linux doubles the 4 KiB
        # asked for; 64 KiB is a generous bound), not seconds of video: then it
        # jumps to a fresh frame.
        stuck_reader.read_head()
        previous, jpeg = stuck_reader.next_part()
        stale_bytes = 0
        while True:
            seq, next_jpeg = stuck_reader.next_part()
            if seq > previous + 1:
                break
            stale_bytes += len(jpeg)
            previous, jpeg = seq, next_jpeg
        assert stale_bytes <= UNSENT_LIMIT + 64 * 1024
        assert stuck.subscription.frames_skipped > 0
        assert not finished


def test_hang_up_is_noticed_without_any_write(fanout: FanOut, listener: socket.socket) -> None:
    """F9: a camera that delivers nothing means no writes; the hang-up must still be seen."""
    finished: list[FanOutClient] = []
    with hub_for(EmulatedCamera(FRAMES, fps=50, stall_after=0), stall_timeout=60) as hub:
        reader, server_side = connect(listener)
        client = add(fanout, server_side, hub, finished)
        reader.read_head()
        assert hub.clients == 1
        reader.sock.close()
        assert client.finished.wait(LIVENESS)
        assert finished == [client]
        assert client.reason == "client left"
        assert hub.clients == 0


def test_heartbeat_repeats_the_newest_frame_while_the_camera_is_quiet(
    fanout: FanOut, listener: socket.socket
) -> None:
    finished: list[FanOutClient] = []
    with hub_for(EmulatedCamera(FRAMES, fps=1 / 60)) as hub:  # one frame, then a minute of nothing
        reader, server_side = connect(listener)
        add(fanout, server_side, hub, finished)
        reader.read_head()
        first = reader.next_part()
        assert reader.next_part() == first  # re-sent after heartbeat_interval (0.2 s)
        assert reader.next_part() == first


def test_hub_close_ends_the_streams(fanout: FanOut, listener: socket.socket) -> None:
    finished: list[FanOutClient] = []
    hub = hub_for(EmulatedCamera(FRAMES, fps=50))
    reader, server_side = connect(listener)
    client = add(fanout, server_side, hub, finished)
    reader.read_head()
    reader.next_part()
    hub.close()
    assert client.finished.wait(LIVENESS)
    assert client.reason == "server stopped"
    assert reader.at_eof()


def test_close_ends_every_stream_and_refuses_new_ones(
    fanout: FanOut, listener: socket.socket
) -> None:
    finished: list[FanOutClient] = []
    with hub_for(EmulatedCamera(FRAMES, fps=50)) as hub:
        readers = []
        for _ in range(3):
            reader, server_side = connect(listener)
            add(fanout, server_side, hub, finished)
            reader.read_head()
            readers.append(reader)
        fanout.close()
        assert len(finished) == 3
        assert {c.reason for c in finished} == {"server stopped"}
        for reader in readers:
            assert reader.at_eof()
        late_reader, late_side = connect(listener)
        late = add(fanout, late_side, hub, finished)
        assert late.finished.is_set()
        assert late_reader.at_eof()
        assert hub.clients == 0


def test_a_client_reset_mid_stream_ends_only_itself(
    fanout: FanOut, listener: socket.socket
) -> None:
    finished: list[FanOutClient] = []
    with hub_for(EmulatedCamera(FRAMES, fps=100)) as hub:
        broken_reader, broken_side = connect(listener)
        broken = add(fanout, broken_side, hub, finished)
        reader, server_side = connect(listener)
        add(fanout, server_side, hub, finished)
        reader.read_head()
        reader.next_part()
        broken_reader.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        broken_reader.sock.close()  # RST
        assert broken.finished.wait(LIVENESS)
        before = reader.next_part()[0]
        assert reader.next_part()[0] > before
        assert finished == [broken]


def test_fifty_viewers_come_and_go_while_one_watches(
    fanout: FanOut, listener: socket.socket
) -> None:
    finished: list[FanOutClient] = []
    with hub_for(EmulatedCamera(FRAMES, fps=100)) as hub:
        watcher, watcher_side = connect(listener)
        add(fanout, watcher_side, hub, finished)
        watcher.read_head()
        for _ in range(50):
            reader, server_side = connect(listener)
            add(fanout, server_side, hub, finished)
            reader.read_head()
            reader.next_part()
            reader.sock.close()
        wait_until(lambda: len(finished) == 50, LIVENESS)
        assert {c.reason for c in finished} == {"client left"}
        assert hub.clients == 1
        seqs = [watcher.next_part()[0] for _ in range(5)]
        assert seqs == sorted(set(seqs))


def test_several_viewers_get_the_same_parts_through_sendfile(
    fanout: FanOut, listener: socket.socket
) -> None:
    """From SENDFILE_FROM viewers on, parts go out of a memfd with sendfile(): each
    viewer still gets every byte, and no memfd outlives the parts."""
    finished: list[FanOutClient] = []

    def memfds() -> int:
        return sum(
            "memfd:mjpeg-part" in os.readlink(f"/proc/self/fd/{fd}")
            for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}")
        )

    with hub_for(EmulatedCamera(FRAMES, fps=100)) as hub:
        readers = []
        for _ in range(SENDFILE_FROM + 1):
            reader, server_side = connect(listener)
            add(fanout, server_side, hub, finished)
            reader.read_head()
            readers.append(reader)
        for reader in readers:
            parts = [reader.next_part() for _ in range(20)]
            seqs = [seq for seq, _ in parts]
            assert seqs == sorted(set(seqs))
            for seq, jpeg in parts:
                assert jpeg == FRAMES[seq % 3]
        # The newest part, and at most one older part per viewer still sending it.
        assert 0 < memfds() <= len(readers) + 1
        for reader in readers:
            reader.sock.close()
        wait_until(lambda: len(finished) == len(readers), LIVENESS)
        wait_until(lambda: memfds() == 0, LIVENESS)  # nobody watches: none kept


def loop_calls(fanout: FanOut, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """From now on, every call handed to the fan-out's loop: a wake-up each."""
    calls: list[object] = []
    call_soon = fanout.loop.call_soon

    def counted(callback: Callable[[], None]) -> bool:
        calls.append(callback)
        return call_soon(callback)

    monkeypatch.setattr(fanout.loop, "call_soon", counted)
    return calls


def assert_twenty_parts_mostly_without_the_loop(reader: Reader, calls: list[object]) -> None:
    """The next 20 parts are whole, in order, no repeats, and not each a loop call.
    A part the capture thread could not finish goes to the loop (a stalled
    reader on a loaded machine): some may, never all of them."""
    parts = [reader.next_part() for _ in range(20)]
    seqs = [seq for seq, _ in parts]
    assert seqs == sorted(set(seqs))
    for seq, jpeg in parts:
        assert jpeg == FRAMES[seq % 3]
    assert len(calls) < len(parts)


def test_one_viewer_gets_its_parts_from_the_capture_thread(
    fanout: FanOut, listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixed cost of a frame: below SENDFILE_FROM viewers the capture thread
    sends a new part itself, so the loop is not woken for each one."""
    finished: list[FanOutClient] = []
    with hub_for(EmulatedCamera(FRAMES, fps=30)) as hub:
        reader, server_side = connect(listener)
        add(fanout, server_side, hub, finished)
        reader.read_head()
        reader.next_part()
        assert_twenty_parts_mostly_without_the_loop(reader, loop_calls(fanout, monkeypatch))


def test_a_viewer_that_caught_up_gets_its_parts_from_the_capture_thread_again(
    fanout: FanOut, listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A viewer that lagged once (a slow start, a hiccup on the network) and has
    caught up costs the loop nothing per frame again: the capture thread sends to
    it as to any idle viewer. Before, lagging once sent every later part through
    the loop, a wake-up per frame for the rest of the stream."""
    finished: list[FanOutClient] = []
    with hub_for(EmulatedCamera(FRAMES, fps=100)) as hub:
        reader, server_side = connect(listener)
        client = add(fanout, server_side, hub, finished)
        # It reads nothing until its socket is full and it lags.
        wait_until(lambda: client.lagging, LIVENESS)
        reader.read_head()
        # It reads again: once its backlog is gone it is no longer lagging.
        backlog_parts = 0
        while client.lagging or client._buffer is not None:
            reader.next_part()
            backlog_parts += 1
            assert backlog_parts < 10_000, "the viewer never caught up"
        assert_twenty_parts_mostly_without_the_loop(reader, loop_calls(fanout, monkeypatch))


def test_one_slow_viewer_gets_whole_parts(fanout: FanOut, listener: socket.socket) -> None:
    """What the capture thread cannot send (a full socket) the loop finishes: the
    slow viewer skips frames, and every part it gets is whole."""
    finished: list[FanOutClient] = []
    with hub_for(EmulatedCamera(FRAMES, fps=100)) as hub:
        reader, server_side = connect(listener, rcvbuf=4096)
        client = add(fanout, server_side, hub, finished)
        wait_until(lambda: client.lagging, LIVENESS)
        # Frames come meanwhile: the ones it cannot take it skips.
        captured = hub.status().frames_captured
        wait_until(lambda: hub.status().frames_captured >= captured + 5, LIVENESS)
        reader.read_head()
        parts = [reader.next_part() for _ in range(30)]
        seqs = [seq for seq, _ in parts]
        assert seqs == sorted(set(seqs))
        for seq, jpeg in parts:
            assert jpeg == FRAMES[seq % 3]
        assert client.subscription.frames_skipped > 0
        assert not finished
