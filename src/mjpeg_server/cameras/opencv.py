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

A device's image controls (``brightness``, ``exposure``, ``auto_wb`` … the
``cv2.CAP_PROP_*`` it has: ``_opencv_controls.py``) are options too, set when
it opens and while it runs: the reader thread, which owns the
``VideoCapture``, applies a change between two reads (OpenCV's capture is not
safe to use from two threads), and says whether the driver took it.
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..picture import PICTURE_OPTIONS, PictureSettings
from ..picture.settings import picture_controls
from ..wire.jpeg import SOI
from ._handoff import LatestFrames
from ._opencv_controls import DeviceControl, check_form, device_controls, is_property
from ._picture import SoftwarePicture
from .base import Camera, CameraBusy, CameraError, CameraFailed, CameraNotFound, Frame
from .controls import Control, quality_control
from .spec import CameraDefaults, CameraSpec, SpecError, SpecOptions

__all__ = ["OpenCVCamera", "as_jpeg"]

log = logging.getLogger(__name__)

INSTALL_HINT = "in the repository: pip install '.[opencv]' (opencv-python-headless)"
# How long close() waits for a reader stuck in cap.read(); the capture is
# released by the reader itself once that read returns.
_JOIN_TIMEOUT = 2.0
#: How long a control change waits for the reader to apply it (one read at most).
APPLY_TIMEOUT = 5.0
# Each device's image controls as its node reported them when this process last
# opened it: a camera built for a change checks its values against them (400).
_DEVICE_CONTROLS: dict[int, list[DeviceControl]] = {}


def video_capture(cv2: Any, target: int | str, is_device: bool) -> Any:
    """The ``cv2.VideoCapture`` for ``target`` (V4L2 for a device index)."""
    return cv2.VideoCapture(target, cv2.CAP_V4L2) if is_device else cv2.VideoCapture(target)


@dataclass
class _Settings:
    """Controls for the reader thread to set between two reads, and what became of them."""

    values: Mapping[str, int]
    done: threading.Event = field(default_factory=threading.Event)
    refused: list[str] = field(default_factory=list)


def _import_cv2() -> Any:
    try:
        return importlib.import_module("cv2")
    except ImportError as error:
        raise CameraError(f"OpenCV cannot be imported ({error}): {INSTALL_HINT}") from None


def _device_values(
    index: int, properties: Mapping[str, str], known: list[DeviceControl] | None
) -> dict[str, int]:
    """The image controls as values the driver takes; ValueError saying what is wrong.
    ``known`` None (the device was never opened here): the form only, the rest when it opens."""
    if known is None:
        for name, raw in properties.items():
            check_form(name, raw)
        return {}
    by_name = {control.name: control for control in known}
    values = {}
    for name, raw in properties.items():
        if name not in by_name:
            has = ", ".join(by_name) or "none"
            raise ValueError(f"/dev/video{index} has no control {name} (it has: {has})")
        values[name] = by_name[name].parse(raw)
    return values


def _value_of(control: DeviceControl, properties: Mapping[str, str]) -> float | None:
    """A control's value before the device said it: the option's, or the default."""
    raw = properties.get(control.name)
    return float(control.limits.default) if raw is None else float(control.parse(raw))


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
        properties: Mapping[str, str] | None = None,
    ) -> None:
        self.target = target
        self.fps = fps
        self.size = size
        self.quality = quality
        self.picture = picture or PictureSettings()
        #: A device's image controls set by the spec: option name → its text.
        self.properties: dict[str, str] = dict(properties or {})
        self._cv2 = _import_cv2()
        self._handoff = LatestFrames()
        self._stop: threading.Event | None = None
        self._reader: threading.Thread | None = None
        self._settings: queue.SimpleQueue[_Settings] = queue.SimpleQueue()
        #: OpenCV's readings of the device's controls, after each change.
        self._readings: dict[str, float] = {}

    @classmethod
    def from_spec(cls, spec: CameraSpec, defaults: CameraDefaults) -> OpenCVCamera:
        options = SpecOptions(spec)
        fps = options.number("fps", defaults.fps)
        size = options.size("size", None)
        quality = options.integer("quality", 85, minimum=1)
        picture = PictureSettings.take(options, spec)
        properties = {key: str(options.text(key)) for key in spec.options if is_property(key)}
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
        if properties and not isinstance(target, int):
            raise SpecError(
                f"camera {spec}: {', '.join(properties)}: image controls are a device's "
                "(opencv:N); OpenCV has none for files and streams"
            )
        if isinstance(target, int):
            try:
                _device_values(target, properties, _DEVICE_CONTROLS.get(target))
            except ValueError as error:
                raise SpecError(f"camera {spec}: {error}") from None
        return cls(
            target, fps=fps, size=size, quality=quality, picture=picture, properties=properties
        )

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
        known = _DEVICE_CONTROLS.get(self.target, []) if isinstance(self.target, int) else []
        readings = self._readings
        return [
            Control("fps", "number", self.fps, minimum=0, default=30.0),
            Control("size", "size", size, default="", description="empty: the source's own"),
            quality_control(self.quality, "JPEG quality of frames OpenCV encodes"),
            *picture_controls(self.picture, live=True),
            # What the device's node reported when it last opened (none before: a
            # backend must not touch the device before it opens).
            *(
                control.control(readings.get(control.name, _value_of(control, self.properties)))
                for control in known
            ),
        ]

    def _is_live(self, key: str, new: Camera) -> bool:
        return key in self.live_options or is_property(key)

    def _adopt(self, new: Camera, changed: set[str]) -> None:
        assert isinstance(new, OpenCVCamera)
        properties = {key for key in changed if is_property(key)}
        if properties:
            assert isinstance(self.target, int)  # from_spec refuses them for the others
            known = {c.name: c for c in _DEVICE_CONTROLS.get(self.target, [])}
            try:
                # Back to the default (the option gone): the driver's default.
                values = {
                    name: known[name].parse(new.properties[name])
                    if name in new.properties
                    else known[name].limits.default
                    for name in properties
                }
            except (KeyError, ValueError) as error:
                raise CameraError(f"{self.description}: {error}") from None
            self._apply(values)
            self.properties = dict(new.properties)
        if changed & set(PICTURE_OPTIONS):
            super()._adopt(new, changed)

    def _apply(self, values: Mapping[str, int]) -> None:
        """Have the reader thread set ``values`` between two reads; CameraError if the
        driver refused one or the reader did not get to it."""
        request = _Settings(values)
        self._settings.put(request)
        if not request.done.wait(APPLY_TIMEOUT):
            raise CameraError(
                f"{self.description}: the controls were not applied within {APPLY_TIMEOUT:g} s "
                "(the device delivers no frame)"
            )
        if request.refused:
            raise CameraError(
                f"{self.description}: the driver refused {', '.join(request.refused)}"
            )

    def open(self) -> None:
        if self._reader is not None:
            raise CameraBusy(f"{self.description} is already open")
        capture = video_capture(self._cv2, self.target, self.is_device)
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
        while not self._settings.empty():  # changes meant for a session that ended
            self._settings.get_nowait().done.set()
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
        assert isinstance(self.target, int)
        known = _DEVICE_CONTROLS[self.target] = device_controls(self.target)
        try:
            values = _device_values(self.target, self.properties, known)
        except ValueError as error:
            capture.release()
            raise CameraFailed(f"{self.description}: {error}") from None
        refused = self._set_properties(capture, values)
        if refused:
            capture.release()
            raise CameraFailed(f"{self.description}: the driver refused {', '.join(refused)}")

    def _set_properties(self, capture: Any, values: Mapping[str, int]) -> list[str]:
        """Set the controls (on the thread that owns the capture); what was refused. The
        readings of every control are taken again: one may change another (auto modes)."""
        refused = [
            f"{name}={value}"
            for name, value in values.items()
            if not capture.set(getattr(self._cv2, f"CAP_PROP_{name.upper()}"), value)
        ]
        if values:
            log.info("%s: set %s", self.description, dict(values))
        assert isinstance(self.target, int)
        self._readings = {
            control.name: float(capture.get(getattr(self._cv2, control.prop)))
            for control in _DEVICE_CONTROLS.get(self.target, [])
        }
        return refused

    def _read_frames(self, capture: Any, stop: threading.Event) -> None:
        """The reader thread: read, pace (files only), make the frame, hand it over."""
        period = 1.0 / self.fps
        due = time.monotonic()
        seq = 0
        try:
            while not stop.is_set():
                while not self._settings.empty():  # between two reads: the capture is ours
                    request = self._settings.get_nowait()
                    request.refused = self._set_properties(capture, request.values)
                    request.done.set()
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
