"""``picamera2.encoders``: the encoders the backend chooses between (0.3.38's API).

The real encoders turn camera buffers into JPEGs; here the sensor already has
the pictures, and an encoder only decides the JPEG quality (:meth:`Encoder.jpeg_quality`,
fake-only) and passes each frame to its outputs exactly as the real ones do.
"""

from __future__ import annotations

import threading
from enum import Enum
from typing import Any

from .outputs import Output
from .platform import Platform, get_platform


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

    def stop(self) -> None:
        with self._lock:
            if not self._running:
                raise RuntimeError("Encoder already stopped")
            self._running = False
            for out in self._output:
                out.stop()

    def _setup(self, quality: Quality | None) -> None:
        self.quality = quality

    def encode_frame(self, jpeg: bytes, sensor_timestamp_ns: int) -> None:
        """Fake-only: what the real ``encode(stream, request)`` ends in for one request."""
        with self._lock:
            if not self._running:
                return
            ts = sensor_timestamp_ns // 1000
            if self.firsttimestamp is None:
                self.firsttimestamp = ts
            self.outputframe(jpeg, keyframe=True, timestamp=ts - self.firsttimestamp)
            self.frames_encoded += 1

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
        assert self.q is not None
        return self.q


class MJPEGEncoder(Encoder):
    """Motion JPEG: the V4L2 hardware encoder on VC4 (Pi 4 and older), libav's on PISP."""

    def __init__(self, bitrate: int | None = None) -> None:
        super().__init__()
        self.bitrate = bitrate
        #: Fake-only: which of the two real classes this one stands for.
        self.hardware = get_platform() is Platform.VC4


__all__ = ["Encoder", "JpegEncoder", "MJPEGEncoder", "Quality"]
