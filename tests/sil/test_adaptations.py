"""Each SIL adaptation (tests/support/sil.py) is still needed.

Each test runs a child process with that one adaptation left out
(``MJPEG_SERVER_SIL_WITHOUT``) and expects the failure it exists for. When a
picamera2 or libcamera release fixes the lack, the failure stops happening and
the test fails, saying which adaptation can go.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types

import pytest

from support import sil

pytestmark = pytest.mark.usefixtures("picamera2")


def run_without(adaptation: str, script: str) -> subprocess.CompletedProcess[str]:
    assert adaptation in sil.ADAPTATIONS
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, sil.WITHOUT_VARIABLE: adaptation},
    )


def still_needed(adaptation: str, result: subprocess.CompletedProcess[str], sign: str) -> None:
    """``sign`` in the child's output: the lack is still there."""
    output = result.stdout + result.stderr
    assert sign in output, (
        f"without the {adaptation!r} adaptation the SIL stack no longer fails with {sign!r}: "
        f"picamera2 or libcamera may have fixed it ({sil.ADAPTATIONS[adaptation].lacks}); "
        f"remove it from tests/support/sil.py if so. Child output:\n{output}"
    )


def test_the_adaptations_are_installed_here(picamera2: types.ModuleType) -> None:
    assert sil.install() == sorted(sil.ADAPTATIONS)
    assert all(adaptation.lacks and adaptation.does for adaptation in sil.ADAPTATIONS.values())


def test_pykms_is_still_needed() -> None:
    result = run_without("pykms", "import picamera2")
    still_needed("pykms", result, "No module named 'pykms'")


def test_sensor_modes_are_still_needed() -> None:
    result = run_without(
        "sensor-modes",
        """
        import libcamera
        from picamera2 import Picamera2
        camera = Picamera2._cm.cms.cameras[0]
        config = camera.generate_configuration([libcamera.StreamRole.Raw])
        print("Raw role:", config)
        try:
            Picamera2(0)
        except RuntimeError as error:
            print("Picamera2(0):", error)
        """,
    )
    still_needed("sensor-modes", result, "Raw role: None")
    still_needed("sensor-modes", result, "Picamera2(0): Camera __init__ sequence did not complete")


def test_memfd_buffers_are_still_needed() -> None:
    result = run_without(
        "memfd-buffers",
        """
        from picamera2 import Picamera2
        try:
            Picamera2(0)
        except RuntimeError as error:
            print("Picamera2(0):", error, "/", error.__cause__)
        """,
    )
    still_needed("memfd-buffers", result, "Could not open any dmaHeap device")


def test_nv12_jpeg_is_still_needed() -> None:
    result = run_without(
        "nv12-jpeg",
        """
        import time
        from picamera2 import Picamera2
        from picamera2.encoders import JpegEncoder
        from picamera2.outputs import Output

        frames = []

        class Count(Output):
            def outputframe(self, frame, *args, **kwargs):
                frames.append(frame)

        camera = Picamera2(0)
        camera.configure(camera.create_video_configuration(main={"size": (640, 480)}))
        print("format:", camera.camera_configuration()["main"]["format"])
        camera.start_recording(JpegEncoder(), Count())
        time.sleep(1)
        camera.stop_recording()
        camera.close()
        print("frames:", len(frames))
        """,
    )
    still_needed("nv12-jpeg", result, "format: NV12")  # asked XBGR8888, got NV12
    still_needed("nv12-jpeg", result, "KeyError: 'NV12'")
    still_needed("nv12-jpeg", result, "frames: 0")


def test_pacing_is_still_needed() -> None:
    result = run_without(
        "pacing",
        """
        import time
        from picamera2 import Picamera2

        camera = Picamera2(0)
        config = camera.create_video_configuration(
            main={"size": (640, 480)}, controls={"FrameRate": 10}
        )
        camera.configure(config)
        camera.start()
        first = camera.capture_metadata()["SensorTimestamp"]
        for _ in range(30):
            last = camera.capture_metadata()["SensorTimestamp"]
        camera.stop()
        camera.close()
        seconds = (last - first) / 1e9
        print("faster than asked:", seconds < 30 / 10 / 2, round(seconds, 3))
        """,
    )
    # 30 frames at the asked 10 fps would take 3 s; the unpaced camera takes far less.
    still_needed("pacing", result, "faster than asked: True")


def test_sensor_flips_are_still_needed() -> None:
    result = run_without(
        "sensor-flips",
        """
        import time
        import libcamera, numpy
        from picamera2 import MappedArray, Picamera2
        from picamera2.encoders import JpegEncoder
        from picamera2.outputs import Output

        class Drop(Output):
            def outputframe(self, *args, **kwargs):
                pass

        camera = Picamera2(0)
        first = {}
        for name, transform in (
            ("upright", libcamera.Transform()),
            ("hflip", libcamera.Transform(hflip=1)),
            ("transpose", libcamera.Transform(transpose=1)),
        ):
            got = []

            def keep(request):
                with MappedArray(request, "main") as mapped:
                    if not got:
                        got.append(mapped.array.copy())

            camera.pre_callback = keep
            size = {"size": (640, 480)}
            camera.configure(camera.create_video_configuration(main=size, transform=transform))
            print(name, "comes back as", camera.camera_configuration()["transform"])
            camera.start_recording(JpegEncoder(), Drop())
            deadline = time.monotonic() + 30
            while not got and time.monotonic() < deadline:
                time.sleep(0.01)
            camera.stop_recording()
            first[name] = got[0]
        camera.close()
        print("hflip changed the picture:", not numpy.array_equal(first["upright"], first["hflip"]))
        """,
    )
    # Accepted although no sensor can transpose, and the flip is reported but not done.
    still_needed(
        "sensor-flips", result, "transpose comes back as <libcamera.Transform 'transpose'>"
    )
    still_needed("sensor-flips", result, "hflip comes back as <libcamera.Transform 'hflip'>")
    still_needed("sensor-flips", result, "hflip changed the picture: False")
