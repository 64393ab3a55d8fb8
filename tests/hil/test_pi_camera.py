"""Checks that only make sense on a Raspberry Pi camera (``--camera picamera2``)."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import requests
from hil_tools import EXPOSURE_GAIN, HARDWARE_ENCODER, HilCamera, with_option
from PIL import Image, ImageStat

from mjpeg_server.cameras import CameraSpec
from mjpeg_server.cameras.picamera2 import hardware_mjpeg_encoder
from mjpeg_server.client.stream import iter_frames
from mjpeg_server.wire.jpeg import is_complete_jpeg, jpeg_size


@pytest.fixture
def pi_camera(hil_camera: HilCamera) -> HilCamera:
    if hil_camera.kind != "picamera2":
        pytest.skip("Raspberry Pi camera check: run the suite with --camera picamera2 on a Pi")
    return hil_camera


def test_encoder_and_size_suit_the_board(pi_camera: HilCamera, report: Callable[..., None]) -> None:
    """The hardware MJPEG encoder where there is one (VC4 boards, Pi 4 and older, have
    it at /dev/video11), JpegEncoder elsewhere (a Pi 5; the SIL stack); frames of the
    size asked for (default 1280x720)."""
    from picamera2.platform import Platform, get_platform  # noqa: PLC0415 - Pi only

    board = get_platform()
    hardware = hardware_mjpeg_encoder()
    size = CameraSpec.parse(pi_camera.spec).options.get("size", "1280x720")
    with pi_camera.server("--idle-timeout", "1") as server:
        stream = iter_frames(server.url("/stream.mjpg"), timeout=30)
        try:
            frame = next(stream)
        finally:
            stream.close()
        description = str(server.camera_status()["camera"])
    report(platform=board.name, hardware_mjpeg=hardware, camera=description)
    if pi_camera.spec.find("encoder=") < 0:
        expected = "mjpeg" if board is Platform.VC4 and hardware else "jpeg"
        assert description.endswith(f", {expected} encoder)"), description
    assert "x".join(map(str, jpeg_size(frame.jpeg) or ())) == size


def test_hardware_mjpeg_encoder(pi_camera: HilCamera, report: Callable[..., None]) -> None:
    """encoder=mjpeg streams whole JPEGs (the hardware encoder on VC4, libav's on a Pi 5)."""
    pi_camera.require(HARDWARE_ENCODER)
    spec = with_option(pi_camera.spec, "encoder", "mjpeg")
    with pi_camera.server("--idle-timeout", "1", spec=spec) as server:
        stream = iter_frames(server.url("/stream.mjpg"), timeout=30)
        try:
            frames = [next(stream) for _ in range(10)]
        finally:
            stream.close()
        description = str(server.camera_status()["camera"])
    report(camera=description)
    assert description.endswith(", mjpeg encoder)"), description
    assert all(is_complete_jpeg(frame.jpeg) for frame in frames)


def test_exposure_and_gain_apply_live(pi_camera: HilCamera, report: Callable[..., None]) -> None:
    """The camera's own ExposureTime and AnalogueGain, as libcamera advertises them, set
    while a viewer watches: listed with their limits, applied without a reopen, and an
    exposure an eighth as long darkens the picture."""
    pi_camera.require(EXPOSURE_GAIN)
    with pi_camera.server("--idle-timeout", "5") as server:
        stream = iter_frames(server.url("/stream.mjpg"), timeout=30)
        try:
            next(stream)
            listing = requests.get(server.url("/controls"), timeout=30).json()["controls"]
            exposure, gain = listing["ExposureTime"], listing["AnalogueGain"]
            assert exposure["source"] == gain["source"] == "libcamera"
            long_us = min(20_000, int(exposure["maximum"]))
            levels = {}
            for name, exposure_us in (("long", long_us), ("short", long_us // 8)):
                body = {"ExposureTime": exposure_us, "AnalogueGain": gain["minimum"]}
                answer = requests.post(server.url("/controls"), json=body, timeout=30)
                assert answer.status_code == 200, answer.text
                assert answer.json()["reopened"] is False
                # Controls take a few frames to reach the sensor: the level settles.
                frames = [next(stream) for _ in range(15)]
                levels[name] = luma(frames[-1].jpeg)
            assert server.camera_status()["opens"] == 1
        finally:
            stream.close()
    report(exposure=exposure, gain=gain, levels=levels)
    assert levels["short"] < 0.6 * levels["long"], levels


def luma(jpeg: bytes) -> float:
    with Image.open(io.BytesIO(jpeg)) as image:
        # The mean of the grey levels (Image.getdata is deprecated, to go in Pillow 14).
        return float(ImageStat.Stat(image.convert("L")).mean[0])
