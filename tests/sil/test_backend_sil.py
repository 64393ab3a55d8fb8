"""The kit's picamera2 backend on the real picamera2 and libcamera (the virtual camera).

What the fake cannot prove: how the real library allocates, frees and numbers
things. Checks that need their own process (automatic garbage collection off,
a fork, a server exit) run in a child.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mjpeg_server.cameras import create_camera
from mjpeg_server.cameras.picamera2 import Picamera2Camera
from mjpeg_server.wire.jpeg import is_complete_jpeg, jpeg_size
from support import pictures, sil
from support.cameras import OpenCameras
from support.server import ServerProcess
from support.waiting import wait_until

pytestmark = pytest.mark.usefixtures("picamera2")

#: The virtual camera's fastest rate (ci/build-libcamera.sh: frame_rates 1-30).
VIRTUAL_MAX_FPS = 30.0


def run_child(script: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """Run ``script`` in a child process; it prints one JSON object last."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    decoded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return decoded


@pytest.fixture
def opened() -> Iterator[OpenCameras]:
    """Cameras a test opens, closed at its end."""
    cameras = OpenCameras()
    yield cameras
    cameras.close_all()


def open_camera(spec: str, opened: OpenCameras) -> Picamera2Camera:
    return opened.open(spec, Picamera2Camera)


def read(camera: Picamera2Camera, count: int) -> list[object]:
    return [wait_until(lambda: camera.read(0.5), 30, interval=0) for _ in range(count)]


OPEN_CLOSE_CYCLES = """
    import gc, json, os
    gc.disable()  # what close() frees, it must free itself
    from mjpeg_server.cameras import create_camera

    def fds():
        found = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                found[fd] = (os.readlink(f"/proc/self/fd/{fd}"), os.stat(f"/proc/self/fd/{fd}"))
            except OSError:
                pass
        return found

    def buffers():  # capture buffers: memfds, each held through several fds
        return len({st.st_ino for name, st in fds().values() if "memfd:picamera2" in name})

    camera = create_camera("picamera2?size=640x480&encoder=jpeg")
    counts, after_close = [], []
    for _ in range(5):
        camera.open()
        while camera.read(0.5) is None:
            pass
        while_open = buffers()
        camera.close()
        counts.append(len(fds()))
        after_close.append(buffers())
    print(json.dumps({"fds": counts, "buffers_after_close": after_close, "open": while_open}))
"""


def test_close_frees_the_capture_buffers_and_every_fd() -> None:
    """With the cyclic garbage collector off: after close() no capture buffer is left,
    and the process holds as many fds after the fifth cycle as after the first."""
    result = run_child(OPEN_CLOSE_CYCLES)
    assert result["open"] == 4  # the virtual camera's four buffers, while open
    assert result["buffers_after_close"] == [0] * 5
    fds = result["fds"]
    assert isinstance(fds, list)
    assert fds[1:] == [fds[0]] * 4, fds


PICAMERA2_ALONE = """
    import gc, json, os, time
    gc.disable()
    from picamera2 import Picamera2
    from picamera2.encoders import JpegEncoder
    from picamera2.outputs import Output

    class Drop(Output):
        def outputframe(self, *args, **kwargs):
            pass

    def epolls():
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventpoll]"
            except OSError:  # the listing's own fd, gone
                pass
        return count

    counts = []
    for _ in range(3):
        camera = Picamera2(0)
        camera.configure(camera.create_video_configuration(main={"size": (640, 480)}))
        camera.start_recording(JpegEncoder(), Drop())
        time.sleep(0.3)
        camera.stop_recording()
        camera.close()
        del camera
        counts.append(epolls())
    gc.collect()
    print(json.dumps({"epolls": counts, "collected": epolls()}))
"""


def test_picamera2_leaves_two_selectors_per_open_until_collected() -> None:
    """Why Picamera2Camera runs the garbage collector after close(): picamera2's
    camera-manager and event-loop threads never close their selectors (an epoll fd
    each), which reference cycles keep until the cyclic collector runs. When this
    fails, picamera2 closes them itself and the collect can go."""
    result = run_child(PICAMERA2_ALONE)
    epolls = result["epolls"]
    assert isinstance(epolls, list)
    assert [b - a for a, b in itertools.pairwise(epolls)] == [2, 2], result
    assert result["collected"] < epolls[0], result


def test_auto_takes_jpeg_without_a_hardware_codec(opened: OpenCameras) -> None:
    """picamera2 calls this x86 box VC4 (it finds no Pi 5 ISP), and its MJPEGEncoder
    would open /dev/video11, which is not there: auto must not choose it."""
    camera = open_camera("picamera2?size=640x480", opened)
    assert camera.encoder_in_use == "jpeg"
    frames = read(camera, 3)
    assert all(is_complete_jpeg(frame.jpeg) for frame in frames)  # type: ignore[attr-defined]


def test_encoder_mjpeg_without_the_codec_says_so(opened: OpenCameras) -> None:
    camera = create_camera("picamera2?size=640x480&encoder=mjpeg")
    with pytest.raises(Exception, match=r"needs the hardware JPEG encoder /dev/video11"):
        camera.open()


def test_fps_above_the_modes_limit_is_read_back_and_numbered_at_the_real_rate(
    opened: OpenCameras,
) -> None:
    camera = open_camera("picamera2?size=640x480&fps=60&encoder=jpeg", opened)
    assert camera.fps == 60
    assert camera.fps_actual == pytest.approx(VIRTUAL_MAX_FPS, abs=0.01)
    frames = read(camera, 20)
    steps = [b.seq - a.seq for a, b in itertools.pairwise(frames)]  # type: ignore[attr-defined]
    # Numbered at 60 fps, every frame would look like it followed a lost one.
    assert steps.count(1) >= len(steps) - 2, steps


@pytest.mark.parametrize(
    ("asked", "delivered"),
    [
        ("641x481", (640, 480)),  # picamera2 rounds down to even
        ("1000x600", (1920, 1080)),  # the virtual camera snaps to its largest size
    ],
)
def test_the_size_is_reported_as_delivered(
    asked: str, delivered: tuple[int, int], opened: OpenCameras
) -> None:
    camera = open_camera(f"picamera2?size={asked}&encoder=jpeg", opened)
    assert camera.size_actual == delivered
    assert f"{delivered[0]}x{delivered[1]}" in camera.description
    (frame,) = read(camera, 1)
    assert jpeg_size(frame.jpeg) == delivered  # type: ignore[attr-defined]


@pytest.mark.parametrize("quality", [30, 85])
def test_quality_is_the_jpeg_quality(quality: int, opened: OpenCameras) -> None:
    """JpegEncoder's quality is libjpeg's: its tables are the standard ones scaled by
    5000/q below 50 and 200-2q above."""
    camera = open_camera(f"picamera2?size=640x480&encoder=jpeg&quality={quality}", opened)
    (frame,) = read(camera, 1)
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    assert pictures.luminance_dc_quantiser(frame.jpeg) == (16 * scale + 50) // 100  # type: ignore[attr-defined]


FORKED_RATE = """
    import json, os, time
    from mjpeg_server.cameras import create_camera

    def rate():
        camera = create_camera("picamera2?size=640x480&fps=20&encoder=jpeg")
        camera.open()
        frames = []
        while len(frames) < 21:
            frame = camera.read(1.0)
            if frame is not None:
                frames.append(frame)
        camera.close()
        return (frames[-1].seq - frames[0].seq) / (frames[-1].timestamp - frames[0].timestamp)

    before = rate()  # the pacing is in use before the fork, as in a server's master
    pid = os.fork()
    if pid == 0:
        with open(os.environ["RESULT"], "w") as out:
            out.write(json.dumps(rate()))
        os._exit(0)
    os.waitpid(pid, 0)
    with open(os.environ["RESULT"]) as result:
        child = json.loads(result.read())
    print(json.dumps({"before": before, "child": child}))
"""


def test_pacing_survives_a_fork(tmp_path: Path) -> None:
    result = run_child(FORKED_RATE, {"RESULT": str(tmp_path / "rate.json")})
    assert result["before"] == pytest.approx(20, rel=0.05)
    assert result["child"] == pytest.approx(20, rel=0.05)


def test_a_hung_stop_is_in_status_and_the_server_still_exits(tmp_path: Path) -> None:
    """libcamera's stop hangs (as after a frontend timeout): /status says so and what
    recovers it, and SIGTERM still ends the real server with the real picamera2."""
    env = {sil.STOP_HANG_VARIABLE: "600"}
    server = ServerProcess(
        "--camera", "picamera2?size=640x480&encoder=jpeg", "--idle-timeout", "0", env=env
    )
    with server:
        assert requests.get(server.url("/snapshot.jpg"), timeout=60).status_code == 200
        status = wait_until(lambda: (c := server.camera_status())["last_error"] and c, 120)
        assert "has not stopped since" in str(status["last_error"])
        assert "restart the server" in str(status["last_error"])
        took = server.stop(signal.SIGTERM, timeout=30)
    assert server.returncode == 0, server.output
    assert took < 10, f"exit took {took:.1f} s:\n{server.output}"


def test_status_shows_asked_and_real_fps() -> None:
    with ServerProcess("--camera", "picamera2?size=640x480&fps=60&encoder=jpeg") as server:
        assert requests.get(server.url("/snapshot.jpg"), timeout=60).status_code == 200
        status = server.camera_status()
    assert status["fps_configured"] == 60
    assert status["fps_actual"] == VIRTUAL_MAX_FPS


def test_the_stack_is_real(picamera2: types.ModuleType) -> None:
    """Not the fake: picamera2 from PyPI, libcamera from ci/build-libcamera.sh."""
    import libcamera  # noqa: PLC0415

    assert not hasattr(picamera2, "fake_counts")
    assert "site-packages" in str(Path(picamera2.__file__))
    library_path = os.environ["LD_LIBRARY_PATH"].split(os.pathsep)[0]
    assert Path(libcamera.__file__).is_relative_to(Path(library_path))
