"""A webcam's image controls (``cv2.CAP_PROP_*``) through the OpenCV backend.

No V4L2 device here: the webcam is tests/support/fake_webcam.py, a capture object
with ``cv2.VideoCapture``'s API and the V4L2 backend's behaviour, and its node's
``VIDIOC_QUERYCTRL`` answered through ``v4l2.controls``' injected ioctl. What
needs a real device: the kernel's answers (which controls a given webcam has,
whether its driver clamps or refuses a value) and OpenCV's own V4L2 backend.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mjpeg_server.cameras import CameraFailed, SpecError, v4l2
from mjpeg_server.cameras import create_camera as _create_camera
from mjpeg_server.cameras import opencv as backend
from mjpeg_server.cameras._opencv_controls import device_controls
from mjpeg_server.cameras.opencv import OpenCVCamera
from mjpeg_server.hub import CaptureHub, HubSettings
from mjpeg_server.wire.multipart import PartEncoder
from support.cameras import OpenCameras
from support.fake_webcam import FakeNode, FakeVideoCapture
from support.waiting import LIVENESS, wait_until

cv2 = pytest.importorskip("cv2", reason="OpenCV is the 'opencv' extra")

SETTINGS = HubSettings(idle_timeout=0.2, stall_timeout=10, backoff_initial=0.01, backoff_max=0.05)


@pytest.fixture(autouse=True)
def webcam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``opencv:N`` opens the fake webcam; its node answers through v4l2.controls."""
    node = tmp_path / "video0"
    node.touch()
    real_capture = backend.video_capture

    def video_capture(cv2_module: Any, target: int | str, is_device: bool) -> Any:
        if is_device:
            return FakeVideoCapture(cv2_module, int(target))
        return real_capture(cv2_module, target, is_device)

    def controls_of(index: int) -> Any:
        return device_controls(index, lambda _path, ids: v4l2.controls(str(node), ids, FakeNode()))

    monkeypatch.setattr(backend, "video_capture", video_capture)
    monkeypatch.setattr(backend, "device_controls", controls_of)
    monkeypatch.setattr(backend, "_DEVICE_CONTROLS", {})
    monkeypatch.setattr(FakeVideoCapture, "made", [])


def create_camera(spec: str) -> OpenCVCamera:
    camera = _create_camera(spec)
    assert isinstance(camera, OpenCVCamera)
    return camera


def open_camera(spec: str, opened: OpenCameras) -> OpenCVCamera:
    return opened.open(spec, OpenCVCamera)


def level(jpeg: bytes) -> float:
    with Image.open(io.BytesIO(jpeg)) as image:
        return float(np.asarray(image.convert("L")).mean())


def test_the_controls_a_webcam_has_are_listed_with_its_limits(opened: OpenCameras) -> None:
    assert "brightness" not in {c.name for c in create_camera("opencv:0").controls()}
    camera = open_camera("opencv:0", opened)
    listing = {control.name: control.to_json() for control in camera.controls()}
    assert listing["brightness"] == {
        "type": "int",
        "value": 128,
        "live": True,
        "minimum": 0,
        "maximum": 255,
        "default": 128,
        "source": "cv2.CAP_PROP_BRIGHTNESS",
        "description": "Brightness",
    }
    assert listing["auto_wb"]["type"] == "bool"
    assert listing["auto_wb"]["value"] is True
    assert (listing["exposure"]["minimum"], listing["exposure"]["maximum"]) == (3, 2047)
    for absent in ("focus", "zoom", "gain", "hue"):  # this webcam has none of them
        assert absent not in listing


def test_controls_in_the_spec_are_set_when_it_opens(opened: OpenCameras) -> None:
    camera = open_camera("opencv:0?brightness=40&auto_exposure=1&exposure=100", opened)
    (capture,) = FakeVideoCapture.made
    assert capture.get(cv2.CAP_PROP_BRIGHTNESS) == 40
    assert capture.get(cv2.CAP_PROP_EXPOSURE) == 100
    frame = wait_until(lambda: camera.read(1), LIVENESS, interval=0)
    assert level(frame.jpeg) == pytest.approx(40, abs=3)
    assert {c.name: c.value for c in camera.controls()}["brightness"] == 40


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("opencv:0?brightness=300", r"brightness='300' is not a whole number from 0 to 255"),
        ("opencv:0?brightness=dim", r"brightness='dim' is not a number"),
        ("opencv:0?focus=10", r"/dev/video0 has no control focus \(it has: brightness, "),
    ],
)
def test_a_bad_value_is_refused_with_the_reason(
    spec: str, message: str, opened: OpenCameras
) -> None:
    open_camera("opencv:0", opened)  # the node has said what the webcam has
    with pytest.raises(SpecError, match=message):
        create_camera(spec)


def test_files_and_streams_have_no_image_controls(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    clip.write_bytes(b"")
    with pytest.raises(SpecError, match=r"brightness: image controls are a device's \(opencv:N\)"):
        create_camera(f"opencv:{clip}?brightness=10")


def test_before_the_device_opened_it_checks_them_when_it_opens() -> None:
    camera = create_camera("opencv:0?brightness=300")  # not known yet: accepted
    with pytest.raises(CameraFailed, match=r"brightness='300' is not a whole number from 0 to"):
        camera.open()
    refused = create_camera("opencv:0?exposure=100")  # auto exposure is on: uvcvideo refuses
    with pytest.raises(CameraFailed, match=r"the driver refused exposure=100"):
        refused.open()


def test_a_control_changes_live_and_back_to_the_drivers_default() -> None:
    """Through the hub, as POST /controls does it: the reader thread sets it between
    two reads (no reopen); null sets the driver's default (a device keeps a value
    across opens); a value the driver refuses is an error with the reason."""
    first = create_camera("opencv:0")
    hub = CaptureHub(first, PartEncoder("frame"), settings=SETTINGS)
    with hub, hub.subscribe() as subscription:
        assert subscription.next_part(LIVENESS) is not None
        (capture,) = FakeVideoCapture.made
        outcome = hub.reconfigure(create_camera("opencv:0?brightness=30"), LIVENESS)
        assert (outcome.error, outcome.reopened) == (None, False)
        assert capture.get(cv2.CAP_PROP_BRIGHTNESS) == 30

        def darker() -> bool:
            part = subscription.next_part(LIVENESS)
            return part is not None and level(part.frame.jpeg) < 40

        wait_until(darker, LIVENESS, interval=0)
        refused = hub.reconfigure(create_camera("opencv:0?brightness=30&exposure=90"), LIVENESS)
        assert "the driver refused exposure=90" in str(refused.error)
        outcome = hub.reconfigure(create_camera("opencv:0"), LIVENESS)
        assert (outcome.error, outcome.reopened) == (None, False)
        assert capture.get(cv2.CAP_PROP_BRIGHTNESS) == 128  # the driver's default
        assert FakeVideoCapture.made == [capture]  # one capture throughout: never reopened
