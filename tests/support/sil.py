"""The software-in-the-loop (SIL) stack: real picamera2 on real libcamera's virtual camera.

libcamera's "virtual" pipeline handler is a camera made of software
(``ci/build-libcamera.sh`` builds it; ``tox -e sil`` runs the tier). The real
picamera2 runs on it unchanged except for the **adaptations** below: each one
stands in for something the virtual camera, or a machine without a Pi, lacks.
Nothing else is changed: picamera2's lifecycle, configuration, request loop,
encoder threads, outputs and ``close()`` are the library's own, which is what
makes the tier worth having. ``tests/sil/test_adaptations.py`` proves, for each
one, that it is still needed (it disables it in a child process and expects the
failure it exists for), so the tier says when picamera2 or libcamera fix one.

==========================  =====================================================
adaptation                  stands in for
==========================  =====================================================
``pykms``                   Raspberry Pi OS's python3-kms++ (not on PyPI), which
                            ``import picamera2`` needs for its DRM preview
``sensor-modes``            the Raw stream role, which the virtual camera rejects
                            and picamera2 reads its sensor modes from
``memfd-buffers``           ``/dev/dma_heap`` (absent in a container), where
                            picamera2's ``DmaAllocator`` gets capture buffers
``nv12-jpeg``               a JpegEncoder path for NV12, the only format the
                            virtual camera delivers
``pacing``                  a sensor's clock: the virtual camera completes a
                            request as soon as it is queued (1000+ fps) and
                            stamps it then; requests now wait for their slot on
                            the frame-duration grid, and the slot is the stamp
``sensor-flips``            a sensor's flips: the virtual camera accepts any
                            orientation, a transpose included, says it applied
                            it and delivers the picture unchanged; now the
                            buffers are flipped as a sensor reads out, and a
                            transpose, which no sensor does, is refused as
                            libcamera refuses it on a Pi
==========================  =====================================================

How they get into every process of the tier (the test process, the server
process, the children that open the camera): ``tests/sil/site/sitecustomize.py``
calls :func:`install` at interpreter start-up, and :func:`install` only
registers an import hook and a stand-in module, so a process that never
imports picamera2 pays nothing. ``MJPEG_SERVER_SIL_WITHOUT=name,name`` leaves
adaptations out (what the "still needed" tests do). Other tests may import this
module and call :func:`install` themselves.

Where the stack is: :func:`stack` runs the build script (building or reusing
the cached build) and returns the environment a process needs to load the
bindings, or why it cannot.

Fault injection (faults a real camera has, not adaptations), read per call so
that a test can set them for one server process:
``MJPEG_SERVER_SIL_FAIL_AFTER=N`` (the sensor delivers N frames per start,
then nothing, as after a frontend timeout) and ``MJPEG_SERVER_SIL_STOP_HANG=S``
(libcamera's ``Camera.stop()`` blocks S seconds, as it can then).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import mmap
import os
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .sil_sensor import sensor_flips

__all__ = [
    "ADAPTATIONS",
    "FAIL_AFTER_VARIABLE",
    "REQUIRE_VARIABLE",
    "STOP_HANG_VARIABLE",
    "VIRTUAL_CAMERA_ID",
    "WITHOUT_VARIABLE",
    "Adaptation",
    "Stack",
    "frames_dir",
    "install",
    "stack",
]

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "ci" / "build-libcamera.sh"
SITE_DIR = ROOT / "tests" / "sil" / "site"
#: Names of adaptations to leave out, comma-separated (tests of their need).
WITHOUT_VARIABLE = "MJPEG_SERVER_SIL_WITHOUT"
#: Set (to 1) where the tier must run: CI. A stack that cannot be built then fails.
REQUIRE_VARIABLE = "MJPEG_SERVER_REQUIRE_SIL"
#: The build script's exit status for "cannot build here" (no source, no packages).
_UNAVAILABLE = 3
#: The virtual camera's id (and picamera2's "Id"): ci/build-libcamera.sh's virtual.yaml.
VIRTUAL_CAMERA_ID = "mjpeg-server-sil"


# -- the stack: build (or reuse) and the environment to load it ------------------------


@dataclass(frozen=True)
class Stack:
    """A built libcamera with the virtual camera, or why there is none."""

    #: Install prefix, or None when it cannot be built here.
    prefix: Path | None
    #: Why there is no stack (the tier skips with this, or fails in CI).
    unavailable: str | None = None

    @property
    def env(self) -> dict[str, str]:
        """Variables a process needs to import ``libcamera`` from this build (and to
        get the adaptations), to be put on top of ``os.environ``."""
        assert self.prefix is not None, self.unavailable
        recorded = _read_env_file(self.prefix / "sil.env")
        python_path = [recorded["PYTHONPATH"], str(SITE_DIR), str(ROOT / "tests")]
        library_path = [recorded["LD_LIBRARY_PATH"]]
        for name, parts in (("PYTHONPATH", python_path), ("LD_LIBRARY_PATH", library_path)):
            if os.environ.get(name):
                parts.append(os.environ[name])
        return {
            "PYTHONPATH": os.pathsep.join(python_path),
            "LD_LIBRARY_PATH": os.pathsep.join(library_path),
            # libcamera logs every camera manager start at INFO; warnings are enough.
            "LIBCAMERA_LOG_LEVELS": os.environ.get("LIBCAMERA_LOG_LEVELS", "*:WARN"),
        }

    @property
    def facts(self) -> dict[str, str]:
        """What was built (the recorded ``sil.env``): tag, Python, build seconds."""
        assert self.prefix is not None
        return _read_env_file(self.prefix / "sil.env")


def frames_dir() -> Path:
    """The pictures the virtual camera plays (ci/build-libcamera.sh installs them), in a
    process that runs on the stack (its ``LD_LIBRARY_PATH`` starts with ``PREFIX/lib``)."""
    library = Path(os.environ["LD_LIBRARY_PATH"].split(os.pathsep)[0])
    return library.parent / "share" / "mjpeg-server-sil" / "frames"


def _read_env_file(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def stack(*, frames_python: str | None = None) -> Stack:
    """Build libcamera (or reuse the cached build) with ``ci/build-libcamera.sh``.

    ``frames_python``: a Python with Pillow, to make camera-like frames for the
    virtual camera (default: this one). A failed build raises; "cannot build
    here" (no source, missing packages) is a :class:`Stack` with a reason.
    """
    # stderr is the script's progress (a build takes minutes): the user's to see.
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
        env={**os.environ, "SIL_FRAMES_PYTHON": frames_python or sys.executable},
    )
    last_line = (result.stdout.strip().splitlines() or [""])[-1]
    if result.returncode == _UNAVAILABLE:
        return Stack(None, last_line)
    if result.returncode != 0:
        raise RuntimeError(f"ci/build-libcamera.sh failed (exit {result.returncode})")
    return Stack(Path(last_line))


# -- the adaptations -------------------------------------------------------------------


@dataclass(frozen=True)
class Adaptation:
    """One thing the virtual camera lacks, and what stands in for it."""

    name: str
    #: What is missing, and what fails without the adaptation.
    lacks: str
    #: What the adaptation does instead (never more than that).
    does: str
    #: Module whose import triggers it ("" = at install time).
    after_import: str
    apply: Callable[[types.ModuleType | None], None]


def _pykms_stand_in(_: types.ModuleType | None) -> None:
    # An inert module: picamera2 imports it for DrmPreview, which a server never
    # starts. Any use fails loudly instead of pretending to drive a display.
    module = types.ModuleType("pykms", "SIL stand-in for python3-kms++: no DRM display here")

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module protocol's name
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert(f"pykms.{name}")

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules.setdefault("pykms", module)


class _Inert:
    """Anything from the pykms stand-in: fine to import, an error to use."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{self._name}: no DRM display on the SIL stack")

    def __getattr__(self, name: str) -> Any:
        return _Inert(f"{self._name}.{name}")


def _sensor_modes_from_viewfinder(libcamera: types.ModuleType | None) -> None:
    # picamera2 reads sensor modes from generate_configuration([Raw]), which the
    # virtual pipeline answers with None (it has no sensor). The Viewfinder
    # formats are what the camera can deliver, so they stand in; picamera2 then
    # treats it as a non-Raspberry-Pi camera (no raw stream), as it does a USB one.
    assert libcamera is not None
    camera_class = libcamera.Camera
    original = camera_class.generate_configuration
    raw, viewfinder = libcamera.StreamRole.Raw, libcamera.StreamRole.Viewfinder

    def generate_configuration(self: Any, roles: list[Any]) -> Any:
        config = original(self, roles)
        if config is None and list(roles) == [raw]:
            return original(self, [viewfinder])
        return config

    camera_class.generate_configuration = generate_configuration


class _MemfdAllocator:
    """Capture buffers in memfds, with picamera2's ``DmaAllocator`` life cycle.

    Made a subclass of the real ``DmaAllocator`` at install time, so that its
    bookkeeping (``acquire``/``release``/``cleanup``/``close``/``__del__``) is
    the library's own: only where the memory comes from differs. One FrameBuffer
    plane per NV12 plane, both in the buffer's one memfd: the virtual pipeline
    writes the planes separately.
    """

    @staticmethod
    def build(dma_allocator: type) -> type:
        import libcamera  # noqa: PLC0415 - present once picamera2 is

        class MemfdHeap:
            """``DmaHeap``'s interface on memfd_create."""

            def alloc(self, name: str, size: int) -> Any:
                from picamera2.dma_heap import UniqueFD  # noqa: PLC0415

                fd = os.memfd_create(name, os.MFD_CLOEXEC)
                os.ftruncate(fd, size)
                return UniqueFD(fd)

            def close(self) -> None:
                pass

        class MemfdAllocator(dma_allocator):  # type: ignore[misc,valid-type]
            def __init__(self) -> None:
                # DmaAllocator.__init__ opens /dev/dma_heap: set its fields instead.
                self.needs_sync = False
                self.dmaHeap = MemfdHeap()
                self.mapped_buffers: dict[Any, mmap.mmap] = {}
                self.mapped_buffers_used: dict[int, bool] = {}
                self.frame_buffers: dict[Any, list[Any]] = {}
                self.open_fds: list[int] = []
                self.libcamera_fds: list[int] = []
                self.sync = self.MemfdSync

            def allocate(self, libcamera_config: Any, _: Any) -> None:
                self.libcamera_fds = []
                self.cleanup()
                for fd in self.open_fds:
                    os.close(fd)
                self.frame_buffers = {}
                self.open_fds = []
                for stream_config in libcamera_config:
                    size = stream_config.frame_size
                    luma = stream_config.stride * stream_config.size.height
                    buffers = []
                    for i in range(stream_config.buffer_count):
                        fd = self.dmaHeap.alloc(f"picamera2-{i}", size).get()
                        self.open_fds.append(fd)
                        planes = []
                        for offset, length in ((0, luma), (luma, size - luma)):
                            plane = libcamera.FrameBuffer.Plane()
                            plane.fd, plane.offset, plane.length = fd, offset, length
                            planes.append(plane)
                        # As DmaAllocator: the plane holds its own duplicate of the fd,
                        # and the bookkeeping is by that one.
                        self.libcamera_fds.append(planes[0].fd)
                        self.mapped_buffers_used[planes[0].fd] = False
                        buffer = libcamera.FrameBuffer(planes)
                        buffers.append(buffer)
                        self.mapped_buffers[buffer] = mmap.mmap(
                            fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE
                        )
                    self.frame_buffers[stream_config.stream] = buffers

            class MemfdSync:
                """DmaSync without the dma-buf cache ioctls (a memfd has no cache to sync)."""

                def __init__(self, allocator: Any, fb: Any, write: bool) -> None:
                    self.allocator = allocator
                    self.fb = fb

                def __enter__(self) -> mmap.mmap:
                    return self.get_buffer()

                def __exit__(self, *exc: object) -> None:
                    pass

                def get_buffer(self) -> mmap.mmap:
                    buffer: mmap.mmap | None = self.allocator.mapped_buffers.get(self.fb)
                    if buffer is None:
                        raise RuntimeError("failed to find buffer in MemfdSync")
                    return buffer

        return MemfdAllocator


def _memfd_buffers(picamera2: types.ModuleType | None) -> None:
    # Picamera2.__init__ and close() both call the DmaAllocator name of this module.
    module = sys.modules["picamera2.picamera2"]
    module.DmaAllocator = _MemfdAllocator.build(module.DmaAllocator)  # type: ignore[attr-defined]


def _nv12_jpeg(picamera2: types.ModuleType | None) -> None:
    # JpegEncoder knows YUV420 (planar) and RGB formats; NV12 is YUV420 with the
    # chroma interleaved, so split it into U and V planes and take the same
    # simplejpeg call JpegEncoder makes for YUV420. The copy of the chroma is
    # extra work a Pi (YUV420 or RGB) does not do: a quarter of the frame's pixels.
    import numpy as np  # noqa: PLC0415
    import simplejpeg  # noqa: PLC0415
    from picamera2.encoders.jpeg_encoder import JpegEncoder  # noqa: PLC0415
    from picamera2.request import MappedArray  # noqa: PLC0415

    original = JpegEncoder.encode_func

    def encode_func(self: Any, request: Any, name: str) -> bytes:
        if request.config[name]["format"] != "NV12":
            return bytes(original(self, request, name))
        width, height = request.config[name]["size"]
        with MappedArray(request, name) as mapped:
            planes = mapped.array
            chroma = planes[height : height + height // 2, :width]
            u = np.ascontiguousarray(chroma[:, 0::2])
            v = np.ascontiguousarray(chroma[:, 1::2])
            return bytes(simplejpeg.encode_jpeg_yuv_planes(planes[:height, :width], u, v, self.q))

    JpegEncoder.encode_func = encode_func


class _Pacer:
    """Completes each camera's requests on a sensor's schedule.

    The virtual pipeline completes a request the moment it is queued (and stamps
    it then), so without this picamera2 runs as fast as the CPU allows. A sensor
    instead delivers a frame every frame duration: the one asked with
    ``FrameDurationLimits`` (at start or on a request), clamped to the limits the
    camera advertises, as libcamera clamps it to the sensor mode. Queueing waits
    for the request's slot on that grid; a request queued late takes the next
    slot, and the slots it missed are frames lost, as when a sensor finds no
    free buffer.

    No thread: the wait happens in whoever queues (picamera2's request recycling),
    so nothing is lost across ``fork()``, and the state is made fresh in a child.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        #: camera id → [period ns, next slot ns, session, frames this session]
        self._cameras: dict[str, list[int]] = {}
        #: id(request) → frame duration asked on it (µs)
        self._asked: dict[int, int] = {}
        #: id(request) → the slot it was last queued for (ns); picamera2 reuses requests
        self._slots: dict[int, int] = {}

    @staticmethod
    def _period_ns(camera: Any, asked_us: int | None, libcamera: types.ModuleType) -> int:
        limits = camera.controls.get(libcamera.controls.FrameDurationLimits)
        low, high = (limits.min, limits.max) if limits is not None else (33333, 33333)
        duration = min(max(asked_us if asked_us else low, low), high)
        return int(duration * 1000)

    def start(self, camera: Any, asked_us: int | None, libcamera: types.ModuleType) -> None:
        period = self._period_ns(camera, asked_us, libcamera)
        with self._lock:
            session = self._cameras.get(camera.id, [0, 0, 0, 0])[2] + 1
            # [period, next slot, session, frames this session]
            self._cameras[camera.id] = [period, time.monotonic_ns(), session, 0]

    def stop(self, camera: Any) -> None:
        with self._lock:
            state = self._cameras.get(camera.id)
            if state is not None:
                state[2] += 1  # waiting queuers give up: the camera stopped
            self._changed.notify_all()

    def ask(self, request: Any, duration_us: int) -> None:
        with self._lock:
            self._asked[id(request)] = duration_us

    def wait_for_slot(self, camera: Any, request: Any, libcamera: types.ModuleType) -> bool:
        """Wait until the request's slot; False if the camera stopped meanwhile."""
        with self._lock:
            asked = self._asked.pop(id(request), None)
            state = self._cameras.get(camera.id)
            if state is None:
                return True
            if asked is not None:
                state[0] = self._period_ns(camera, asked, libcamera)
            period, slot, session, frames = state
            state[3] += 1
            fail_after = _fail_after()
            if fail_after is not None and frames >= fail_after:
                # Fault injection: the sensor stops delivering. The request is kept
                # back for good (never queued, so never completed), as after a
                # frontend timeout; waiting here instead would hold picamera2's
                # request lock, which a real camera never does.
                return False
            now = time.monotonic_ns()
            if slot < now:  # late: the next slot on the grid; the ones missed are lost
                slot += -(-(now - slot) // period) * period
            state[1] = slot + period
            self._slots[id(request)] = slot
            while (remaining := slot - time.monotonic_ns()) > 0:
                if state[2] != session:
                    return False
                self._changed.wait(remaining / 1e9)
            return state[2] == session

    def slot_of(self, request: Any) -> int | None:
        """The slot (monotonic ns) the request was queued for: its frame's start."""
        return self._slots.get(id(request))


_PACER: _Pacer | None = None


def _pacing(libcamera: types.ModuleType | None) -> None:
    assert libcamera is not None
    global _PACER  # noqa: PLW0603 - one pacer per process, made on first use
    pacer = _PACER = _PACER or _Pacer()
    camera_class, request_class = libcamera.Camera, libcamera.Request
    limits_id = libcamera.controls.FrameDurationLimits
    start, stop = camera_class.start, camera_class.stop
    queue_request, set_control = camera_class.queue_request, request_class.set_control

    def asked_duration(value: Any) -> int | None:
        return int(value[0]) if value else None

    def paced_start(self: Any, controls: Mapping[Any, Any] | None = None) -> None:
        controls = dict(controls or {})
        pacer.start(self, asked_duration(controls.get(limits_id)), libcamera)
        start(self, controls)

    def paced_stop(self: Any) -> None:
        pacer.stop(self)
        hang = _stop_hang()
        if hang:
            # Fault injection: libcamera's stop hangs, as after a frontend timeout.
            time.sleep(hang)
        stop(self)

    def paced_set_control(self: Any, control: Any, value: Any) -> None:
        if control == limits_id:
            duration = asked_duration(value)
            if duration:
                pacer.ask(self, duration)
        set_control(self, control, value)

    def paced_queue_request(self: Any, request: Any) -> None:
        if pacer.wait_for_slot(self, request, libcamera):
            queue_request(self, request)
        # else: the camera stopped while the request waited (a stopped camera would
        # refuse it), or a fault is injected; picamera2 makes new requests when it
        # starts again.

    metadata = request_class.metadata
    sensor_timestamp = libcamera.controls.SensorTimestamp

    def slot_metadata(self: Any) -> Any:
        # The virtual pipeline stamps a request when it is queued, which a busy
        # machine delays by a scheduling quantum or two; a sensor stamps the start
        # of the frame on its own clock, so the frame's slot is its timestamp.
        values = metadata.fget(self)
        slot = pacer.slot_of(self)
        if slot is not None and sensor_timestamp in values:
            values[sensor_timestamp] = slot
        return values

    camera_class.start = paced_start
    camera_class.stop = paced_stop
    camera_class.queue_request = paced_queue_request
    request_class.set_control = paced_set_control
    request_class.metadata = property(slot_metadata)


ADAPTATIONS: dict[str, Adaptation] = {
    adaptation.name: adaptation
    for adaptation in (
        Adaptation(
            "pykms",
            lacks="python3-kms++ (Raspberry Pi OS only, not on PyPI): "
            "'import picamera2' fails with No module named 'pykms'",
            does="an inert pykms module; using any of it raises",
            after_import="",
            apply=_pykms_stand_in,
        ),
        Adaptation(
            "sensor-modes",
            lacks="the Raw stream role: Picamera2() fails with "
            "'Camera __init__ sequence did not complete' reading sensor modes",
            does="a Raw-role configuration the pipeline refuses is answered with the "
            "Viewfinder one",
            after_import="libcamera",
            apply=_sensor_modes_from_viewfinder,
        ),
        Adaptation(
            "memfd-buffers",
            lacks="/dev/dma_heap: Picamera2() fails with 'Could not open any dmaHeap device'",
            does="DmaAllocator's buffers come from memfds (a plane per NV12 plane)",
            after_import="picamera2",
            apply=_memfd_buffers,
        ),
        Adaptation(
            "nv12-jpeg",
            lacks="formats other than NV12: JpegEncoder fails with KeyError: 'NV12'",
            does="JpegEncoder splits NV12's chroma and encodes the YUV planes",
            after_import="picamera2",
            apply=_nv12_jpeg,
        ),
        Adaptation(
            "pacing",
            lacks="a sensor clock: requests complete as soon as queued (1000+ fps), "
            "whatever FrameDurationLimits asks",
            does="queue_request waits for the request's slot on the frame-duration grid "
            "(asked, clamped to the advertised limits); the slot is the frame's timestamp",
            after_import="libcamera",
            apply=_pacing,
        ),
        Adaptation(
            "sensor-flips",
            lacks="a sensor's flips: the virtual camera accepts any orientation (a transpose "
            "too), reports it applied and delivers the picture unchanged",
            does="a transposing orientation is refused as on a Pi (the picture as mounted, "
            "Adjusted); the flips are done to each completed NV12 buffer",
            after_import="libcamera",
            apply=sensor_flips,
        ),
    )
}


# -- fault injection (not adaptations: faults a real camera has) ----------------------

#: The sensor delivers this many frames per start, then nothing (a loose cable).
FAIL_AFTER_VARIABLE = "MJPEG_SERVER_SIL_FAIL_AFTER"
#: libcamera's Camera.stop() blocks this many seconds (after a frontend timeout).
STOP_HANG_VARIABLE = "MJPEG_SERVER_SIL_STOP_HANG"


def _fail_after() -> int | None:
    raw = os.environ.get(FAIL_AFTER_VARIABLE)
    return int(raw) if raw else None


def _stop_hang() -> float:
    return float(os.environ.get(STOP_HANG_VARIABLE) or 0)


# -- installing them -----------------------------------------------------------------


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs callbacks right after a module's own code ran (before anyone uses it)."""

    def __init__(self) -> None:
        self.callbacks: dict[str, list[Callable[[types.ModuleType], None]]] = {}

    def find_spec(
        self, fullname: str, path: Any, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        callbacks = self.callbacks.pop(fullname, None)
        if callbacks is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_then_adapt(module: types.ModuleType) -> None:
            exec_module(module)
            for callback in callbacks:
                callback(module)

        loader.exec_module = exec_then_adapt  # type: ignore[method-assign]
        return spec


_installed: set[str] = set()


def install(without: Iterator[str] | None = None) -> list[str]:
    """Install the adaptations (idempotent); returns the names installed.

    ``without``: names to leave out; default: those in ``$MJPEG_SERVER_SIL_WITHOUT``.
    An adaptation whose module is already imported is applied at once.
    """
    skip = set(without if without is not None else _without_from_env())
    unknown = skip - set(ADAPTATIONS)
    if unknown:
        raise ValueError(f"{WITHOUT_VARIABLE}: no adaptation named {', '.join(sorted(unknown))}")
    hook = next((f for f in sys.meta_path if isinstance(f, _AfterImport)), None)
    if hook is None:
        hook = _AfterImport()
        sys.meta_path.insert(0, hook)
    for adaptation in ADAPTATIONS.values():
        if adaptation.name in skip or adaptation.name in _installed:
            continue
        _installed.add(adaptation.name)
        trigger = adaptation.after_import
        if not trigger:
            adaptation.apply(None)
        elif trigger in sys.modules:
            adaptation.apply(sys.modules[trigger])
        else:
            hook.callbacks.setdefault(trigger, []).append(adaptation.apply)
    return sorted(_installed)


def _without_from_env() -> list[str]:
    raw = os.environ.get(WITHOUT_VARIABLE, "")
    return [name.strip() for name in raw.split(",") if name.strip()]


@contextlib.contextmanager
def environment(extra: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``extra`` on top, for the block."""
    saved = {name: os.environ.get(name) for name in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
