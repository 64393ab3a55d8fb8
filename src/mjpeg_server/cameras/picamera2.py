"""Raspberry Pi cameras through picamera2 (the ``pi`` extra; on the Pi, from apt).

Spec: ``picamera2[:N][?size=WxH&quality=Q&encoder=auto|mjpeg|jpeg&fps=F]``, where
``N`` is the camera number (default 0, as ``rpicam-hello --list-cameras``
numbers them), ``size`` defaults to 1280x720, ``quality`` (1-100) to 85.

How frames flow: the camera records with a JPEG encoder chosen for the board
(``auto``: the hardware ``MJPEGEncoder`` on VC4 boards, Pi 4 and older;
``JpegEncoder`` on a Pi 5, whose ``MJPEGEncoder`` is a software libav encoder
and costs more). The encoder hands each JPEG, as the ``bytes`` it made, to
this backend's :class:`picamera2.outputs.Output`, which puts it in the
handoff (``_handoff.py``) that :meth:`Picamera2Camera.read` takes from: no byte
is copied, a hub a frame late still gets every frame, and one further behind
loses the oldest (nothing queues without bound).

Timestamps and numbering come from the sensor, not from arrival: picamera2
passes each frame's ``SensorTimestamp`` as µs since the recording's first
frame. ``Frame.timestamp`` is the wall-clock arrival of that first frame plus
this offset, so intervals are the sensor's own (encoder jitter does not show)
and the absolute time is late only by the first frame's encode latency.
``Frame.seq`` advances by the number of frame periods between two timestamps,
so a frame the camera or the encoder dropped leaves a gap, as it should.

Never starts a preview (it would open a window on a monitor attached to the
Pi). Errors become the kit's: no camera → :class:`CameraNotFound`, held by
another process → :class:`CameraBusy` naming the process when it can be
found, anything else → :class:`CameraFailed`. ``stop_recording()`` can hang on
a failing camera ("Camera frontend has timed out!"), so :meth:`close` gives it
``stop_timeout`` seconds and then leaves it to finish in the background.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from ._handoff import LatestFrames
from .base import Camera, CameraBusy, CameraError, CameraFailed, CameraNotFound, Frame
from .spec import CameraDefaults, CameraSpec, SpecError, SpecOptions

__all__ = ["Picamera2Camera", "device_holders"]

log = logging.getLogger(__name__)

ENCODERS = ("auto", "mjpeg", "jpeg")
INSTALL_HINT = (
    "on Raspberry Pi OS run 'sudo apt install python3-picamera2' and create the venv with "
    "--system-site-packages (its libcamera bindings are not on PyPI)"
)
LIST_HINT = "check the cable and run 'rpicam-hello --list-cameras'"
# Device nodes libcamera keeps open while a process holds a camera.
_DEVICE_RE = re.compile(r"/dev/(media|video)\d+")
# JpegEncoder's Quality → q table in picamera2; the hardware MJPEGEncoder takes
# only a Quality level, so a quality option picks the nearest level.
_QUALITY_LEVELS = (("VERY_LOW", 25), ("LOW", 35), ("MEDIUM", 50), ("HIGH", 65), ("VERY_HIGH", 80))


class _Library:
    """The picamera2 modules the backend uses, imported on first use."""

    def __init__(self) -> None:
        try:
            self.picamera2 = importlib.import_module("picamera2")
            self.encoders = importlib.import_module("picamera2.encoders")
            self.outputs = importlib.import_module("picamera2.outputs")
            self.platform = importlib.import_module("picamera2.platform")
        except ImportError as error:
            raise CameraError(f"picamera2 cannot be imported ({error}): {INSTALL_HINT}") from None


class _SensorClock:
    """Turns picamera2's per-recording µs timestamps into Unix time and a frame count."""

    def __init__(self, fps: float) -> None:
        self._period_us = 1e6 / fps
        self._origin: float | None = None
        self._last_us = 0
        self._seq = -1

    def stamp(self, timestamp_us: int | None) -> tuple[float, int]:
        now = time.time()
        if timestamp_us is None:  # an encoder that gives none: count it, stamp arrival
            self._seq += 1
            return now, self._seq
        if self._origin is None:
            self._origin = now - timestamp_us / 1e6
            self._seq += 1
        else:
            periods = round((timestamp_us - self._last_us) / self._period_us)
            self._seq += max(1, periods)
        self._last_us = timestamp_us
        return self._origin + timestamp_us / 1e6, self._seq


def _frame_output(library: _Library, fps: float, handoff: LatestFrames) -> Any:
    """A ``picamera2.outputs.Output`` that hands each JPEG to ``handoff``.

    The class is made here because its base class exists only once picamera2
    is imported.
    """

    class FrameOutput(library.outputs.Output):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.clock = _SensorClock(fps)

        def outputframe(
            self,
            frame: bytes | None,
            keyframe: bool = True,
            timestamp: int | None = None,
            packet: Any = None,
            audio: bool = False,
        ) -> None:
            if frame is None or audio:
                return
            wall, seq = self.clock.stamp(timestamp)
            handoff.put(Frame(jpeg=frame, timestamp=wall, seq=seq))

    return FrameOutput()


def device_holders(pattern: re.Pattern[str] = _DEVICE_RE) -> list[str]:
    """``"pid N (name)"`` for each other process with a file matching ``pattern`` open.

    Best effort: processes of other users are invisible without root.
    """
    holders = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            targets = (os.readlink(fd) for fd in (proc / "fd").iterdir())
            if any(pattern.fullmatch(target) for target in targets):
                name = (proc / "comm").read_text().strip()
                holders.append(f"pid {proc.name} ({name})")
        except OSError:  # gone, or not ours to look at
            continue
    return holders


def _is_busy(error: BaseException) -> bool:
    """picamera2 reports a held camera as "Camera __init__ sequence did not complete."
    caused by libcamera's "Failed to acquire camera: Device or resource busy"."""
    cause: BaseException | None = error
    while cause is not None:
        if "Device or resource busy" in str(cause):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _quality_level(quality: int) -> str:
    return min(_QUALITY_LEVELS, key=lambda level: abs(level[1] - quality))[0]


class Picamera2Camera(Camera):
    """A Raspberry Pi camera recording JPEG frames. See the module docstring."""

    def __init__(
        self,
        camera_num: int = 0,
        *,
        fps: float = 30.0,
        size: tuple[int, int] = (1280, 720),
        quality: int = 85,
        encoder: str = "auto",
        stop_timeout: float = 5.0,
        library: _Library | None = None,
    ) -> None:
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, not {encoder!r}")
        self.camera_num = camera_num
        self.fps = fps
        self.size = size
        self.quality = quality
        self.encoder = encoder
        self.stop_timeout = stop_timeout
        self._library = library or _Library()
        self._handoff = LatestFrames()
        self._picam: Any = None
        #: The encoder in use since the last open ("mjpeg" or "jpeg").
        self.encoder_in_use: str | None = None
        # A close whose stop_recording() outlived stop_timeout.
        self._hanging_close: threading.Thread | None = None

    @classmethod
    def from_spec(cls, spec: CameraSpec, defaults: CameraDefaults) -> Picamera2Camera:
        options = SpecOptions(spec)
        fps = options.number("fps", defaults.fps)
        size = options.size("size", (1280, 720))
        quality = options.integer("quality", 85, minimum=1)
        encoder = options.text("encoder", "auto")
        options.finish()
        if fps <= 0:
            raise SpecError(f"camera {spec}: fps must be positive")
        if quality is None or quality > 100:
            raise SpecError(f"camera {spec}: option quality must be 1-100")
        if encoder not in ENCODERS:
            raise SpecError(f"camera {spec}: option encoder must be one of {', '.join(ENCODERS)}")
        target = spec.target or "0"
        if not target.isdigit():
            raise SpecError(f"camera {spec}: the camera number must be 0, 1, …, not {target!r}")
        assert size is not None
        return cls(int(target), fps=fps, size=size, quality=quality, encoder=encoder)

    @property
    def description(self) -> str:
        width, height = self.size
        encoder = self.encoder_in_use or self.encoder
        return f"picamera2 camera {self.camera_num} ({width}x{height}, {encoder} encoder)"

    def _choose_encoder(self) -> tuple[Any, Any]:
        """The encoder for this board and option, and the Quality level to start it with."""
        library = self._library
        name = self.encoder
        if name == "auto":
            vc4 = library.platform.get_platform() == library.platform.Platform.VC4
            name = "mjpeg" if vc4 else "jpeg"
        self.encoder_in_use = name
        if name == "jpeg":
            return library.encoders.JpegEncoder(q=self.quality), None
        level = getattr(library.encoders.Quality, _quality_level(self.quality))
        return library.encoders.MJPEGEncoder(), level

    def open(self) -> None:
        if self._picam is not None:
            raise CameraBusy(f"picamera2 camera {self.camera_num} is already open")
        if self._hanging_close is not None and self._hanging_close.is_alive():
            raise CameraFailed(
                f"picamera2 camera {self.camera_num} is still stopping from its last session"
            )
        Picamera2 = self._library.picamera2.Picamera2  # noqa: N806 - the library's class
        try:
            cameras = Picamera2.global_camera_info()
        except Exception as error:
            raise CameraFailed(f"picamera2 cannot list cameras: {error}") from error
        if self.camera_num >= len(cameras):
            found = f"{len(cameras)} camera(s) found" if cameras else "no camera found"
            raise CameraNotFound(f"picamera2 camera {self.camera_num}: {found}; {LIST_HINT}")
        picam = self._acquire(Picamera2)
        try:
            config = picam.create_video_configuration(
                main={"size": self.size}, controls={"FrameRate": self.fps}
            )
            picam.configure(config)
            encoder, level = self._choose_encoder()
            self._handoff.clear()
            output = _frame_output(self._library, self.fps, self._handoff)
            picam.start_recording(encoder, output, quality=level)
        except Exception as error:
            self._stop_and_close(picam)
            raise CameraFailed(
                f"picamera2 camera {self.camera_num} failed to start: {error}"
            ) from error
        self._picam = picam

    def _acquire(self, Picamera2: Any) -> Any:  # noqa: N803 - the library's class
        try:
            return Picamera2(self.camera_num)
        except IndexError as error:  # picamera2 before 0.3.17
            raise CameraNotFound(f"picamera2 camera {self.camera_num}: {LIST_HINT}") from error
        except RuntimeError as error:
            if _is_busy(error):
                holders = ", ".join(device_holders()) or (
                    "another process (find it with 'sudo fuser -v /dev/media* /dev/video*')"
                )
                raise CameraBusy(
                    f"picamera2 camera {self.camera_num} is busy, held by {holders}; "
                    "stop it and retry"
                ) from error
            if "No camera number" in str(error):
                raise CameraNotFound(f"picamera2 camera {self.camera_num}: {LIST_HINT}") from error
            raise CameraFailed(f"picamera2 camera {self.camera_num}: {error}") from error

    def read(self, timeout: float) -> Frame | None:
        if self._picam is None:
            raise CameraFailed(f"picamera2 camera {self.camera_num} is not open")
        # A failing camera ("frontend has timed out") just stops delivering:
        # the hub's stall timeout turns that silence into a reopen.
        return self._handoff.take(timeout)

    def close(self) -> None:
        picam, self._picam = self._picam, None
        if picam is None:
            return
        self._handoff.clear()
        closer = threading.Thread(
            target=self._stop_and_close,
            args=(picam,),
            name=f"picamera2-close-{self.camera_num}",
            daemon=True,
        )
        closer.start()
        closer.join(self.stop_timeout)
        if closer.is_alive():
            self._hanging_close = closer
            log.error(
                "picamera2 camera %d did not stop within %.1f s (a loose cable?); "
                "it stays held until it does",
                self.camera_num,
                self.stop_timeout,
            )

    def _stop_and_close(self, picam: Any) -> None:
        try:
            picam.stop_recording()  # a no-op for whatever was not started
        except Exception:
            log.exception("picamera2 camera %d: stop_recording failed", self.camera_num)
        try:
            picam.close()
        except Exception:
            log.exception("picamera2 camera %d: close failed", self.camera_num)
