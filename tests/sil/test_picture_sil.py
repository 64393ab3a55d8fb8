"""Picture options and controls of the picamera2 backend on the real picamera2 and
libcamera's virtual camera.

What the fake cannot prove: that the flips really go into the real libcamera
configuration as a ``Transform`` (the sensor-flips adaptation does them to the
buffers as a sensor's read-out would, and refuses a transpose as libcamera does
on a Pi), that the overlay is drawn through the real ``pre_callback`` and
``MappedArray`` into the real buffers (NV12 here, where a Pi gives XBGR8888),
and that ``set_controls`` applies a control while the real request loop runs.

Pictures are judged by content, against the pictures the virtual camera plays.
"""

from __future__ import annotations

import numpy as np
import pytest
import requests

from mjpeg_server.cameras import create_camera
from mjpeg_server.cameras.picamera2 import Picamera2Camera
from mjpeg_server.client.stream import iter_frames
from mjpeg_server.picture import Orientation
from mjpeg_server.wire.jpeg import jpeg_size
from support import pictures, sil
from support.cameras import OpenCameras, read_frames
from support.server import ServerProcess
from support.waiting import LIVENESS

pytestmark = pytest.mark.usefixtures("picamera2")

SIZE = (640, 480)
SPEC = "picamera2?size=640x480&encoder=jpeg"


def references() -> list[np.ndarray]:
    return pictures.references(sil.frames_dir(), SIZE)


def open_camera(spec: str, opened: OpenCameras) -> Picamera2Camera:
    return opened.open(spec, Picamera2Camera)


@pytest.mark.parametrize(
    "options", ["hflip=1", "vflip=1", "rotate=180", "rotate=90", "rotate=270&hflip=1"]
)
def test_orientation_through_libcamera_and_a_quarter_turn(
    options: str, opened: OpenCameras
) -> None:
    camera = open_camera(f"{SPEC}&{options}", opened)
    asked = camera.picture.orientation
    # The flips went into the real camera configuration, and libcamera kept them.
    transform = camera._picam.camera_configuration()["transform"]
    assert (transform.hflip, transform.vflip, transform.transpose) == (
        *asked.camera_flips(),
        False,
    )
    assert camera.software_turn.tj_op == Orientation(rotate=90 if asked.swaps_axes else 0).tj_op
    for frame in read_frames(camera, 3):
        assert jpeg_size(frame.jpeg) == asked.turned_size(*SIZE)  # 480 = 30 whole blocks
        shown, _ = pictures.best_match(frame.jpeg, references())
        assert shown.tj_op == asked.tj_op, (shown, asked)


def test_a_transpose_asked_of_libcamera_comes_back_refused(opened: OpenCameras) -> None:
    """As on a Pi (libcamera's CameraSensor cannot transpose): the configuration comes back
    with the picture as mounted, which is why the backend never asks for one."""
    import libcamera  # noqa: PLC0415 - the real bindings, on this stack

    camera = open_camera(SPEC, opened)
    picam = camera._picam
    picam.stop_recording()
    config = picam.create_video_configuration(
        main={"size": SIZE}, transform=libcamera.Transform(rotation=90)
    )
    picam.configure(config)
    assert picam.camera_configuration()["transform"] == libcamera.Transform()


@pytest.mark.parametrize(
    ("options", "position"),
    [
        ("", "top-left"),
        ("&rotate=90", "top-left"),
        ("&rotate=180", "top-left"),
        ("&rotate=270&hflip=1", "top-left"),
        ("", "bottom-right"),
        ("&rotate=90", "top-right"),
        ("&rotate=180", "bottom"),
    ],
)
def test_the_overlay_is_drawn_into_the_real_buffers(
    options: str, position: str, opened: OpenCameras
) -> None:
    """Through picamera2's pre_callback and MappedArray into the NV12 buffer, before
    JpegEncoder: the text where overlay_position puts it in the picture that comes out,
    nothing else changed, and no decode or second encode anywhere. (Compared with the
    same camera's frames without the overlay: libcamera's scaling differs from Pillow's
    at edges.)"""
    plain = open_camera(f"{SPEC}{options}", opened)
    without = [pictures.pixels(frame.jpeg) for frame in read_frames(plain, 6)]
    plain.close()
    overlay = f"&overlay=%H:%M:%S+{{camera}}&overlay_position={position}"
    camera = open_camera(f"{SPEC}{overlay}{options}", opened)
    assert camera._picam.camera_configuration()["main"]["format"] == "NV12"
    pipeline = camera._pipeline
    assert pipeline is None or pipeline._overlay is None
    for frame in read_frames(camera, 3):
        pictures.assert_text_at(pictures.overlay_diff(frame.jpeg, without), position)
    assert camera._draw_failures == 0


def test_controls_apply_without_dropping_the_viewer() -> None:
    """The real server on the stack, one viewer throughout: a control libcamera
    advertises and the overlay set live (no reopen), then quality, which reopens the
    camera: a gap in X-Frame-Seq, and the viewer still there."""
    with ServerProcess("--camera", f"{SPEC}&fps=15") as server:
        frames = iter_frames(server.url("/stream.mjpg"), timeout=LIVENESS)
        try:
            next(frames)
            listing = requests.get(server.url("/controls"), timeout=LIVENESS).json()["controls"]
            # What the virtual camera advertises that a user may set: FaceDetectMode, Off only.
            assert listing["FaceDetectMode"]["choices"] == ["Off"]
            assert listing["FaceDetectMode"]["source"] == "libcamera"
            assert "FrameDurationLimits" not in listing  # the fps option sets it

            live = post(server, {"FaceDetectMode": "Off", "overlay": "{camera}"})
            assert live.status_code == 200, live.text
            assert (live.json()["applied"], live.json()["reopened"]) == (True, False)
            assert live.json()["controls"]["FaceDetectMode"]["value"] == "Off"
            with_text = next(f for f in frames if has_text(f.jpeg))
            assert server.camera_status()["opens"] == 1  # applied while it ran

            refused = post(server, {"FaceDetectMode": "Full"})
            assert refused.status_code == 400
            assert "FaceDetectMode='Full' is not one of Off" in refused.json()["error"]

            reopened = post(server, {"quality": 50})
            assert (reopened.status_code, reopened.json()["reopened"]) == (200, True)
            seen = with_text
            for frame in frames:  # until the first frame of the reopened camera
                if pictures.luminance_dc_quantiser(frame.jpeg) == QUANTISER_AT_50:
                    break
                seen = frame
            assert frame.seq is not None
            assert seen.seq is not None
            assert frame.seq - seen.seq >= 2  # the reopen's gap; the viewer is still here
            assert server.camera_status()["opens"] == 2
        finally:
            frames.close()


def test_exposure_and_gain_apply_live_where_advertised(opened: OpenCameras) -> None:
    camera = open_camera(SPEC, opened)
    offered = {control.name for control in camera.controls() if control.source == "libcamera"}
    if not {"ExposureTime", "AnalogueGain"} <= offered:
        pytest.skip(
            "libcamera does not advertise ExposureTime and AnalogueGain for the virtual "
            f"camera (it offers {', '.join(sorted(offered))}); the fake covers them"
        )
    changed = create_camera(f"{SPEC}&ExposureTime=10000&AnalogueGain=2", name="front")
    assert camera.adopt(changed)  # live: set_controls, no reopen
    read_frames(camera, 3)


#: libjpeg's luminance DC quantiser at quality 50: its standard table unscaled.
QUANTISER_AT_50 = 16


def has_text(jpeg: bytes) -> bool:
    """Text at the top left: its white and black where the picture has neither."""
    diff = pictures.overlay_diff(jpeg, references())
    height, width = diff.shape
    return bool((diff[: height // 6, : width // 2] > 100).sum() > 50)


def post(server: ServerProcess, body: object) -> requests.Response:
    return requests.post(server.url("/controls"), json=body, timeout=LIVENESS)
