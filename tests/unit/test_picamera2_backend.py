"""The picamera2 backend against the picamera2 0.3.38 fake (tests/fakes/picamera2).

The fake is a device: it acquires with a cross-process lock, emits real JPEGs
from its own sensor thread and records opens and closes in files, so
"busy" and "released" are checked with real child processes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mjpeg_server.cameras import CameraBusy, CameraError, CameraFailed, CameraNotFound, SpecError
from mjpeg_server.cameras import create_camera as _create_camera
from mjpeg_server.cameras import picamera2 as backend
from mjpeg_server.cameras.picamera2 import (
    Picamera2Camera,
    _quality_level,
    _SensorClock,
    camera_holders,
)
from mjpeg_server.config import ConfigError, Settings, parse_camera_arg
from mjpeg_server.wire.jpeg import is_complete_jpeg, jpeg_size
from support.fake_picamera2 import child_env, fresh_state, import_fake, server_env
from support.server import ServerProcess
from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
picamera2 = import_fake()

CHILD_HOLDS_CAMERA = """
import sys, picamera2
camera = picamera2.Picamera2(0)
print("ready", flush=True)
sys.stdin.read()
camera.close()
"""

HOLD_FILE = """
import sys
device = open({path!r})
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture(autouse=True)
def fake_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return fresh_state(tmp_path, monkeypatch)


def create_camera(spec: str) -> Picamera2Camera:
    camera = _create_camera(spec)
    assert isinstance(camera, Picamera2Camera)
    return camera


@pytest.fixture
def camera() -> Iterator[Picamera2Camera]:
    camera = create_camera("picamera2?size=640x360&fps=20")
    yield camera
    camera.close()


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``mjpeg-server ARGS`` with ``env`` on top of ours, to completion."""
    return subprocess.run(
        [sys.executable, "-m", "mjpeg_server", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


@contextlib.contextmanager
def child_holding(script: str) -> Iterator[int]:
    """Run ``script`` in a child process until the block ends; yields its pid once the
    script printed "ready" (it holds what it opened until its stdin closes)."""
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        yield child.pid
    finally:
        child.communicate("", timeout=60)


def test_frames_are_jpegs_of_the_configured_size_at_the_sensor_rate(
    camera: Picamera2Camera,
) -> None:
    camera.open()
    frames = [wait_until(lambda: camera.read(0.5), 10, interval=0) for _ in range(8)]
    assert all(is_complete_jpeg(frame.jpeg) for frame in frames)
    assert {jpeg_size(frame.jpeg) for frame in frames} == {(640, 360)}
    # The sensor's own timestamps: exactly one period per frame number, whatever
    # the scheduling (a frame this reader was too slow for leaves a numbered gap).
    for a, b in itertools.pairwise(frames):
        assert b.seq > a.seq
        assert b.timestamp - a.timestamp == pytest.approx((b.seq - a.seq) * 0.05, abs=1e-5)


def test_close_releases_the_camera_for_another_process(camera: Picamera2Camera) -> None:
    camera.open()
    assert wait_until(lambda: camera.read(0.5), 10, interval=0)
    camera.close()
    camera.close()  # idempotent
    child = subprocess.run(
        [sys.executable, "-c", "import picamera2; picamera2.Picamera2(0).close()"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert picamera2.fake_counts(0) == {"open": 2, "close": 2}


def test_the_same_object_reopens(camera: Picamera2Camera) -> None:
    for _ in range(3):
        camera.open()
        assert wait_until(lambda: camera.read(0.5), 10, interval=0).jpeg
        camera.close()
    assert picamera2.fake_counts(0) == {"open": 3, "close": 3}


def test_a_camera_held_by_another_process_is_busy(camera: Picamera2Camera) -> None:
    with (
        child_holding(CHILD_HOLDS_CAMERA),
        pytest.raises(CameraBusy, match=r"busy, held by .*fuser -v /dev/media\*"),
    ):
        camera.open()
    camera.open()  # released when the child closed it
    assert wait_until(lambda: camera.read(0.5), 10, interval=0)


def test_a_second_open_in_the_same_process_is_busy(camera: Picamera2Camera) -> None:
    camera.open()
    with pytest.raises(CameraBusy):
        create_camera("picamera2").open()


def test_camera_holders_names_the_process_with_the_device_open(tmp_path: Path) -> None:
    device = tmp_path / "media7"
    device.touch()
    with child_holding(HOLD_FILE.format(path=str(device))) as pid:
        holders = camera_holders([str(device)])
    assert len(holders) == 1
    assert holders[0].startswith(f"pid {pid} (python")
    assert camera_holders([str(device)]) == []


def fake_proc(root: Path, pid: int, name: str, *held: str) -> None:
    """A /proc/PID with ``held`` open (fd symlinks) and its command name."""
    (root / str(pid) / "fd").mkdir(parents=True)
    (root / str(pid) / "comm").write_text(name + "\n")
    for fd, target in enumerate(held, start=3):
        (root / str(pid) / "fd" / str(fd)).symlink_to(target)


def test_busy_names_who_holds_the_camera_not_a_codec(tmp_path: Path) -> None:
    """Only the camera receiver's media device counts: a process using the video codec
    (its /dev/video11, its media device) does not hold the camera."""
    sys_root, proc_root = tmp_path / "sys", tmp_path / "proc"
    for node, model in (
        ("media0", "unicam"),
        ("media1", "bcm2835-isp"),
        ("media2", "bcm2835-codec"),
    ):
        (sys_root / "bus/media/devices" / node).mkdir(parents=True)
        (sys_root / "bus/media/devices" / node / "model").write_text(model + "\n")
    fake_proc(proc_root, 100, "rpicam-vid", "/dev/media0", "/dev/media1", "/dev/video0")
    fake_proc(proc_root, 200, "ffmpeg", "/dev/video11", "/dev/media2")
    fake_proc(proc_root, 300, "bash", "/dev/null")
    assert camera_holders(sys_root=sys_root, proc_root=proc_root) == ["pid 100 (rpicam-vid)"]
    # Without sysfs to say which media device is a camera: any media device.
    assert camera_holders(sys_root=tmp_path / "none", proc_root=proc_root) == [
        "pid 100 (rpicam-vid)",
        "pid 200 (ffmpeg)",
    ]


@pytest.mark.parametrize(("cameras", "spec"), [("0", "picamera2"), ("1", "picamera2:1")])
def test_no_such_camera_says_how_to_list_them(
    cameras: str, spec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", cameras)
    with pytest.raises(CameraNotFound, match="rpicam-hello --list-cameras"):
        create_camera(spec).open()


@pytest.mark.parametrize(
    ("platform", "hardware", "option", "expected"),
    [
        ("VC4", True, "auto", "mjpeg"),  # Pi 4 and older with its codec: hardware MJPEG
        ("VC4", False, "auto", "jpeg"),  # no JPEG codec node (the SIL stack, a container)
        ("PISP", False, "auto", "jpeg"),  # Pi 5: simplejpeg beats libav's MJPEG
        ("VC4", True, "jpeg", "jpeg"),
        ("PISP", False, "mjpeg", "mjpeg"),
    ],
)
def test_the_encoder_follows_what_is_there_unless_chosen(
    platform: str, hardware: bool, option: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_PLATFORM", platform)
    monkeypatch.setattr(backend, "hardware_mjpeg_encoder", lambda: hardware)
    camera = create_camera(f"picamera2?encoder={option}&size=320x240")
    camera.open()
    try:
        assert camera.encoder_in_use == expected
        assert f"{expected} encoder" in camera.description
        assert is_complete_jpeg(wait_until(lambda: camera.read(0.5), 10, interval=0).jpeg)
    finally:
        camera.close()


class FakeV4l2:
    """An injectable V4L2 query: what the node at each path says it is."""

    def __init__(self, **devices: backend.v4l2.Device) -> None:
        self.devices = devices
        self.asked: list[str] = []

    def __call__(self, path: str) -> backend.v4l2.Device | None:
        self.asked.append(path)
        return self.devices.get(Path(path).name)


def codec(capabilities: int, *formats: str) -> backend.v4l2.Device:
    return backend.v4l2.Device(
        "bcm2835-codec", "bcm2835-codec-encode", capabilities, frozenset(formats)
    )


M2M = backend.v4l2.CAP_VIDEO_M2M_MPLANE


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (codec(M2M, "H264", "MJPG"), True),  # VC4's bcm2835-codec-encode
        (codec(M2M, "H264"), False),  # an encoder, but not of JPEG
        (codec(0x1, "MJPG"), False),  # a capture device (a USB webcam), not a codec
        (None, False),  # not a V4L2 node at all
    ],
)
def test_hardware_mjpeg_only_where_a_jpeg_codec_node_is(
    tmp_path: Path, device: backend.v4l2.Device | None, expected: bool
) -> None:
    node = tmp_path / "video11"  # a fake /dev: the node exists, the query says what it is
    node.touch()
    query = FakeV4l2(**({"video11": device} if device else {}))
    assert backend.hardware_mjpeg_encoder(str(node), query) is expected
    assert query.asked == [str(node)]


def test_no_node_means_no_hardware_mjpeg(tmp_path: Path) -> None:
    query = FakeV4l2(video11=codec(M2M, "MJPG"))
    assert backend.hardware_mjpeg_encoder(str(tmp_path / "video11"), query) is False
    assert query.asked == []


def test_choose_encoder_asks_for_the_node_only_on_vc4() -> None:
    asked: list[bool] = []

    def probe() -> bool:
        asked.append(True)
        return True

    assert backend.choose_encoder("auto", vc4=False, hardware_mjpeg=probe) == "jpeg"
    assert asked == []
    assert backend.choose_encoder("auto", vc4=True, hardware_mjpeg=probe) == "mjpeg"
    assert backend.choose_encoder("jpeg", vc4=True, hardware_mjpeg=probe) == "jpeg"


@pytest.mark.parametrize(
    ("quality", "level"), [(1, "VERY_LOW"), (30, "VERY_LOW"), (50, "MEDIUM"), (85, "VERY_HIGH")]
)
def test_quality_picks_the_nearest_mjpeg_level(quality: int, level: str) -> None:
    assert _quality_level(quality) == level


def encoder_of(camera: Picamera2Camera) -> Any:
    """The fake encoder recording for ``camera`` (to read what quality became)."""
    (encoder,) = camera._picam._encoders
    return encoder


# picamera2 gives the encoder a nominal rate: the camera's, capped at 30 fps (1e6/33333 µs).
NOMINAL_FPS = 1e6 / 33333


def vc4_bitrate(mbits_at_1080p30: int, width: int, height: int) -> int:
    return int(mbits_at_1080p30 * 1e6 * width * height * NOMINAL_FPS / (1920 * 1080 * 30))


@pytest.mark.parametrize(
    ("platform", "option", "quality", "expected"),
    [
        # JpegEncoder: quality is the JPEG quality.
        ("PISP", "jpeg", 85, ("q", 85)),
        ("VC4", "jpeg", 30, ("q", 30)),
        # VC4 hardware MJPEG: the nearest level's bitrate, 50 Mbit/s at 1080p30 for
        # VERY_HIGH, scaled by area (640x480) and by min(fps, 30) though 60 are asked.
        ("VC4", "mjpeg", 85, ("bitrate", vc4_bitrate(50, 640, 480))),
        ("VC4", "mjpeg", 50, ("bitrate", vc4_bitrate(30, 640, 480))),
        # Pi 5 MJPEG (libav): the nearest level's quantiser.
        ("PISP", "mjpeg", 85, ("qp", 3)),
        ("PISP", "mjpeg", 30, ("qp", 31)),
    ],
)
def test_quality_means_what_each_encoder_can_do(
    platform: str,
    option: str,
    quality: int,
    expected: tuple[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_PLATFORM", platform)
    camera = create_camera(f"picamera2?encoder={option}&quality={quality}&size=640x480&fps=60")
    camera.open()
    try:
        setting, value = expected
        assert getattr(encoder_of(camera), setting) == value
    finally:
        camera.close()


def test_the_frame_rate_is_the_sensor_modes_and_numbering_follows_it() -> None:
    """Asked 60 fps at 2304x1296, the IMX708's mode for that size runs at most 56.03:
    the camera reports it, and frames are numbered at that rate (no false gaps)."""
    camera = create_camera("picamera2?size=2304x1296&fps=60")
    camera.open()
    try:
        assert camera.fps_actual == pytest.approx(56.03, abs=0.01)
        frames = [wait_until(lambda: camera.read(0.5), 10, interval=0) for _ in range(6)]
    finally:
        camera.close()
    period = 1 / camera.fps_actual
    for a, b in itertools.pairwise(frames):
        assert b.timestamp - a.timestamp == pytest.approx((b.seq - a.seq) * period, abs=1e-4)
    # Read back to back: at most one frame was ever missed, never a gap per frame.
    assert frames[-1].seq - frames[0].seq <= 2 * (len(frames) - 1)


def test_an_odd_size_is_reported_as_delivered() -> None:
    camera = create_camera("picamera2?size=641x361")
    assert "641x361" in camera.description  # before opening: as asked
    camera.open()
    try:
        frame = wait_until(lambda: camera.read(0.5), 10, interval=0)
        assert camera.size_actual == (640, 360) == jpeg_size(frame.jpeg)
        assert "640x360" in camera.description
    finally:
        camera.close()


def test_a_dropped_frame_leaves_a_gap_in_the_numbering() -> None:
    clock = _SensorClock(fps=30)
    period_us = 33_333
    stamps = [clock.stamp(t) for t in (0, period_us, 3 * period_us, 4 * period_us + 900)]
    assert [seq for _, seq in stamps] == [0, 1, 3, 4]
    origin = stamps[0][0]
    assert [wall - origin for wall, _ in stamps] == pytest.approx(
        [0, 0.033333, 0.099999, 0.134232], abs=1e-6
    )


def test_a_sensor_that_stops_delivering_reads_none(
    camera: Picamera2Camera, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_FAIL_AFTER", "3")
    camera.open()
    frames = [wait_until(lambda: camera.read(0.5), 10, interval=0)]
    while frames[-1].seq < 2:
        frames.append(wait_until(lambda: camera.read(0.5), 10, interval=0))
    assert frames[-1].seq == 2
    # Then silence, which the hub's stall timeout turns into a reopen.
    assert camera.read(0.5) is None


def test_a_hanging_stop_does_not_block_close(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_STOP_HANG", "4")
    camera = create_camera("picamera2?size=320x240")
    camera.stop_timeout = 0.2
    camera.open()
    # Returns after stop_timeout, saying what happened and what recovers it; the
    # stop goes on in the background.
    with pytest.raises(CameraFailed, match=r"has not stopped since .*restart the server"):
        camera.close()
    with pytest.raises(CameraFailed, match=r"has not stopped since .*restart the server"):
        camera.open()
    monkeypatch.delenv("FAKE_PICAMERA2_STOP_HANG")
    wait_until(lambda: picamera2.fake_counts(0)["close"] == 1, 60)

    def reopened() -> bool:
        with contextlib.suppress(CameraFailed):  # until the background close has ended
            camera.open()
            return True
        return False

    wait_until(reopened, 60)  # the stop ended: the camera reopens in the same process
    camera.stop_timeout = 60.0  # a normal stop, however busy the machine
    camera.close()


HUNG_SERVER_EXITS = """
import os, signal, sys, time
from mjpeg_server.cameras import create_camera
camera = create_camera("picamera2?size=320x240")
camera.open()
while camera.read(0.5) is None:
    pass
print("streaming", flush=True)
sys.stdin.read()  # the test closes stdin to end the script: the camera is still open
"""


def test_exit_is_not_held_by_a_hanging_stop() -> None:
    """picamera2's own atexit close() would wait forever for a hung stop; the backend
    replaces it with one that gives up."""
    child = subprocess.Popen(
        [sys.executable, "-c", HUNG_SERVER_EXITS],
        env={**child_env(), "FAKE_PICAMERA2_STOP_HANG": "600"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "streaming"
    # The at-exit close waits backend.EXIT_STOP_TIMEOUT for the stop; picamera2's own
    # would wait out the 600 s hang, and this raises TimeoutExpired long before that.
    child.communicate("", timeout=60)
    assert child.returncode == 0


def test_the_server_says_a_stop_hung_and_still_exits_on_sigterm(fake_state: Path) -> None:
    env = {**server_env(fake_state), "FAKE_PICAMERA2_STOP_HANG": "600"}
    server = ServerProcess("--camera", "picamera2?size=320x240", "--idle-timeout", "0", env=env)
    with server:
        assert requests.get(server.url("/snapshot.jpg"), timeout=30).status_code == 200
        # Idle timeout 0: the camera closes after the snapshot, and its stop hangs.
        status = wait_until(lambda: (c := server.camera_status())["last_error"] and c, 60)
        assert "has not stopped since" in str(status["last_error"])
        assert "restart the server" in str(status["last_error"])
        took = server.stop(signal.SIGTERM)
    assert server.returncode == 0, server.output
    assert took < 10, f"exit took {took:.1f} s"


def test_read_before_open_fails(camera: Picamera2Camera) -> None:
    with pytest.raises(CameraFailed, match="not open"):
        camera.read(0.1)


def test_a_missing_library_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 → ImportError
    with pytest.raises(CameraError, match=r"apt install python3-picamera2.*--system-site-packages"):
        create_camera("picamera2")


BROKEN_NUMPY = """
import sys
print("A module that was compiled using NumPy 1.x cannot be run in", file=sys.stderr)
raise ValueError(
    "numpy.dtype size changed, may indicate binary incompatibility. "
    "Expected 96 from C header, got 88 from PyObject"
)
"""


@pytest.fixture
def broken_picamera2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A picamera2 whose import fails as apt's simplejpeg does under a pip numpy >= 2."""
    package = tmp_path / "broken" / "picamera2"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(BROKEN_NUMPY)
    for name in [name for name in sys.modules if name.split(".")[0] == "picamera2"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(package.parent))
    return package.parent


def test_a_broken_import_is_one_line_with_the_fix(broken_picamera2: Path) -> None:
    with pytest.raises(CameraError) as raised:
        create_camera("picamera2")
    message = str(raised.value)
    assert "\n" not in message
    assert "ValueError: numpy.dtype size changed" in message
    assert "pip uninstall numpy" in message


def test_a_broken_import_stops_start_up_with_one_line(broken_picamera2: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(broken_picamera2), *sys.path])}
    result = run_cli(["--camera", "picamera2"], env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("mjpeg-server: error: picamera2 is installed but cannot be imported")
    assert "pip uninstall numpy" in line


def test_the_pi_extra_cannot_pull_a_numpy_that_breaks_apts_picamera2() -> None:
    """[pi,opencv] in a system-site venv on Bookworm (Python 3.11, apt numpy 1.24):
    opencv-python-headless 5 needs numpy >= 2, which breaks apt's simplejpeg. The pi
    extra caps numpy there, so pip picks opencv 4.x and keeps apt's numpy; Trixie
    (Python 3.13) ships numpy 2 and gets no cap. And the floor is what the backend
    needs (picamera2.platform, 0.3.13), so pip keeps apt's picamera2."""
    from packaging.requirements import Requirement  # noqa: PLC0415 - pytest's own dependency

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pi = [Requirement(text) for text in pyproject["project"]["optional-dependencies"]["pi"]]
    by_name = {requirement.name: requirement for requirement in pi}
    assert str(by_name["picamera2"].specifier) == ">=0.3.13"
    numpy = by_name["numpy"]
    assert numpy.marker is not None
    assert numpy.marker.evaluate({"python_version": "3.11"})
    assert not numpy.marker.evaluate({"python_version": "3.13"})
    assert not numpy.specifier.contains("2.0")
    assert numpy.specifier.contains("1.24.2")


def test_a_picamera2_without_platform_is_too_old(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_VERSION", "0.3.12")
    for name in [name for name in sys.modules if name.split(".")[0] == "picamera2"]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(CameraError, match=r"too old: the kit needs 0\.3\.13 or newer"):
        create_camera("picamera2")


@pytest.mark.parametrize("version", ["0.3.13", "0.3.22", "0.3.36", "0.3.38"])
def test_every_supported_picamera2_streams(version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """0.3.13 is the floor; before 0.3.23 outputframe gets three arguments; before
    0.3.37 a missing camera is an IndexError (the backend counts cameras first)."""
    monkeypatch.setenv("FAKE_PICAMERA2_VERSION", version)
    camera = create_camera("picamera2?size=320x240")
    camera.open()
    try:
        frames = [wait_until(lambda: camera.read(0.5), 10, interval=0) for _ in range(3)]
        assert [b.seq - a.seq for a, b in itertools.pairwise(frames)] == [1, 1]
    finally:
        camera.close()
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "0")
    with pytest.raises(CameraNotFound):
        camera.open()


def test_old_picamera2_breaks_an_open_camera_on_a_failed_second_open(
    camera: Picamera2Camera, monkeypatch: pytest.MonkeyPatch
) -> None:
    """picamera2 <= 0.3.36 (#1401): a failed Picamera2(0) in the same process takes the
    open camera 0's frames. Why two cameras may not name one device (next test)."""
    monkeypatch.setenv("FAKE_PICAMERA2_VERSION", "0.3.36")
    camera.open()
    assert wait_until(lambda: camera.read(0.5), 10, interval=0)
    with pytest.raises(CameraBusy):
        create_camera("picamera2").open()
    while camera.read(0.2) is not None:  # what was in flight
        pass
    assert camera.read(1.0) is None


@pytest.mark.parametrize("second", ["picamera2", "picamera2:0", "picamera2:0?size=640x480"])
def test_two_cameras_cannot_name_one_pi_camera(second: str) -> None:
    cameras = (parse_camera_arg("picamera2:0"), parse_camera_arg(f"back={second}"))
    with pytest.raises(ConfigError, match=r"'default' and 'back' are both picamera2 camera 0"):
        Settings(cameras=cameras)
    Settings(cameras=(cameras[0], parse_camera_arg("back=picamera2:1")))


def test_start_up_rejects_two_cameras_on_one_pi_camera() -> None:
    result = run_cli(["--camera", "picamera2", "--camera", "back=picamera2:0"], child_env())
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "both picamera2 camera 0" in line


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("picamera2:front", "camera number"),
        ("picamera2?quality=0", "quality must be >= 1"),
        ("picamera2?quality=101", "quality must be 1-100"),
        ("picamera2?encoder=h264", "encoder must be one of auto, mjpeg, jpeg"),
        ("picamera2?size=big", "not WIDTHxHEIGHT"),
        ("picamera2?fps=0", "fps must be positive"),
        ("picamera2?preview=1", "unknown option preview"),
    ],
)
def test_bad_specs_are_reported_before_touching_the_camera(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        create_camera(spec)
    assert picamera2.fake_counts(0) == {"open": 0, "close": 0}


def test_the_server_streams_the_camera(fake_state: Path) -> None:
    with ServerProcess(
        "--camera",
        "picamera2?size=640x480&fps=15",
        "--idle-timeout",
        "0",
        env=server_env(fake_state),
    ) as server:
        snapshot = requests.get(server.url("/snapshot.jpg"), timeout=30)
        assert snapshot.status_code == 200
        assert jpeg_size(snapshot.content) == (640, 480)
        status = server.camera_status()
        assert status["resolution"] == [640, 480]
        assert status["last_error"] is None
        assert status["fps_configured"] == 15
        assert status["fps_actual"] == 15
        # Idle timeout 0: the snapshot's session ends and the camera is released.
        wait_until(lambda: picamera2.fake_counts(0) == {"open": 1, "close": 1}, 30)
