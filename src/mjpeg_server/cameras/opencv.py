"""Cameras, video files and network streams through OpenCV (the ``opencv`` extra).

Spec: ``opencv:TARGET[?size=WxH&quality=Q&fps=F&...]`` where ``TARGET`` is a V4L2
device index (``opencv:0`` = ``/dev/video0``), a video file
(``opencv:/srv/clip.mp4``) or a URL OpenCV's FFmpeg can open
(``opencv:rtsp://cam.local/live``; a URL whose own query has a ``?`` cannot
be given, as the spec's options start there). ``quality`` (1-100, default 85)
applies to frames OpenCV has to encode; ``size`` asks a device for that mode
and scales the frames of files and streams; ``fps`` asks a device for that
rate and plays a file at it (default: the server's ``--fps``), while a
network stream comes at its own rate.

Devices are asked for MJPG: a webcam then sends JPEGs, which are passed
through untouched when OpenCV can hand them over raw (``CONVERT_RGB`` off);
anything else is encoded with ``cv2.imencode``. ``cap.read()`` blocks for as
long as the device or the network likes, so it runs in the backend's own
reader thread and :meth:`OpenCVCamera.read` waits on it with a timeout; a
``False`` from ``cap.read()`` (device unplugged, stream gone, end of a file)
is :class:`CameraFailed`, never a silent empty frame (failure mode F1).

Picture options (``rotate``, ``hflip``, ``vflip``, ``overlay``): a frame
OpenCV encodes is turned and drawn on as pixels, before ``imencode`` (no
extra decode); a device's own JPEG goes through the picture pipeline
(lossless turn, decode-draw-encode for an overlay).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

from ..picture import PictureSettings
from ..picture.settings import picture_controls
from ..wire.jpeg import SOI
from ._handoff import LatestFrames
from ._picture import SoftwarePicture
from .base import CameraBusy, CameraError, CameraFailed, CameraNotFound, Frame
from .controls import Control, quality_control
from .spec import CameraDefaults, CameraSpec, SpecError, SpecOptions

__all__ = ["OpenCVCamera", "as_jpeg"]

log = logging.getLogger(__name__)

INSTALL_HINT = "in the repository: pip install '.[opencv]' (opencv-python-headless)"
# How long close() waits for a reader stuck in cap.read(); the capture is
# released by the reader itself once that read returns.
_JOIN_TIMEOUT = 2.0


def _import_cv2() -> Any:
    try:
        return importlib.import_module("cv2")
    except ImportError as error:
        raise CameraError(f"OpenCV cannot be imported ({error}): {INSTALL_HINT}") from None


def is_raw_jpeg(image: Any) -> bool:
    """True for a device's own MJPEG frame: one row of bytes starting with SOI."""
    one_row = image.ndim == 1 or (image.ndim == 2 and image.shape[0] == 1)
    return bool(one_row and image.dtype.itemsize == 1 and bytes(image.flat[:2]) == SOI)


def as_jpeg(cv2: Any, image: Any, quality: int) -> bytes:
    """A JPEG for ``image``: its own bytes if it already is one (raw MJPEG from a
    device), else ``cv2.imencode``'s."""
    if is_raw_jpeg(image):
        return bytes(image.tobytes())
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise CameraFailed(f"OpenCV could not encode a {image.shape} frame as JPEG")
    return bytes(encoded)


class OpenCVCamera(SoftwarePicture):
    """A ``cv2.VideoCapture`` read by its own thread. See the module docstring."""

    def __init__(
        self,
        target: int | str,
        *,
        fps: float = 30.0,
        size: tuple[int, int] | None = None,
        quality: int = 85,
        picture: PictureSettings | None = None,
    ) -> None:
        self.target = target
        self.fps = fps
        self.size = size
        self.quality = quality
        self.picture = picture or PictureSettings()
        self._cv2 = _import_cv2()
        self._handoff = LatestFrames()
        self._stop: threading.Event | None = None
        self._reader: threading.Thread | None = None

    @classmethod
    def from_spec(cls, spec: CameraSpec, defaults: CameraDefaults) -> OpenCVCamera:
        options = SpecOptions(spec)
        fps = options.number("fps", defaults.fps)
        size = options.size("size", None)
        quality = options.integer("quality", 85, minimum=1)
        picture = PictureSettings.take(options, spec)
        options.finish()
        if fps <= 0:
            raise SpecError(f"camera {spec}: fps must be positive")
        if quality is None or quality > 100:
            raise SpecError(f"camera {spec}: option quality must be 1-100")
        if not spec.target:
            raise SpecError(f"camera {spec}: say what to open: opencv:0, opencv:FILE or opencv:URL")
        target: int | str = int(spec.target) if spec.target.isdecimal() else spec.target
        if isinstance(target, str) and "://" not in target and not Path(target).is_file():
            raise SpecError(f"camera {spec}: no such video file {target!r}")
        return cls(target, fps=fps, size=size, quality=quality, picture=picture)

    @property
    def is_device(self) -> bool:
        return isinstance(self.target, int)

    @property
    def is_file(self) -> bool:
        return isinstance(self.target, str) and "://" not in self.target

    @property
    def description(self) -> str:
        what = f"/dev/video{self.target}" if self.is_device else str(self.target)
        return f"opencv {what}"

    @property
    def picture_quality(self) -> int:
        return self.quality

    def controls(self) -> list[Control]:
        size = f"{self.size[0]}x{self.size[1]}" if self.size else ""
        return [
            Control("fps", "number", self.fps, minimum=0, default=30.0),
            Control("size", "size", size, default="", description="empty: the source's own"),
            quality_control(self.quality, "JPEG quality of frames OpenCV encodes"),
            *picture_controls(self.picture, live=True),
        ]

    def open(self) -> None:
        if self._reader is not None:
            raise CameraBusy(f"{self.description} is already open")
        cv2 = self._cv2
        if self.is_device:
            capture = cv2.VideoCapture(self.target, cv2.CAP_V4L2)
        else:
            capture = cv2.VideoCapture(self.target)
        if not capture.isOpened():
            capture.release()
            if self.is_device and not Path(f"/dev/video{self.target}").exists():
                raise CameraNotFound(f"no camera /dev/video{self.target}; check 'ls /dev/video*'")
            raise CameraFailed(
                f"OpenCV cannot open {self.description} (in use by another program, "
                "or not a video source it can read)"
            )
        if self.is_device:
            self._configure_device(capture)
        self._handoff.clear()
        self._start_picture()
        stop = threading.Event()
        self._stop = stop
        self._reader = threading.Thread(
            target=self._read_frames,
            args=(capture, stop),
            name=f"opencv-reader {self.description}",
            daemon=True,
        )
        self._reader.start()

    def _configure_device(self, capture: Any) -> None:
        cv2 = self._cv2
        capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        if self.size is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        capture.set(cv2.CAP_PROP_FPS, self.fps)
        # With MJPG and no RGB conversion, V4L2 hands over the camera's own JPEG.
        capture.set(cv2.CAP_PROP_CONVERT_RGB, 0)

    def _read_frames(self, capture: Any, stop: threading.Event) -> None:
        """The reader thread: read, pace (files only), make the frame, hand it over."""
        period = 1.0 / self.fps
        due = time.monotonic()
        seq = 0
        try:
            while not stop.is_set():
                ok, image = capture.read()
                if not ok:
                    end = "reached the end" if self.is_file else "delivered no frame"
                    self._handoff.fail(CameraFailed(f"{self.description} {end}"))
                    return
                if self.is_file:
                    # A file plays at fps; after a hiccup it resumes, never bursts.
                    due = max(due, time.monotonic() - period)
                    if stop.wait(due - time.monotonic()):
                        return
                    due += period
                frame = self._make_frame(image, time.time(), seq)
                if frame is not None:
                    self._handoff.put(frame)
                seq += 1
        except CameraError as error:
            self._handoff.fail(error)
        except Exception as error:  # OpenCV's own errors (cv2.error) end the session too
            self._handoff.fail(CameraFailed(f"{self.description}: {error}"))
        finally:
            capture.release()

    def _make_frame(self, image: Any, timestamp: float, seq: int) -> Frame | None:
        """The frame for one picture: scaled (files, streams), turned and drawn on before
        it is encoded, or a device's own JPEG through the picture pipeline."""
        if is_raw_jpeg(image):
            return self._picture(Frame(jpeg=bytes(image.tobytes()), timestamp=timestamp, seq=seq))
        if self.size is not None and not self.is_device:  # a device was asked for its size
            image = self._cv2.resize(image, self.size)
        pipeline = self._pipeline
        if pipeline is not None:
            image = pipeline.process_pixels(image, timestamp)
        return Frame(jpeg=as_jpeg(self._cv2, image, self.quality), timestamp=timestamp, seq=seq)

    def read(self, timeout: float) -> Frame | None:
        if self._reader is None:
            raise CameraFailed(f"{self.description} is not open")
        return self._handoff.take(timeout)

    def close(self) -> None:
        reader, stop = self._reader, self._stop
        self._reader = self._stop = None
        if reader is None or stop is None:
            return
        stop.set()
        reader.join(_JOIN_TIMEOUT)
        if reader.is_alive():
            log.warning(
                "%s: a read is still blocked; the capture is released when it returns",
                self.description,
            )
