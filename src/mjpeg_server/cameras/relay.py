"""Relay another MJPEG server: an IP camera, mjpg-streamer, µStreamer, another mjpeg-server.

``--camera http://192.168.1.20:8080/?action=stream`` makes the upstream stream
one of this server's cameras: one connection upstream however many viewers
connect here, and the hub's usual care (idle release, reconnect with backoff
when the upstream fails, status). The upstream's frames are passed on as they
are, not decoded; their ``X-Timestamp`` and ``X-Frame-Seq`` are kept when the
upstream sends them (so latency measured downstream is end to end), otherwise
the arrival time and a local counter stand in.

Picture options go in the URL's fragment, which is never sent upstream:
``http://cam:8080/?action=stream#rotate=90&overlay=%H:%M:%S``. They are done
in software on the relay's reader thread (a lossless turn; an overlay
decodes, draws and re-encodes at ``quality``, default 85).

Reading happens on the backend's own thread (the kit's client, which blocks on
the network) and reaches the hub through the backends' handoff, so a silent
upstream never blocks the hub beyond its read timeout.
"""

from __future__ import annotations

import logging
import threading

from ..client.stream import (
    HTTPStatusError,
    MJPEGStream,
    NotMultipartError,
    StreamConnectionError,
    StreamError,
    open_stream,
)
from ..picture import PICTURE_OPTIONS, PictureSettings
from ..picture.settings import picture_controls
from ._handoff import LatestFrames
from ._picture import SoftwarePicture
from .base import Camera, CameraError, CameraFailed, CameraNotFound, Frame
from .controls import Control, quality_control
from .spec import CameraDefaults, CameraSpec, SpecError, SpecOptions

__all__ = ["RelayCamera"]

log = logging.getLogger(__name__)

#: Seconds to wait for the upstream's response, and for each of its bytes.
UPSTREAM_TIMEOUT = 10.0
_JOIN_TIMEOUT = 2.0


class RelayCamera(SoftwarePicture):
    """Frames from an upstream ``multipart/x-mixed-replace`` URL."""

    live_options = frozenset({*PICTURE_OPTIONS, "quality"})

    def __init__(
        self,
        url: str,
        *,
        fps: float,
        timeout: float = UPSTREAM_TIMEOUT,
        quality: int = 85,
        picture: PictureSettings | None = None,
    ) -> None:
        self.url = url
        self.quality = quality
        self.picture = picture or PictureSettings()
        #: The rate the upstream is expected to send; shown in /status only.
        self.fps = fps
        self.timeout = timeout
        self._handoff = LatestFrames()
        self._stream: MJPEGStream | None = None
        self._reader: threading.Thread | None = None

    @classmethod
    def from_spec(cls, spec: CameraSpec, defaults: CameraDefaults) -> RelayCamera:
        if not spec.target:
            raise SpecError(f"camera {spec}: expected a full http:// or https:// URL")
        options = SpecOptions(spec)
        quality = options.integer("quality", 85, minimum=1)
        picture = PictureSettings.take(options, spec)
        options.finish()
        if quality is None or quality > 100:
            raise SpecError(f"camera {spec}: option quality must be 1-100")
        return cls(spec.target, fps=defaults.fps, quality=quality, picture=picture)

    @property
    def description(self) -> str:
        return f"relay of {self.url}"

    @property
    def picture_quality(self) -> int:
        return self.quality

    def _adopt(self, new: Camera, changed: set[str]) -> None:
        assert isinstance(new, RelayCamera)
        self.quality = new.quality
        super()._adopt(new, changed)

    def controls(self) -> list[Control]:
        return [
            quality_control(
                self.quality, "JPEG quality of frames the overlay re-encodes", live=True
            ),
            *picture_controls(self.picture, live=True),
        ]

    def open(self) -> None:
        try:
            stream = open_stream(self.url, timeout=self.timeout)
        except StreamConnectionError as error:
            raise CameraNotFound(f"upstream unreachable: {error}") from None
        except (HTTPStatusError, NotMultipartError, StreamError) as error:
            raise CameraFailed(f"upstream unusable: {error}") from None
        self._handoff.clear()
        self._start_picture()
        self._stream = stream
        self._reader = threading.Thread(
            target=self._relay, args=(stream,), name=f"relay {self.url}", daemon=True
        )
        self._reader.start()

    def _relay(self, stream: MJPEGStream) -> None:
        count = 0
        try:
            for received in stream.frames():
                timestamp = received.timestamp
                seq = received.seq
                frame = self._picture(
                    Frame(
                        jpeg=received.jpeg,
                        timestamp=received.received_at if timestamp is None else timestamp,
                        seq=count if seq is None else seq,
                    )
                )
                if frame is not None:
                    self._handoff.put(frame)
                count += 1
            error: Exception = CameraFailed(f"upstream {self.url} ended its stream")
        except Exception as failure:  # whatever breaks the relay ends this session
            error = failure
        if self._stream is stream:  # not closed by us: tell the hub, which reopens
            if not isinstance(error, CameraError):
                error = CameraFailed(f"upstream {self.url}: {error}")
            self._handoff.fail(error)

    def read(self, timeout: float) -> Frame | None:
        if self._stream is None:
            raise CameraFailed(f"{self.description} is not open")
        return self._handoff.take(timeout)

    def close(self) -> None:
        stream, reader = self._stream, self._reader
        self._stream = self._reader = None
        if stream is None:
            return
        stream.close()  # unblocks the reader's network read
        if reader is not None:
            reader.join(_JOIN_TIMEOUT)
            if reader.is_alive():
                log.warning("%s: the reader thread is still blocked after close", self.description)
