"""Raspberry Pi cameras through picamera2 (the ``pi`` extra; on the Pi, from apt).

Spec: ``picamera2[:N][?size=WxH&quality=Q&encoder=auto|mjpeg|jpeg&fps=F]``, where
``N`` is the camera number (default 0, as ``rpicam-hello --list-cameras``
numbers them), ``size`` defaults to 1280x720, ``quality`` (1-100) to 85.

**Encoder.** ``auto`` takes the hardware ``MJPEGEncoder`` only where it is
really there: picamera2 says the board is VC4 (Pi 4 and older) *and*
``/dev/video11``, the node picamera2's V4L2 encoder opens, is a
memory-to-memory device that produces MJPEG (``v4l2.py`` asks it). Anywhere
else (a Pi 5, whose ``MJPEGEncoder`` is libav's software encoder and costs
more than simplejpeg; a machine without the codec) it takes ``JpegEncoder``.

**Quality**, 1-100, means what each encoder can do with it:

* ``jpeg`` (``JpegEncoder``, simplejpeg/libjpeg-turbo): the JPEG quality itself.
* ``mjpeg`` on VC4 (the V4L2 hardware encoder): it has no quality setting, only
  a bitrate. ``quality`` picks the nearest of picamera2's levels (25 VERY_LOW,
  35 LOW, 50 MEDIUM, 65 HIGH, 80 VERY_HIGH), which picamera2 turns into
  16/20/30/40/50 Mbit/s for 1920x1080 at 30 fps, scaled by the frame area and
  by min(fps, 30): above 30 fps each frame gets proportionally fewer bits.
* ``mjpeg`` on a Pi 5 (libav's software MJPEG): the same levels become libav's
  quantiser ``qp`` 31/15/10/5/3 (lower is better).

How frames flow: the encoder hands each JPEG, as the ``bytes`` it made, to
this backend's :class:`picamera2.outputs.Output`, which puts it in the
handoff (``_handoff.py``) that :meth:`Picamera2Camera.read` takes from: no byte
is copied, a hub a frame late still gets every frame, and one further behind
loses the oldest (nothing queues without bound).

**What the camera delivers, not what was asked.** After ``configure`` the
backend reads back the size (picamera2 rounds it down to even, libcamera may
change it further) and the frame-duration limits (libcamera clamps the asked
rate to the sensor mode's): :attr:`~Picamera2Camera.size_actual` and
:attr:`~Picamera2Camera.fps_actual`, shown in the description and ``/status``.

Timestamps and numbering come from the sensor, not from arrival: picamera2
passes each frame's ``SensorTimestamp`` as µs since the recording's first
frame. ``Frame.timestamp`` is the wall-clock arrival of that first frame plus
this offset, so intervals are the sensor's own (encoder jitter does not show)
and the absolute time is late only by the first frame's encode latency.
``Frame.seq`` advances by the number of frame periods (at the rate the camera
really runs) between two timestamps, so a frame the camera or the encoder
dropped leaves a gap, and only then.

**Controls**: picture options and the camera's own (``rotate``, ``overlay``,
``ExposureTime`` …) are in ``_picamera2_controls.py``.

Never starts a preview (it would open a window on a monitor attached to the
Pi). Errors become the kit's: no camera → :class:`CameraNotFound`, held by
another process → :class:`CameraBusy` naming the process that holds the
camera's media device when it can be found, anything else →
:class:`CameraFailed`.

**A hung stop.** ``stop_recording()`` can hang on a failing camera ("Camera
frontend has timed out!", picamera2 #1264, #1065). :meth:`close` gives it
``stop_timeout`` seconds, then leaves it to finish in the background and
raises :class:`CameraFailed` saying so and what recovers it (the hub puts
that in ``/status``); until the stop ends, :meth:`open` fails with the same
advice. picamera2 registers its own ``close()`` to run at exit, which would
wait forever for the hung stop: the backend unregisters it and closes the
camera itself, at exit too, for at most ``EXIT_STOP_TIMEOUT`` seconds, so the
server still exits when told to.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import importlib.metadata
import io
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..picture import PictureSettings
from . import v4l2
from ._handoff import LatestFrames
from ._picamera2_controls import DEFAULT_SIZE, ENCODERS, Picamera2Controls
from .base import CameraBusy, CameraError, CameraFailed, CameraNotFound, Frame
from .spec import CameraDefaults, CameraSpec, SpecError, SpecOptions

__all__ = [
    "HARDWARE_ENCODER_NODE",
    "Picamera2Camera",
    "camera_holders",
    "delivered_fps",
    "hardware_mjpeg_encoder",
]

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "on Raspberry Pi OS run 'sudo apt install python3-picamera2' and create the venv with "
    "--system-site-packages (its libcamera bindings are not on PyPI)"
)
NUMPY_HINT = (
    "a numpy from pip in this venv shadows the one apt's picamera2 stack (simplejpeg) was "
    "built for: run 'pip uninstall numpy' in the venv (or pip install \"numpy<2\")"
)
LIST_HINT = "check the cable and run 'rpicam-hello --list-cameras'"
RECOVER_HINT = (
    "restart the server to recover (e.g. 'sudo systemctl restart mjpeg-server'); "
    "if the camera then fails again, check its cable and reboot the Pi"
)
#: The node picamera2's hardware MJPEGEncoder opens (V4L2Encoder._start), whatever the board.
HARDWARE_ENCODER_NODE = "/dev/video11"
#: Seconds a camera still open at interpreter exit gets to stop.
EXIT_STOP_TIMEOUT = 1.0
# The media devices of camera receivers (Unicam on Pi 4 and older, the RP1 CFE on
# a Pi 5): a process holding one holds a camera. Codec and ISP nodes are not
# the camera (another program encoding video does not make the camera busy).
CAMERA_MEDIA_MODELS = frozenset({"unicam", "rp1-cfe"})
# picamera2's JpegEncoder table (Quality → q); the hardware and libav MJPEG
# encoders take only a Quality level, so a quality option picks the nearest level.
_QUALITY_LEVELS = (("VERY_LOW", 25), ("LOW", 35), ("MEDIUM", 50), ("HIGH", 65), ("VERY_HIGH", 80))
_NUMPY_ABI = re.compile(r"numpy|_ARRAY_API|dtype size changed", re.IGNORECASE)


class _Library:
    """The picamera2 modules the backend uses, imported on first use."""

    def __init__(self) -> None:
        captured = io.StringIO()
        try:
            # numpy prints a screenful about a module built for another numpy
            # before it raises: keep it out of the one-line error.
            with contextlib.redirect_stderr(captured):
                self.picamera2 = importlib.import_module("picamera2")
                self.encoders = importlib.import_module("picamera2.encoders")
                self.outputs = importlib.import_module("picamera2.outputs")
                self.platform = importlib.import_module("picamera2.platform")
                # The configuration's Transform is libcamera's own type.
                self.libcamera = importlib.import_module("libcamera")
        except ModuleNotFoundError as error:
            if error.name != "picamera2.platform":
                raise CameraError(_import_problem(error)) from None
            raise CameraError(
                f"picamera2 {_installed_version()} is too old: the kit needs 0.3.13 or newer "
                "(on Raspberry Pi OS: sudo apt update && sudo apt install python3-picamera2)"
            ) from None
        except Exception as error:  # not only ImportError: see _import_problem
            log.debug("importing picamera2 printed: %s", captured.getvalue())
            raise CameraError(_import_problem(error)) from None
        if captured.getvalue().strip():
            log.warning("importing picamera2 printed: %s", captured.getvalue().strip())
        # picamera2 logs every open, configure and close at INFO; the server's
        # log says when cameras open and close already.
        quiet = logging.getLogger("picamera2")
        if quiet.level == logging.NOTSET and not log.isEnabledFor(logging.DEBUG):
            quiet.setLevel(logging.WARNING)


def _installed_version() -> str:
    try:
        return importlib.metadata.version("picamera2")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


def _import_problem(error: BaseException) -> str:
    """One line: why picamera2 cannot be imported, and the fix."""
    first_line = (str(error).strip().splitlines() or [""])[0][:200]
    what = f"{type(error).__name__}: {first_line}"
    if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] in (
        "picamera2",
        "libcamera",
    ):
        return f"picamera2 cannot be imported ({what}): {INSTALL_HINT}"
    if _NUMPY_ABI.search(str(error)):
        # apt's simplejpeg with a pip numpy >= 2: "numpy.dtype size changed"
        # (picamera2 #1088, #1211), or "numpy.core.multiarray failed to import".
        return f"picamera2 is installed but cannot be imported ({what}): {NUMPY_HINT}"
    return (
        f"picamera2 is installed but cannot be imported ({what}): "
        "run python3 -c 'import picamera2' to see the whole error"
    )


def delivered_fps(camera_controls: Mapping[str, Any], asked: float) -> float:
    """The frame rate the camera runs at: ``asked`` within the FrameDurationLimits (µs)
    libcamera advertises once configured (the sensor mode's limits)."""
    limits = camera_controls.get("FrameDurationLimits")
    if not limits:
        return asked
    shortest, longest = limits[0], limits[1]
    duration = 1e6 / asked
    if shortest and duration < shortest:
        duration = shortest
    if longest and duration > longest:
        duration = longest
    return 1e6 / duration


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

        # packet and audio arrived in picamera2 0.3.23; older ones pass three arguments.
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


def hardware_mjpeg_encoder(
    node: str = HARDWARE_ENCODER_NODE,
    query: Callable[[str], v4l2.Device | None] = v4l2.query,
) -> bool:
    """Whether ``node`` is a V4L2 memory-to-memory device that encodes MJPEG."""
    if not os.path.exists(node):
        return False
    device = query(node)
    return device is not None and device.is_m2m and "MJPG" in device.capture_formats


def choose_encoder(option: str, *, vc4: bool, hardware_mjpeg: Callable[[], bool]) -> str:
    """``"mjpeg"`` or ``"jpeg"`` for the ``encoder`` option on this machine."""
    if option != "auto":
        return option
    # picamera2's MJPEGEncoder is the V4L2 one only on VC4 (on a Pi 5 it is libav's,
    # slower than simplejpeg), and works only where its node is really a JPEG codec.
    return "mjpeg" if vc4 and hardware_mjpeg() else "jpeg"


def _camera_media_nodes(sys_root: Path) -> list[str] | None:
    """``/dev/mediaN`` of every camera receiver, or None when sysfs cannot tell."""
    devices = sys_root / "bus" / "media" / "devices"
    try:
        entries = sorted(devices.iterdir())
    except OSError:
        return None
    nodes = []
    for entry in entries:
        try:
            model = (entry / "model").read_text().strip()
        except OSError:
            continue
        if model in CAMERA_MEDIA_MODELS:
            nodes.append(f"/dev/{entry.name}")
    return nodes


def camera_holders(
    nodes: Iterable[str] | None = None,
    *,
    sys_root: Path = Path("/sys"),
    proc_root: Path = Path("/proc"),
) -> list[str]:
    """``"pid N (name)"`` for each other process holding one of ``nodes`` open.

    Default ``nodes``: the media devices of camera receivers (see
    :data:`CAMERA_MEDIA_MODELS`), or every ``/dev/mediaN`` when sysfs does not
    say which. Best effort: processes of other users are invisible without root.
    """
    wanted = set(_camera_media_nodes(sys_root) or []) if nodes is None else set(nodes)
    if nodes is None and not wanted:
        wanted_pattern: re.Pattern[str] | None = re.compile(r"/dev/media\d+")
    else:
        wanted_pattern = None
    holders = []
    for proc in proc_root.iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            targets = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
            held = any(
                target in wanted or (wanted_pattern and wanted_pattern.fullmatch(target))
                for target in targets
            )
            if held:
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


class Picamera2Camera(Picamera2Controls):
    """A Raspberry Pi camera recording JPEG frames. See the module docstring."""

    def __init__(
        self,
        camera_num: int = 0,
        *,
        fps: float = 30.0,
        size: tuple[int, int] = DEFAULT_SIZE,
        quality: int = 85,
        encoder: str = "auto",
        picture: PictureSettings | None = None,
        controls: Mapping[str, str] | None = None,
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
        self.picture = picture or PictureSettings()
        self.native = dict(controls or {})
        self.stop_timeout = stop_timeout
        self._library = library or _Library()
        self._handoff = LatestFrames()
        self._picam: Any = None
        #: The encoder in use since the last open ("mjpeg" or "jpeg").
        self.encoder_in_use: str | None = None
        #: The size the camera delivers, read back after configuring (None before).
        self.size_actual: tuple[int, int] | None = None
        #: The frame rate the camera runs at, read back after configuring (None before).
        self.fps_actual: float | None = None
        # The close in progress, if any (until it ends, at exit too).
        self._closing: threading.Thread | None = None
        # A close whose stop_recording() outlived stop_timeout, and since when.
        self._hanging_close: threading.Thread | None = None
        self._hung_since = 0.0

    @classmethod
    def from_spec(cls, spec: CameraSpec, defaults: CameraDefaults) -> Picamera2Camera:
        options = SpecOptions(spec)
        fps = options.number("fps", defaults.fps)
        size = options.size("size", DEFAULT_SIZE)
        quality = options.integer("quality", 85, minimum=1)
        encoder = options.text("encoder", "auto")
        controls = cls._take_controls(options, spec)
        options.finish()
        if fps <= 0:
            raise SpecError(f"camera {spec}: fps must be positive")
        if quality is None or quality > 100:
            raise SpecError(f"camera {spec}: option quality must be 1-100")
        if encoder not in ENCODERS:
            raise SpecError(f"camera {spec}: option encoder must be one of {', '.join(ENCODERS)}")
        camera_num = cls.camera_number(spec)
        if camera_num is None:
            raise SpecError(
                f"camera {spec}: the camera number must be 0, 1, …, not {spec.target!r}"
            )
        cls._check_spec_controls(spec, camera_num, controls["controls"])
        assert size is not None
        return cls(camera_num, fps=fps, size=size, quality=quality, encoder=encoder, **controls)

    @staticmethod
    def camera_number(spec: CameraSpec) -> int | None:
        target = spec.target or "0"
        return int(target) if target.isdecimal() else None

    @classmethod
    def device_of(cls, spec: CameraSpec) -> str | None:
        # Two specs for one camera cannot both open it, and with picamera2 <= 0.3.36
        # the second one's failed Picamera2(N) breaks the first (picamera2 #1401).
        number = cls.camera_number(spec)
        return None if number is None else f"picamera2 camera {number}"

    @property
    def description(self) -> str:
        width, height = self.size_actual or self.size
        encoder = self.encoder_in_use or self.encoder
        return f"picamera2 camera {self.camera_num} ({width}x{height}, {encoder} encoder)"

    def _choose_encoder(self) -> tuple[Any, Any]:
        """The encoder for this board and option, and the Quality level to start it with."""
        library = self._library
        name = choose_encoder(
            self.encoder,
            vc4=library.platform.get_platform() == library.platform.Platform.VC4,
            hardware_mjpeg=hardware_mjpeg_encoder,
        )
        self.encoder_in_use = name
        if name == "jpeg":
            return library.encoders.JpegEncoder(q=self.quality), None
        level = getattr(library.encoders.Quality, _quality_level(self.quality))
        return library.encoders.MJPEGEncoder(), level

    def open(self) -> None:
        if self._picam is not None:
            raise CameraBusy(f"picamera2 camera {self.camera_num} is already open")
        if self._hanging_close is not None:
            if self._hanging_close.is_alive():
                raise CameraFailed(self._still_stopping())
            self._hanging_close = self._closing = None
        Picamera2 = self._library.picamera2.Picamera2  # noqa: N806 - the library's class
        try:
            cameras = Picamera2.global_camera_info()
        except Exception as error:
            raise CameraFailed(f"picamera2 cannot list cameras: {error}") from error
        if self.camera_num >= len(cameras):
            found = f"{len(cameras)} camera(s) found" if cameras else "no camera found"
            raise CameraNotFound(f"picamera2 camera {self.camera_num}: {found}; {LIST_HINT}")
        picam = self._acquire(Picamera2)
        # picamera2 closes every camera at exit; after a hung stop that close waits
        # forever (for the lock the hung stop holds) and the process never exits.
        # This backend closes its camera itself: close(), or _close_at_exit.
        atexit.unregister(picam.close)
        try:
            config = picam.create_video_configuration(
                main={"size": self.size},
                controls={"FrameRate": self.fps},
                transform=self._transform(),
            )
            picam.configure(config)
            self._read_back(picam)
            self._start_picture(picam)
            encoder, level = self._choose_encoder()
            self._handoff.clear()
            assert self.fps_actual is not None
            output = _frame_output(self._library, self.fps_actual, self._handoff)
            picam.start_recording(encoder, output, quality=level)
        except Exception as error:
            self._stop_and_close(picam)
            raise CameraFailed(
                f"picamera2 camera {self.camera_num} failed to start: {self._explain(error)}"
            ) from error
        self._picam = picam
        atexit.unregister(self._close_at_exit)  # still registered after a hung close
        atexit.register(self._close_at_exit)

    def _read_back(self, picam: Any) -> None:
        """What the camera delivers, now that libcamera has configured it."""
        configuration = picam.camera_configuration()
        width, height = configuration["main"]["size"]
        self.size_actual = (int(width), int(height))
        self.fps_actual = delivered_fps(picam.camera_controls, self.fps)
        self._read_back_picture(picam, configuration)
        if self.size_actual != tuple(self.size):
            log.info(
                "picamera2 camera %d delivers %dx%d (asked %dx%d)",
                self.camera_num,
                *self.size_actual,
                *self.size,
            )
        if abs(self.fps_actual - self.fps) > 0.01:
            log.warning(
                "picamera2 camera %d runs at %.3g fps, not the %.3g asked: the sensor mode's "
                "limit for this size",
                self.camera_num,
                self.fps_actual,
                self.fps,
            )

    def _explain(self, error: BaseException) -> str:
        if self.encoder_in_use == "mjpeg" and HARDWARE_ENCODER_NODE in str(error):
            return (
                f"{error} (encoder=mjpeg needs the hardware JPEG encoder {HARDWARE_ENCODER_NODE}, "
                "which this machine lacks: use encoder=jpeg or auto)"
            )
        return str(error)

    def _acquire(self, Picamera2: Any) -> Any:  # noqa: N803 - the library's class
        try:
            return Picamera2(self.camera_num)
        except IndexError as error:  # picamera2 before 0.3.37
            raise CameraNotFound(f"picamera2 camera {self.camera_num}: {LIST_HINT}") from error
        except RuntimeError as error:
            if _is_busy(error):
                holders = ", ".join(camera_holders()) or (
                    "another process (find it with 'sudo fuser -v /dev/media*')"
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
        return self._picture(self._handoff.take(timeout))

    def close(self) -> None:
        self._close(self.stop_timeout)

    def _close_at_exit(self) -> None:
        """At interpreter exit: close what is still open, wait a moment for a close in
        progress, and never wait for a stop already known to hang."""
        closing = self._closing
        if self._picam is None:
            if closing is not None and closing is not self._hanging_close:
                closing.join(EXIT_STOP_TIMEOUT)
            return
        self._close(EXIT_STOP_TIMEOUT, at_exit=True)

    def _close(self, timeout: float, *, at_exit: bool = False) -> None:
        picam, self._picam = self._picam, None
        if picam is None:
            return
        self._handoff.clear()
        closer = self._closing = threading.Thread(
            target=self._stop_and_close,
            args=(picam,),
            name=f"picamera2-close-{self.camera_num}",
            daemon=True,
        )
        closer.start()
        closer.join(timeout)
        if not closer.is_alive():
            self._closing = None
            atexit.unregister(self._close_at_exit)
            return
        self._hanging_close = closer
        self._hung_since = time.time()
        log.error("%s", self._still_stopping())
        if not at_exit:
            raise CameraFailed(self._still_stopping())

    def _still_stopping(self) -> str:
        since = time.strftime("%H:%M:%S", time.localtime(self._hung_since))
        return (
            f"picamera2 camera {self.camera_num} has not stopped since {since}: "
            f"stop_recording() hung for more than {self.stop_timeout:g} s (a camera frontend "
            "timeout? picamera2 #1264) and the camera stays held until it returns; " + RECOVER_HINT
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
        # picamera2 leaves objects in reference cycles that only the cyclic
        # collector frees: the selectors of its camera-manager and event-loop
        # threads (an epoll fd each, two per open/close). Collect now, so that
        # a closed camera holds nothing and file descriptors do not pile up.
        gc.collect()
