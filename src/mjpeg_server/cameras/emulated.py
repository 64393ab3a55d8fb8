"""A camera that plays a folder of JPEGs at a steady frame rate.

It stands in for hardware in demos, tests and benchmarks, and it behaves like a
device where that matters:

* frames are paced on a monotonic deadline schedule: frame ``n`` is due at
  ``start + n / fps`` (no drift) and is stamped with that moment, its capture
  time, not with the moment a busy reader got round to it;
* like a sensor with a second buffer, a reader up to :data:`BUFFERED_FRAMES`
  periods late still gets the frames it missed, back to back; later than that
  (a stall) the missed frames are lost, no burst follows, and the sequence
  number shows the gap as a real camera's would;
* ``read`` returns ``None`` when no frame is due within its timeout;
* with ``lock=PATH`` it holds an exclusive ``flock`` while open, so a second
  process opening the same "device" gets :class:`CameraBusy` as with a Pi camera.

Fault injection for tests, as spec options (``emulated?fail_after=30``):

==============  ==============================================================
``fps``         frames per second (default: the server's ``--fps``)
``open_delay``  seconds ``open()`` takes (a slow device)
``close_delay`` seconds ``close()`` takes (a slow release, failure mode F3)
``fail_after``  raise :class:`CameraFailed` after N frames of each session
``stall_after`` deliver nothing after N frames of each session (F9)
``fail_opens``  the first N calls to ``open()`` raise :class:`CameraNotFound`
``lock``        path of a lock file held exclusively while open
==============  ==============================================================

Picture options: ``size=WxH`` and ``quality=Q`` re-encode the frames (once,
when the camera opens: no per-frame cost), and the picture package's
``rotate``, ``hflip``, ``vflip``, ``overlay`` and ``overlay_position`` are done
in software on each frame, as for any backend that cannot do them itself.
"""

from __future__ import annotations

import fcntl
import importlib
import io
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..picture import PictureSettings
from ..picture.settings import OVERLAY_HINT, picture_controls
from ..wire.jpeg import jpeg_end, jpeg_size
from ._handoff import BUFFERED_FRAMES
from ._picture import SoftwarePicture
from .base import CameraBusy, CameraFailed, CameraNotFound, Frame
from .controls import Control, quality_control
from .spec import CameraDefaults, CameraSpec, SpecError, SpecOptions

#: Largest ``size`` the emulated camera scales its frames to.
MAX_SIZE = (4096, 4096)
DEFAULT_QUALITY = 85


def bundled_frames_dir() -> Path:
    """The demo frames: ``fixtures/frames``, which a wheel installs as ``mjpeg_server/frames``.

    An editable install runs from the checkout, where they are still in ``fixtures/``.
    """
    package = Path(__file__).resolve().parent.parent
    installed, checkout = package / "frames", package.parents[1] / "fixtures" / "frames"
    return installed if installed.is_dir() or not checkout.is_dir() else checkout


def load_frames(folder: Path) -> list[bytes]:
    """The ``*.jpg``/``*.jpeg`` files of ``folder`` in natural order (2.jpg before 10.jpg),
    each up to the end of its picture (:func:`~mjpeg_server.wire.jpeg.jpeg_end`).

    Anything in the way (a folder or file that cannot be read, an entry named
    like a frame that is no file) is a :class:`CameraNotFound` naming it, which
    start-up reports in one line.
    """
    if not folder.is_dir():
        raise CameraNotFound(f"emulated camera: no such folder {str(folder)!r}")

    def natural(path: Path) -> list[int | str]:
        return [int(part) if part.isdecimal() else part for part in re.split(r"(\d+)", path.name)]

    try:
        names = [p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg")]
    except OSError as error:
        raise CameraNotFound(
            f"emulated camera: cannot read folder {str(folder)!r}: {error.strerror}"
        ) from None
    paths = sorted(names, key=natural)
    if not paths:
        raise CameraNotFound(f"emulated camera: no .jpg files in {str(folder)!r}")
    frames = []
    for path in paths:
        data = _read_file(path)
        end = jpeg_end(data)
        if end is None:
            raise CameraNotFound(f"emulated camera: {str(path)!r} is not a JPEG file")
        frames.append(data[:end])
    return frames


def _read_file(path: Path) -> bytes:
    """The bytes of a regular file; anything else is a CameraNotFound.

    Opened without blocking and checked on the open descriptor: a FIFO named
    ``x.jpg`` would otherwise wait for a writer for ever, and checking the name
    before opening it would leave a window for it to change.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise CameraNotFound(
            f"emulated camera: cannot read {str(path)!r}: {error.strerror}"
        ) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CameraNotFound(f"emulated camera: {str(path)!r} is not a file")
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read()
    except OSError as error:
        raise CameraNotFound(
            f"emulated camera: cannot read {str(path)!r}: {error.strerror}"
        ) from None
    finally:
        os.close(fd)


def reencode(frames: Sequence[bytes], size: tuple[int, int] | None, quality: int) -> list[bytes]:
    """``frames`` scaled to ``size`` (if given) and encoded at ``quality``, with Pillow."""
    image_module = importlib.import_module("PIL.Image")
    out = []
    for data in frames:
        with image_module.open(io.BytesIO(data)) as image:
            picture = image.convert("RGB")
            if size is not None and picture.size != size:
                picture = picture.resize(size, image_module.Resampling.BILINEAR)
            buffer = io.BytesIO()
            picture.save(buffer, "JPEG", quality=quality)
            out.append(buffer.getvalue())
    return out


def _frame_size(jpeg: bytes) -> tuple[int, int]:
    return jpeg_size(jpeg) or (0, 0)


class EmulatedCamera(SoftwarePicture):
    """Cycles ``frames`` at ``fps``. See the module docstring for the fault options."""

    def __init__(
        self,
        frames: Sequence[bytes],
        *,
        fps: float = 30.0,
        source: str = "bundled frames",
        open_delay: float = 0.0,
        close_delay: float = 0.0,
        fail_after: int | None = None,
        stall_after: int | None = None,
        fail_opens: int = 0,
        lock_path: Path | None = None,
        size: tuple[int, int] | None = None,
        quality: int | None = None,
        picture: PictureSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not frames:
            raise ValueError("an emulated camera needs at least one frame")
        if not fps > 0:
            raise ValueError(f"fps must be positive, not {fps}")
        self.source_frames = list(frames)
        self.frames = self.source_frames
        #: Scale the frames to this size / encode them at this quality (None: as they are).
        self.size = size
        self.quality = quality
        self.picture = picture or PictureSettings()
        self.fps = fps
        self.source = source
        self.open_delay = open_delay
        self.close_delay = close_delay
        self.fail_after = fail_after
        self.stall_after = stall_after
        self.lock_path = lock_path
        self._fail_opens_left = fail_opens
        self._clock = clock
        self._wall_clock = wall_clock
        self._period = 1.0 / fps
        # Held while open. A read() waits for its frame's due time by trying to
        # take it, so close() (which releases it) ends the wait at once: one C call
        # per frame, where Event.wait costs a new lock and several Python calls.
        self._gate = threading.Lock()
        self._open = False
        self._lock_fd: int | None = None
        self._start = 0.0
        self._wall_start = 0.0
        self._next_seq = 0
        self._delivered = 0
        #: How many times the camera was opened and closed (tests check release).
        self.opens = 0
        self.closes = 0

    @classmethod
    def from_spec(cls, spec: CameraSpec, defaults: CameraDefaults) -> EmulatedCamera:
        options = SpecOptions(spec)
        fps = options.number("fps", defaults.fps)
        if fps <= 0:
            raise SpecError(f"camera {spec}: fps must be positive")
        camera_kwargs = {
            "open_delay": options.number("open_delay", 0.0),
            "close_delay": options.number("close_delay", 0.0),
            "fail_after": options.integer("fail_after", None, minimum=1),
            "stall_after": options.integer("stall_after", None, minimum=0),
            "fail_opens": options.integer("fail_opens", 0) or 0,
        }
        lock = options.text("lock")
        size = options.size("size", None)
        quality = options.integer("quality", None, minimum=1)
        picture = PictureSettings.take(options, spec)
        options.finish()
        if quality is not None and quality > 100:
            raise SpecError(f"camera {spec}: option quality must be 1-100")
        if size is not None and (size[0] > MAX_SIZE[0] or size[1] > MAX_SIZE[1]):
            raise SpecError(f"camera {spec}: option size must be at most 4096x4096")
        if size is not None or quality is not None:
            try:
                importlib.import_module("PIL.Image")
            except ImportError:
                raise SpecError(
                    f"camera {spec}: size and quality need Pillow: {OVERLAY_HINT}"
                ) from None
        folder = Path(spec.target).expanduser() if spec.target else bundled_frames_dir()
        try:
            frames = load_frames(folder)
        except CameraNotFound as error:
            raise SpecError(str(error)) from None
        return cls(
            frames,
            fps=fps,
            source=str(folder) if spec.target else "bundled frames",
            lock_path=Path(lock) if lock else None,
            size=size,
            quality=quality,
            picture=picture,
            **camera_kwargs,  # type: ignore[arg-type]
        )

    @property
    def description(self) -> str:
        return f"emulated ({len(self.frames)} frames from {self.source})"

    @property
    def picture_quality(self) -> int:
        return self.quality or DEFAULT_QUALITY

    def controls(self) -> list[Control]:
        width, height = self.size or _frame_size(self.source_frames[0])
        return [
            Control("fps", "number", self.fps, minimum=0, default=30.0),
            Control(
                "size",
                "size",
                f"{width}x{height}",
                maximum=MAX_SIZE[0],
                description="frames scaled to this size",
            ),
            quality_control(self.picture_quality, "JPEG quality (frames re-encoded)"),
            *picture_controls(self.picture, live=True),
        ]

    def open(self) -> None:
        if self._open:
            raise CameraBusy("emulated camera is already open")
        if self._fail_opens_left > 0:
            self._fail_opens_left -= 1
            raise CameraNotFound("emulated camera: injected open failure (fail_opens)")
        if self.lock_path is not None:
            self._lock_fd = self._acquire_lock(self.lock_path)
        # Sleeping is the point: the option emulates a slow device.
        time.sleep(self.open_delay)
        if (
            self.size is not None or self.quality is not None
        ) and self.frames is self.source_frames:
            self.frames = reencode(self.source_frames, self.size, self.picture_quality)
        self._start_picture()
        self.opens += 1
        self._start = self._clock()
        self._wall_start = self._wall_clock()
        self._next_seq = 0
        self._delivered = 0
        self._gate.acquire()
        self._open = True

    @staticmethod
    def _acquire_lock(path: Path) -> int:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise CameraBusy(
                f"emulated camera {str(path)!r} is held by pid {holder}; "
                "stop that process or wait for it to release the camera"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        return fd

    def read(self, timeout: float) -> Frame | None:
        if not self._open:
            raise CameraFailed("emulated camera is not open")
        if self.fail_after is not None and self._delivered >= self.fail_after:
            raise CameraFailed(f"emulated camera: injected failure after {self.fail_after} frames")
        if self.stall_after is not None and self._delivered >= self.stall_after:
            self._wait_for_close(timeout)  # a stalled device: nothing comes
            return None
        now = self._clock()
        due = self._start + self._next_seq * self._period
        if due > now:
            if due - now > timeout:
                self._wait_for_close(timeout)
                return None
            if self._wait_for_close(due - now):
                raise CameraFailed("emulated camera was closed while reading")
        else:
            # Frames older than the buffers are gone, as on a sensor whose reader
            # stalled: skip them rather than burst to catch up.
            current = int((now - self._start) / self._period)
            self._next_seq = max(self._next_seq, current - BUFFERED_FRAMES + 1)
        seq = self._next_seq
        self._next_seq += 1
        self._delivered += 1
        return self._picture(
            Frame(
                jpeg=self.frames[seq % len(self.frames)],
                timestamp=self._wall_start + seq * self._period,
                seq=seq,
            )
        )

    def _wait_for_close(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if the camera is closed meanwhile (→ True)."""
        if self._gate.acquire(timeout=seconds):
            self._gate.release()
            return True
        return False

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        self._gate.release()
        time.sleep(self.close_delay)  # a slow release, as some drivers have
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the fd drops the flock
            self._lock_fd = None
        self.closes += 1
