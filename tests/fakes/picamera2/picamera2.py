"""``picamera2.Picamera2``: acquire, configure, record, close (0.3.38's signatures).

What it models of the real library, beyond the signatures:

* sizes: ``create_video_configuration`` rounds an odd size down to even
  (``align_stream(optimal=False)``); ``configure`` refuses an odd one given
  by hand;
* sensor modes: an IMX708's three (1536x864 up to 120.13 fps, 2304x1296 up to
  56.03, 4608x2592 up to 14.35). ``configure`` takes the smallest that covers
  the output size; ``camera_controls["FrameDurationLimits"]`` then gives that
  mode's limits, and the sensor runs at the asked rate **clamped** to them,
  as libcamera does;
* ``stop()`` runs under the camera's lock (picamera2 runs it in its event
  loop, under its lock), so a ``close()`` from another thread (the atexit
  handler) waits for a hanging stop instead of racing it;
* versions (``FAKE_PICAMERA2_VERSION``): before 0.3.37 a missing camera is an
  ``IndexError``, and a ``Picamera2(N)`` that fails to acquire has already
  registered itself for camera N, so the camera N already open in the process
  stops delivering (picamera2 #1401);
* the transform: a configuration's ``transform`` must be a
  ``libcamera.Transform``; the sensor flips (the pictures come mirrored), and,
  like every Pi sensor, cannot transpose: libcamera then gives the picture as
  mounted, and ``camera_configuration()["transform"]`` says so (identity);
* controls: ``camera_ctrl_info`` and ``camera_controls`` are the Raspberry Pi
  IPA's (``_controls.py``), ``set_controls`` refuses one not advertised as
  picamera2 does, and exposure, gain and brightness change the pictures;
* the main stream's buffers: ``stride`` (rows aligned to 64 bytes, as the
  Pi's ISP pads them) and ``framesize`` once configured; with a
  ``pre_callback`` each frame is made in the stream's format (``XBGR8888``
  by default, ``XRGB8888``, ``RGB888``, ``BGR888``, ``YUV420``), handed to
  the callback as a :class:`~.request.CompletedRequest`, and encoded with what
  it drew (without one, the encoded pictures are cached: cheaper, same JPEGs).
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import io
import logging
import os
import sys
import threading
import time
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from libcamera import Transform
from PIL import Image

from . import _controls, _fake
from .encoders import Encoder
from .outputs import FileOutput, Output
from .request import CompletedRequest, _Request

_log = logging.getLogger("picamera2.picamera2")

_STREAM_KEYS = {"format", "size", "stride", "framesize", "preserve_ar"}
#: An IMX708's modes (Camera Module 3): size, fastest frame rate.
SENSOR_MODES = (((1536, 864), 120.13), ((2304, 1296), 56.03), ((4608, 2592), 14.35))
# Longest frame duration the IMX708 mode allows (µs), as libcamera reports it.
_LONGEST_FRAME_US = 126_002_236
# Camera number → the Picamera2 registered for it in this process (picamera2's
# CameraManager.cameras): requests are delivered to whichever object is there.
_REGISTERED: dict[int, Picamera2] = {}


class Preview(Enum):
    NULL = 0
    DRM = 1
    QT = 2
    QTGL = 3
    QTGL_DIRECT = 4


# (hflip, vflip) the sensor does, the picture's (factor, offset) from the controls.
_Look = tuple[tuple[bool, bool], tuple[float, float]]
#: Packed formats: bytes per pixel and where R, G, B are in a pixel.
_PACKED = {
    "XBGR8888": (4, (0, 1, 2)),
    "XRGB8888": (4, (2, 1, 0)),
    "RGB888": (3, (2, 1, 0)),
    "BGR888": (3, (0, 1, 2)),
}
_FORMATS = (*_PACKED, "YUV420")
_STRIDE_ALIGN = 64


@functools.lru_cache(maxsize=16)
def _pictures(folder: Path, size: tuple[int, int], look: _Look) -> tuple[Any, ...]:
    """The sensor's pictures at ``size`` as RGB arrays, flipped and exposed as ``look`` says."""
    (hflip, vflip), (factor, offset) = look
    pictures = []
    for path in sorted(folder.glob("*.jpg")):
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB").resize(size), dtype=np.float32)
        pixels = pixels[:, ::-1] if hflip else pixels
        pixels = pixels[::-1] if vflip else pixels
        pixels = np.clip(pixels * factor + offset, 0, 255).astype(np.uint8)
        pictures.append(pixels)
    if not pictures:
        raise RuntimeError(f"fake picamera2: no *.jpg pictures in {folder}")
    return tuple(pictures)


def _encode(pixels: Any, quality: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


@functools.lru_cache(maxsize=16)
def _encoded_frames(
    folder: Path, size: tuple[int, int], quality: int, look: _Look
) -> tuple[bytes, ...]:
    """The sensor's pictures at ``size`` as JPEGs; cached, so reopening costs nothing."""
    return tuple(_encode(pixels, quality) for pixels in _pictures(folder, size, look))


def _planes(buffer: bytearray, stream: dict[str, Any]) -> list[Any]:
    """Views of a buffer of the stream's format: [pixels] (rows, columns, depth) for a
    packed format, [Y, U, V] (U and V half size) for YUV420."""
    width, height = stream["size"]
    stride = stream["stride"]
    flat = np.frombuffer(buffer, dtype=np.uint8)
    if stream["format"] in _PACKED:
        depth = _PACKED[stream["format"]][0]
        rows = flat[: stride * height].reshape(height, stride)[:, : width * depth]
        return [rows.reshape(height, width, depth)]
    planes = [flat[: stride * height].reshape(height, stride)[:, :width]]
    half = stride // 2
    for index in (0, 1):
        start = stride * height + index * half * (height // 2)
        plane = flat[start : start + half * (height // 2)].reshape(height // 2, half)
        planes.append(plane[:, : width // 2])
    return planes


def _to_buffer(pixels: Any, stream: dict[str, Any]) -> bytearray:
    """An RGB picture laid out in a buffer of the stream's format and stride."""
    buffer = bytearray(stream["framesize"])
    planes = _planes(buffer, stream)
    if stream["format"] in _PACKED:
        (packed,) = planes
        packed[...] = 255
        for channel, at in enumerate(_PACKED[stream["format"]][1]):
            packed[:, :, at] = pixels[:, :, channel]
        return buffer
    ycbcr = np.asarray(Image.fromarray(pixels).convert("YCbCr"))
    planes[0][...] = ycbcr[:, :, 0]
    planes[1][...], planes[2][...] = ycbcr[::2, ::2, 1], ycbcr[::2, ::2, 2]
    return buffer


def _from_buffer(buffer: bytearray, stream: dict[str, Any]) -> Any:
    """The RGB picture in a buffer of the stream's format (what an encoder reads)."""
    planes = _planes(buffer, stream)
    if stream["format"] in _PACKED:
        return np.ascontiguousarray(planes[0][:, :, list(_PACKED[stream["format"]][1])])
    full = [planes[0]] + [p.repeat(2, axis=0).repeat(2, axis=1) for p in planes[1:]]
    image = Image.merge("YCbCr", [Image.fromarray(np.ascontiguousarray(p)) for p in full])
    return np.asarray(image.convert("RGB"))


def _mode_for(size: tuple[int, int]) -> tuple[tuple[int, int], float]:
    """The smallest sensor mode that covers ``size`` (else the largest)."""
    for mode in SENSOR_MODES:
        if mode[0][0] >= size[0] and mode[0][1] >= size[1]:
            return mode
    return SENSOR_MODES[-1]


class _Sensor(threading.Thread):
    """Delivers one frame per period on a monotonic schedule, like a free-running sensor.

    A late delivery (the machine is busy) is made up with the frames' scheduled
    timestamps, up to ``buffer_count`` frames behind, as libcamera's buffer queue
    would; beyond that the frames are lost, and the timestamps show the gap.
    """

    def __init__(self, camera: Picamera2, encoder: Encoder) -> None:
        super().__init__(name=f"fake-picamera2-sensor{camera.camera_idx}", daemon=True)
        self.camera = camera
        self.encoder = encoder
        self.stopping = threading.Event()

    def run(self) -> None:
        fail_after = _fake.fail_after()
        start = time.monotonic_ns()
        seq = 0
        while not self.stopping.is_set():
            if fail_after is not None and seq >= fail_after:
                # What libcamera prints when the CSI-2 link dies; then nothing comes.
                print(
                    "ERROR RPI pipeline_base.cpp: Camera frontend has timed out!", file=sys.stderr
                )
                self.stopping.wait()
                return
            period_ns = int(1e9 / self.camera.frame_rate())
            due = start + seq * period_ns
            late = time.monotonic_ns() - due
            if late < 0:
                if self.stopping.wait(-late / 1e9):
                    return
            elif late > self.camera.buffer_count * period_ns:
                seq += late // period_ns  # frames lost: no buffer was free for them
                continue
            # Requests go to whichever object is registered for the camera (#1401).
            if _REGISTERED.get(self.camera.camera_idx) is self.camera:
                self.encoder.encode_frame(self.camera._frame(seq, due, self.encoder), due)
            seq += 1


class Picamera2:
    """One camera. The constructor acquires it; ``close()`` releases it."""

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        """Id, Model, Location, Rotation and Num of each attached camera; does not acquire."""
        return [
            {
                "Model": "imx708",
                "Location": 2,
                "Rotation": 180,
                "Id": f"/base/soc/i2c0mux/i2c@{num}/imx708@1a",
                "Num": num,
            }
            for num in range(_fake.camera_count())
        ]

    def __init__(
        self,
        camera_num: int = 0,
        verbose_console: int | None = None,
        tuning: Any = None,
        allocator: Any = None,
    ) -> None:
        self.is_open = False
        self.started = False
        self._lock_fd: int | None = None
        self._sensor: _Sensor | None = None
        self._encoders: set[Encoder] = set()
        # picamera2 runs stop_() in its event loop under this lock.
        self.lock = threading.RLock()
        old = _fake.version() < (0, 3, 37)
        cameras = self.global_camera_info()
        if not old and camera_num >= len(cameras):
            raise RuntimeError(
                f"No camera number {camera_num} found - "
                'use "rpicam-hello --list-cameras" to check connected cameras'
            )
        camera_num = cameras[camera_num]["Num"]  # IndexError before 0.3.37
        self.camera_idx = camera_num
        self.camera_config: dict[str, Any] | None = None
        self.controls: dict[str, Any] = {}
        self._limits = self._mode_limits(SENSOR_MODES[-1])
        self.camera_ctrl_info = _controls.control_info(self._limits[:2])
        self.buffer_count = 6
        # Called with each completed request before the encoder gets it (None: not).
        self.pre_callback: Any = None
        if old:
            _REGISTERED[camera_num] = self  # before acquiring: picamera2 #1401
        try:
            self._lock_fd = self._acquire(camera_num)
        except Exception as e:
            _log.error("Camera __init__ sequence did not complete.")
            raise RuntimeError("Camera __init__ sequence did not complete.") from e
        _REGISTERED[camera_num] = self
        self.is_open = True
        _fake.record(camera_num, "open")
        atexit.register(self.close)

    @staticmethod
    def _acquire(camera_num: int) -> int:
        fd = os.open(_fake.lock_path(camera_num), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            # libcamera's Camera::acquire() returns -EBUSY; the bindings raise this.
            raise RuntimeError("Failed to acquire camera: Device or resource busy") from None
        return fd

    def __enter__(self) -> Picamera2:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- configuration -------------------------------------------------------

    @staticmethod
    def _mode_limits(mode: tuple[tuple[int, int], float]) -> tuple[int, int, None]:
        return (round(1e6 / mode[1]), _LONGEST_FRAME_US, None)

    @property
    def camera_controls(self) -> dict[str, tuple[Any, Any, Any]]:
        """(min, max, default) per control; FrameDurationLimits from the configured mode."""
        return {k: (v[1].min, v[1].max, v[1].default) for k, v in self.camera_ctrl_info.items()}

    @property
    def sensor_modes(self) -> list[dict[str, Any]]:
        return [
            {"format": "SRGGB10_CSI2P", "size": size, "fps": fps, "bit_depth": 10}
            for size, fps in SENSOR_MODES
        ]

    def create_video_configuration(  # noqa: PLR0917 - upstream's signature
        self,
        main: dict[str, Any] | None = None,
        lores: dict[str, Any] | None = None,
        raw: dict[str, Any] | None = None,
        transform: Any = Transform(),  # noqa: B008 - upstream's default, shared as upstream's
        colour_space: Any = None,
        buffer_count: int = 6,
        controls: dict[str, Any] | None = None,
        display: str | None = "main",
        encode: str | None = "main",
        queue: bool = True,
        sensor: dict[str, Any] | None = None,
        use_case: str = "video",
    ) -> dict[str, Any]:
        if not self.is_open:
            raise RuntimeError("Camera not opened")
        stream = {"format": "XBGR8888", "size": (1280, 720), "preserve_ar": True}
        for key, value in (main or {}).items():
            if key not in _STREAM_KEYS:
                valid = ", ".join(sorted(_STREAM_KEYS))
                raise ValueError(f"Bad key {key!r}: valid stream configuration keys are {valid}")
            stream[key] = value
        # align_stream(main, optimal=False): both dimensions rounded down to even.
        width, height = stream["size"]
        stream["size"] = (width - width % 2, height - height % 2)
        return {
            "use_case": use_case,
            "transform": transform,
            "colour_space": colour_space,
            "buffer_count": buffer_count,
            "queue": queue,
            "main": stream,
            "lores": lores,
            "raw": raw,
            "controls": {"FrameDurationLimits": (33333, 33333)} | (controls or {}),
            "sensor": sensor,
            "display": display,
            "encode": encode,
        }

    def configure(self, camera_config: dict[str, Any] | str | None = None) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        if camera_config is None or isinstance(camera_config, str):
            camera_config = self.create_video_configuration()
        if not isinstance(camera_config["transform"], Transform):
            raise RuntimeError("Transform has incorrect type")
        main = camera_config["main"]
        width, height = main["size"]
        if width % 2 or height % 2:
            raise RuntimeError("width and height should be even")
        if main["format"] not in _FORMATS:
            raise RuntimeError(f"fake picamera2: format {main['format']} not modelled")
        # A Pi sensor flips but cannot transpose: libcamera answers a transposing
        # orientation with the picture as mounted, and picamera2 reports it back.
        asked = camera_config["transform"]
        delivered = Transform() if asked.transpose or _fake.no_flips() else Transform(asked)
        depth = _PACKED[main["format"]][0] if main["format"] in _PACKED else 1
        stride = -(-width * depth // _STRIDE_ALIGN) * _STRIDE_ALIGN
        framesize = stride * height
        if depth == 1:  # YUV420: half-width, half-height chroma planes follow
            framesize += 2 * (stride // 2) * (height // 2)
        camera_config = {
            **camera_config,
            "transform": delivered,
            "main": {**main, "stride": stride, "framesize": framesize},
        }
        self.camera_config = camera_config
        self.buffer_count = camera_config["buffer_count"]
        self._limits = self._mode_limits(_mode_for((width, height)))
        # As picamera2 after configuring: the controls' limits are the mode's.
        self.camera_ctrl_info = _controls.control_info(self._limits[:2])
        self.controls = {}
        self.set_controls(camera_config["controls"])

    def set_controls(self, controls: dict[str, Any]) -> None:
        # FrameRate is a virtual control for FrameDurationLimits, as upstream.
        controls = dict(controls)
        if "FrameRate" in controls:
            duration = int(1e6 / controls.pop("FrameRate"))
            controls["FrameDurationLimits"] = (duration, duration)
        for name in controls:
            if name not in self.camera_ctrl_info:  # picamera2's Controls.__setattr__
                raise RuntimeError(f"Control {name} is not advertised by libcamera")
        changed = {**self.controls, **controls}
        if self.started:
            for encoder in self._encoders:
                self._prepare(encoder, changed)
        self.controls = changed  # from the next frame on, none lost (as on a Pi)

    def _look(self, controls: dict[str, Any] | None = None) -> _Look:
        assert self.camera_config is not None
        transform = self.camera_config["transform"]
        gain = _controls.picture_gain(self.controls if controls is None else controls)
        return (transform.hflip, transform.vflip), gain

    def _prepare(self, encoder: Encoder, controls: dict[str, Any] | None = None) -> None:
        """Make the pictures for these controls before the sensor needs them (in the
        caller's thread: the sensor never waits for them, and loses no frame)."""
        assert self.camera_config is not None
        size = tuple(self.camera_config["main"]["size"])
        _encoded_frames(_fake.frames_dir(), size, encoder.jpeg_quality(), self._look(controls))

    def _frame(self, seq: int, due_ns: int, encoder: Encoder) -> bytes:
        """The sensor's frame ``seq`` as the encoder's JPEG: through the pre-callback,
        when one is set, in the main stream's format."""
        assert self.camera_config is not None
        main = self.camera_config["main"]
        look = self._look()
        size = tuple(main["size"])
        if self.pre_callback is None:
            frames = _encoded_frames(_fake.frames_dir(), size, encoder.jpeg_quality(), look)
            return frames[seq % len(frames)]
        pictures = _pictures(_fake.frames_dir(), size, look)
        buffer = _to_buffer(pictures[seq % len(pictures)], main)
        request = CompletedRequest(_Request({"main": buffer}, {"SensorTimestamp": due_ns}), self)
        self.pre_callback(request)
        request.release()
        return _encode(_from_buffer(buffer, main), encoder.jpeg_quality())

    def frame_rate(self) -> float:
        """Fake-only: the rate the sensor runs at: the asked FrameDurationLimits clamped
        to the mode's, as libcamera clamps them."""
        shortest, longest, _ = self._limits
        asked = self.controls["FrameDurationLimits"][0]
        return 1e6 / min(max(asked, shortest), longest)

    def camera_configuration(self) -> dict[str, Any] | None:
        return self.camera_config

    # -- recording -------------------------------------------------------------

    def start_encoder(
        self,
        encoder: Encoder | None = None,
        output: Output | str | None = None,
        pts: Any = None,
        quality: Any = None,
        name: str | None = None,
    ) -> None:
        if encoder is None:
            raise RuntimeError("No encoder specified")
        if output is not None:
            encoder.output = FileOutput(output, pts=pts) if isinstance(output, str) else output
        if not self.camera_config:
            raise RuntimeError("Camera has not been configured")
        encoder.width, encoder.height = self.camera_config["main"]["size"]
        # As upstream: a nominal frame rate for encoders that want one, capped at 30 fps.
        if getattr(encoder, "framerate", None) is None:
            encoder.framerate = 1e6 / max(self._limits[0], 33333)
        encoder.start(quality=quality)
        self._encoders.add(encoder)

    def start(self, config: Any = None, show_preview: bool = False) -> None:
        if show_preview:
            raise RuntimeError("fake picamera2: a server must never start a preview")
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        if self.started:
            return
        (encoder,) = self._encoders
        self._prepare(encoder)
        self._sensor = _Sensor(self, encoder)
        self._sensor.start()
        self.started = True

    def start_recording(  # noqa: PLR0917 - upstream's signature
        self,
        encoder: Encoder,
        output: Output | str,
        pts: Any = None,
        config: Any = None,
        quality: Any = None,
        name: str | None = None,
    ) -> None:
        if not self.camera_config and config is None:
            config = "video"
        if config is not None:
            self.configure(config)
        self.start_encoder(encoder, output, pts=pts, quality=quality, name=name)
        self.start()

    def stop(self) -> None:
        with self.lock:
            if not self.started:
                _log.debug("Camera was not started")
                return
            assert self._sensor is not None
            # A camera whose frontend timed out can take this long to stop (or forever).
            time.sleep(_fake.stop_hang())
            self._sensor.stopping.set()
            self._sensor.join()
            self._sensor = None
            self.started = False

    def stop_encoder(self, encoders: Any = None) -> None:
        for encoder in list(self._encoders):
            encoder.stop()
        self._encoders.clear()

    def stop_recording(self) -> None:
        self.stop()
        self.stop_encoder()

    def start_preview(self, preview: Any = None, **kwargs: Any) -> None:
        raise RuntimeError("fake picamera2: a server must never start a preview")

    def close(self) -> None:
        atexit.unregister(self.close)
        with self.lock:
            if not self.is_open:
                return
            self.stop()
            assert self._lock_fd is not None
            os.close(self._lock_fd)  # drops the flock: the camera is released
            self._lock_fd = None
            self.is_open = False
            self.camera_config = None
            if _REGISTERED.get(self.camera_idx) is self:
                del _REGISTERED[self.camera_idx]
            _fake.record(self.camera_idx, "close")
