"""``picamera2.encoders``: the encoders the backend chooses between (0.3.38's API).

The real encoders turn camera buffers into JPEGs; here the sensor already has
the pictures, and an encoder decides the JPEG quality its frames get
(:meth:`Encoder.jpeg_quality`, fake-only) and hands each frame to its outputs
the way the real ones do: from the encoder's **own thread** (the real
JpegEncoder's output thread, the V4L2 encoder's poll thread), under the
encoder's output lock, never from the camera's thread. A slow output thus
delays that thread, not the sensor; frames the encoder has no room for are
lost, as when every buffer is held.

``MJPEGEncoder`` is two classes, as in picamera2: on VC4 (Pi 4 and older) the
V4L2 hardware encoder, which turns a Quality level into a **bitrate**; on PISP
(Pi 5) libav's software encoder, which turns it into a quantiser **qp**. Which
one the name means follows ``FAKE_PICAMERA2_PLATFORM`` when it is looked up
(picamera2 decides once, at import).
"""

from __future__ import annotations

import queue
import threading
from enum import Enum
from typing import Any

from . import _fake
from .outputs import Output


class Quality(Enum):
    VERY_LOW = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    VERY_HIGH = 4


# JpegEncoder's table in 0.3.38: Quality → simplejpeg's q.
_Q_TABLE = {
    Quality.VERY_LOW: 25,
    Quality.LOW: 35,
    Quality.MEDIUM: 50,
    Quality.HIGH: 65,
    Quality.VERY_HIGH: 80,
}
# MJPEGEncoder (V4L2, VC4): Mbit/s for 1920x1080 at 30 fps, scaled by area and rate.
_BITRATE_TABLE = {
    Quality.VERY_LOW: 16,
    Quality.LOW: 20,
    Quality.MEDIUM: 30,
    Quality.HIGH: 40,
    Quality.VERY_HIGH: 50,
}
# LibavMjpegEncoder (PISP): libav's quantiser, lower is better.
_QP_TABLE = {
    Quality.VERY_LOW: 31,
    Quality.LOW: 15,
    Quality.MEDIUM: 10,
    Quality.HIGH: 5,
    Quality.VERY_HIGH: 3,
}
# Frames an encoder holds before the sensor's next one is lost: the camera's buffers
# (picamera2's default buffer_count for video), each held until encoded and output.
_QUEUE = 6


class Encoder:
    """Base class for encoders: outputs, size, start/stop, ``outputframe``."""

    def __init__(self, framerate: float | None = 30) -> None:
        self._output: list[Output] = []
        self._running = False
        self._lock = threading.Lock()
        self._output_lock = threading.Lock()
        self.width = 0
        self.height = 0
        self.framerate = framerate
        self.firsttimestamp: int | None = None
        self.frames_encoded = 0
        self.quality: Quality | None = None
        self._queue: queue.Queue[tuple[bytes, int] | None] = queue.Queue(_QUEUE)
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._running

    @property
    def output(self) -> Output | list[Output]:
        return self._output[0] if len(self._output) == 1 else self._output

    @output.setter
    def output(self, value: Output | list[Output]) -> None:
        if isinstance(value, list):
            for out in value:
                if not isinstance(out, Output):
                    raise RuntimeError("Must pass Output")
        elif isinstance(value, Output):
            value = [value]
        else:
            raise RuntimeError("Must pass Output")
        self._output = value

    def start(self, quality: Quality | None = None) -> None:
        with self._lock:
            if self._running:
                raise RuntimeError("Encoder already running")
            self.frames_encoded = 0
            self._setup(quality)
            self._running = True
            self.firsttimestamp = None
            for out in self._output:
                out.start()
            self._start()

    def _start(self) -> None:
        self._queue = queue.Queue(_QUEUE)
        self._thread = threading.Thread(target=self._output_thread, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            if not self._running:
                raise RuntimeError("Encoder already stopped")
            self._running = False
            self._stop()
            for out in self._output:
                out.stop()

    def _stop(self) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _setup(self, quality: Quality | None) -> None:
        self.quality = quality

    def encode_frame(self, jpeg: bytes, sensor_timestamp_ns: int) -> None:
        """Fake-only: what the real ``encode(stream, request)`` does with one request:
        queue it for the encoder's thread (or lose it, every buffer being in use)."""
        with self._lock:
            if not self._running:
                return
            ts = sensor_timestamp_ns // 1000
            if self.firsttimestamp is None:
                self.firsttimestamp = ts
            try:
                self._queue.put_nowait((jpeg, ts - self.firsttimestamp))
            except queue.Full:
                return
            self.frames_encoded += 1

    def _output_thread(self) -> None:
        while (item := self._queue.get()) is not None:
            jpeg, timestamp = item
            self.outputframe(jpeg, keyframe=True, timestamp=timestamp)

    def outputframe(
        self,
        frame: bytes | None,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        with self._output_lock:
            for out in self._output:
                if _fake.version() < (0, 3, 23):  # packet and audio came in 0.3.23
                    out.outputframe(frame, keyframe, timestamp)
                else:
                    out.outputframe(frame, keyframe, timestamp, packet, audio)

    def jpeg_quality(self) -> int:
        """Fake-only: the JPEG quality this encoder's frames have."""
        return _Q_TABLE[self.quality or Quality.MEDIUM]


class JpegEncoder(Encoder):
    """Software JPEG (simplejpeg), the cheaper choice on a Pi 5."""

    def __init__(
        self,
        num_threads: int = 4,
        q: int | None = None,
        colour_space: str | None = None,
        colour_subsampling: str = "420",
    ) -> None:
        super().__init__()
        self.num_threads = num_threads
        self.q = q
        self.colour_space = colour_space
        self.colour_subsampling = colour_subsampling

    def _setup(self, quality: Quality | None) -> None:
        # As upstream: an explicit quality wins, else keep a q the caller set.
        if quality is not None or self.q is None:
            self.q = _Q_TABLE[Quality.MEDIUM if quality is None else quality]

    def jpeg_quality(self) -> int:
        """Fake-only: the JPEG quality this encoder's frames have (its q)."""
        assert self.q is not None
        return self.q


class V4L2MJPEGEncoder(Encoder):
    """``picamera2.encoders.mjpeg_encoder.MJPEGEncoder``: the VC4 hardware encoder.

    Its only quality knob is a bitrate: a Quality level becomes 16-50 Mbit/s for
    1920x1080 at 30 fps, scaled by the frame area and by ``framerate``, which
    ``start_encoder`` sets to the camera's rate capped at 30 fps.
    """

    def __init__(self, bitrate: int | None = None) -> None:
        if _fake.platform_name() != "VC4":
            raise RuntimeError("Hardware MJPEG not available on this platform")
        super().__init__()
        self.bitrate = bitrate
        self.framerate = None  # as V4L2Encoder: start_encoder fills it in

    def _setup(self, quality: Quality | None) -> None:
        super()._setup(quality)
        if quality is not None or self.bitrate is None:
            quality = Quality.MEDIUM if quality is None else quality
            reference = 1920 * 1080 * 30
            actual = self.width * self.height * (self.framerate or 30)
            self.bitrate = int(_BITRATE_TABLE[quality] * 1_000_000 * actual / reference)


class LibavMjpegEncoder(Encoder):
    """``picamera2.encoders.LibavMjpegEncoder``: libav's software MJPEG (PISP's MJPEGEncoder).

    A Quality level becomes libav's quantiser ``qp`` (31 VERY_LOW … 3 VERY_HIGH).
    """

    def __init__(
        self,
        bitrate: int | None = None,
        repeat: bool = True,
        iperiod: int = 30,
        framerate: float = 30,
        qp: int | None = None,
    ) -> None:
        super().__init__(framerate=framerate)
        self.bitrate = bitrate
        self.repeat = repeat
        self.iperiod = iperiod
        self.qp = qp

    def _setup(self, quality: Quality | None) -> None:
        super()._setup(quality)
        if quality is not None or (self.bitrate is None and self.qp is None):
            self.qp = _QP_TABLE[Quality.MEDIUM if quality is None else quality]


def __getattr__(name: str) -> type[Encoder]:
    # picamera2.encoders binds MJPEGEncoder to one class or the other at import,
    # by platform; the fake looks the platform up each time (tests switch it).
    if name == "MJPEGEncoder":
        return V4L2MJPEGEncoder if _fake.platform_name() == "VC4" else LibavMjpegEncoder
    raise AttributeError(name)


__all__ = ["Encoder", "JpegEncoder", "LibavMjpegEncoder", "MJPEGEncoder", "Quality"]  # noqa: F822
