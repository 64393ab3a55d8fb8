"""Picture options and the camera's own controls on the picamera2 backend, against the
picamera2 fake (tests/fakes/picamera2), whose sensor flips (and cannot transpose),
calls a pre-callback with its image buffers and lets exposure, gain and brightness
change its pictures.

Pictures are judged by content: each frame is matched against the fake's own
pictures (fixtures/frames) in each of the eight orientations, and the best match
must be the one asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import requests

from mjpeg_server.cameras import CameraFailed, Frame, SpecError, _picamera2_controls
from mjpeg_server.cameras import create_camera as _create_camera
from mjpeg_server.cameras.picamera2 import Picamera2Camera
from mjpeg_server.client.stream import iter_frames
from mjpeg_server.hub import CaptureHub, HubSettings
from mjpeg_server.picture import Orientation
from mjpeg_server.wire.jpeg import jpeg_size
from mjpeg_server.wire.multipart import PartEncoder
from support import pictures
from support.cameras import OpenCameras, read_frames
from support.fake_picamera2 import fresh_state, import_fake, server_env
from support.server import ServerProcess
from support.waiting import LIVENESS, wait_until

picamera2 = import_fake()
from libcamera import Transform  # noqa: E402 - the fake's, once tests/fakes is on sys.path

ROOT = Path(__file__).resolve().parents[2]
SIZE = (640, 360)  # 360 = 22.5 blocks of 16: a lossless quarter turn trims 8 rows
SETTINGS = HubSettings(idle_timeout=0.2, stall_timeout=10, backoff_initial=0.01, backoff_max=0.05)


@pytest.fixture(autouse=True)
def fake_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # What this process learnt of the camera's controls belongs to the test.
    monkeypatch.setattr(_picamera2_controls, "ADVERTISED", {})
    return fresh_state(tmp_path, monkeypatch)


def create_camera(spec: str) -> Picamera2Camera:
    camera = _create_camera(spec, name="front")
    assert isinstance(camera, Picamera2Camera)
    return camera


def open_camera(spec: str, opened: OpenCameras) -> Picamera2Camera:
    return opened.open(spec, Picamera2Camera)


def references(size: tuple[int, int] = SIZE) -> list[np.ndarray]:
    """The fake's pictures at ``size``, as its sensor makes them."""
    return pictures.references(ROOT / "fixtures" / "frames", size)


def best_match(jpeg: bytes) -> tuple[Orientation, np.ndarray]:
    return pictures.best_match(jpeg, references())


# -- orientation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        "hflip=1",
        "vflip=1",
        "rotate=180",
        "rotate=180&hflip=1",
        "rotate=90",
        "rotate=270",
        "rotate=90&hflip=1",
        "rotate=270&vflip=1",
    ],
)
def test_each_orientation_turns_the_picture(options: str, opened: OpenCameras) -> None:
    camera = open_camera(f"picamera2?size=640x360&{options}", opened)
    asked = camera.picture.orientation
    frames = read_frames(camera, 3)
    swapped = asked.swaps_axes
    # A quarter turn is lossless: 360 rows are 22.5 blocks of 16, the half block goes.
    assert {jpeg_size(f.jpeg) for f in frames} == {(352, 640) if swapped else SIZE}
    for frame in frames:
        shown, _ = best_match(frame.jpeg)
        assert shown.tj_op == asked.tj_op, (shown, asked)
    # Who did what: the sensor flips (free); software only ever adds a quarter turn.
    transform = camera._picam.camera_configuration()["transform"]
    assert (transform.hflip, transform.vflip, transform.transpose) == (
        *asked.camera_flips(),
        False,
    )
    assert camera.software_turn.tj_op == Orientation(rotate=90 if swapped else 0).tj_op
    assert (camera._pipeline is not None) == swapped


def test_flips_and_180_cost_nothing_in_software(opened: OpenCameras) -> None:
    camera = open_camera("picamera2?size=640x360&rotate=180", opened)
    assert camera._pipeline is None  # the frames go out as the encoder made them
    assert camera._drawer is None
    assert camera._picam.pre_callback is None


def test_a_sensor_that_cannot_flip_gets_it_done_in_software(
    opened: OpenCameras, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libcamera gives the picture as mounted when the sensor cannot flip, and says so:
    the backend reads that back and turns it all in software (losslessly)."""
    monkeypatch.setenv("FAKE_PICAMERA2_NO_FLIPS", "1")
    camera = open_camera("picamera2?size=640x360&rotate=180", opened)
    assert camera._picam.camera_configuration()["transform"] == Transform()
    assert camera.software_turn.tj_op == Orientation(rotate=180).tj_op
    for frame in read_frames(camera, 3):
        assert jpeg_size(frame.jpeg) == (640, 352)  # 180° trims the partial bottom blocks
        shown, _ = best_match(frame.jpeg)
        assert shown.tj_op == Orientation(rotate=180).tj_op


def test_what_the_camera_does_needs_no_picture_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flips, 180° and the overlay need no libjpeg-turbo on a Pi camera (it is needed
    for a quarter turn): a Pi without it takes them."""
    from mjpeg_server.picture import turbojpeg  # noqa: PLC0415

    def missing() -> None:
        raise turbojpeg.PictureLibraryMissing(f"TurboJPEG is missing: {turbojpeg.INSTALL_HINT}")

    monkeypatch.setattr(turbojpeg, "turbojpeg", missing)
    create_camera("picamera2?hflip=1&vflip=1&overlay=%H:%M")
    create_camera("picamera2?rotate=180")
    with pytest.raises(SpecError, match="TurboJPEG is missing: install libjpeg-turbo"):
        create_camera("picamera2?rotate=90")


def test_the_fake_sensor_cannot_transpose_either() -> None:
    """As a Pi sensor: a transposing transform comes back as the picture as mounted."""
    camera = picamera2.Picamera2(0)
    try:
        camera.configure(camera.create_video_configuration(transform=Transform(rotation=90)))
        assert camera.camera_configuration()["transform"] == Transform()
        with pytest.raises(RuntimeError, match="Transform has incorrect type"):
            camera.configure(camera.create_video_configuration(transform=(1, 0)))
    finally:
        camera.close()


# -- the overlay -------------------------------------------------------------------------


def overlay_diff(jpeg: bytes) -> np.ndarray:
    return pictures.overlay_diff(jpeg, references())


@pytest.mark.parametrize("options", ["", "&rotate=90", "&rotate=270&hflip=1", "&vflip=1"])
def test_the_overlay_is_drawn_into_the_buffer_upright(options: str, opened: OpenCameras) -> None:
    """Drawn by the pre-callback into the camera's buffer before the encoder (no
    decode, no second encode), pre-turned where a quarter turn follows: in every
    orientation the text is at the top left of the picture that comes out."""
    camera = open_camera(f"picamera2?size=640x360&overlay=%H:%M:%S+{{camera}}{options}", opened)
    assert camera._picam.pre_callback is not None
    pipeline = camera._pipeline
    assert pipeline is None or pipeline._overlay is None  # never decode-draw-encode here
    for frame in read_frames(camera, 3):
        pictures.assert_text_at(overlay_diff(frame.jpeg))


@pytest.mark.parametrize(
    ("position", "options"),
    [
        ("top-right", ""),
        ("bottom-left", "&rotate=90"),
        ("bottom-right", "&vflip=1"),
        ("top", "&rotate=270"),
        ("bottom", ""),
    ],
)
def test_the_overlay_goes_where_overlay_position_says(
    position: str, options: str, opened: OpenCameras
) -> None:
    """In the picture that comes out, also through a quarter turn after the camera."""
    spec = f"picamera2?size=640x360&overlay=%H:%M:%S+{{camera}}&overlay_position={position}"
    camera = open_camera(spec + options, opened)
    for frame in read_frames(camera, 3):
        pictures.assert_text_at(overlay_diff(frame.jpeg), position)


def test_the_overlay_changes_live(opened: OpenCameras) -> None:
    camera = open_camera("picamera2?size=640x360", opened)
    (frame,) = read_frames(camera, 1)
    assert not (overlay_diff(frame.jpeg) > 100).any()
    assert camera.adopt(create_camera("picamera2?size=640x360&overlay=%H:%M"))
    # Frames the encoder had already made come first; then the text is there.
    frame = wait_until(lambda: with_text(read_frames(camera, 1)[0]), LIVENESS, interval=0)
    pictures.assert_text_at(overlay_diff(frame.jpeg))
    assert camera.adopt(create_camera("picamera2?size=640x360"))
    assert camera._picam.pre_callback is None
    wait_until(lambda: not with_text(read_frames(camera, 1)[0]), LIVENESS, interval=0)


def with_text(frame: Frame) -> Frame | None:
    return frame if (overlay_diff(frame.jpeg) > 100).any() else None


# -- the camera's own controls -------------------------------------------------------------


def test_the_cameras_own_controls_are_listed_once_it_was_configured(
    opened: OpenCameras,
) -> None:
    before = {control.name for control in create_camera("picamera2").controls()}
    assert "ExposureTime" not in before  # unknown until the camera says what it offers
    camera = open_camera("picamera2?size=640x360&AwbMode=Daylight", opened)
    listing = {control.name: control.to_json() for control in camera.controls()}
    assert listing["ExposureTime"] == {
        "type": "int",
        "value": 20000,
        "live": True,
        "minimum": 26,
        "maximum": 220417486,
        "default": 20000,
        "source": "libcamera",
    }
    assert listing["AnalogueGain"]["type"] == "number"
    assert (listing["AnalogueGain"]["minimum"], listing["AnalogueGain"]["maximum"]) == (1.0, 16.0)
    assert listing["AeEnable"] == {
        "type": "bool",
        "value": True,
        "live": True,
        "default": True,
        "source": "libcamera",
    }
    assert listing["AwbMode"]["type"] == "enum"
    assert listing["AwbMode"]["value"] == "Daylight"
    assert listing["AwbMode"]["choices"] == [
        "Auto",
        "Incandescent",
        "Tungsten",
        "Fluorescent",
        "Indoor",
        "Daylight",
        "Cloudy",
        "Custom",
    ]
    # The pipeline's values only, named as libcamera.controls.AeFlickerModeEnum names them.
    assert listing["AeFlickerMode"]["choices"] == ["Off", "Manual"]
    for name in ("Brightness", "Contrast", "Saturation", "Sharpness", "AwbEnable"):
        assert listing[name]["live"] is True
    for name in ("FrameDurationLimits", "ColourGains", "ScalerCrop", "ExposureTimeMode"):
        assert name not in listing  # fps sets it; arrays; picamera2 sets it
    assert listing["rotate"]["live"] is False  # a new camera configuration
    assert listing["overlay"]["live"] is True
    # A new camera of the same number is checked against what this one offered.
    assert "ExposureTime" in {control.name for control in create_camera("picamera2").controls()}


def test_controls_in_the_spec_apply_when_it_opens(opened: OpenCameras) -> None:
    camera = open_camera("picamera2?size=640x360&Brightness=0.25&AeEnable=0&AwbMode=5", opened)
    assert camera._picam.controls["Brightness"] == 0.25
    assert camera._picam.controls["AeEnable"] is False
    assert camera._picam.controls["AwbMode"] == 5
    frame = read_frames(camera, 1)[0]
    # Brightness 0.25 adds a quarter of full scale to every value (the fake's model).
    assert np.mean(pictures.pixels(frame.jpeg)) > max(np.mean(r) for r in references()) + 30


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("picamera2?ExposureTime=5", r"ExposureTime='5' is outside 26 to 220417486"),
        ("picamera2?ExposureTime=1.5", r"ExposureTime='1.5' is not a whole number"),
        ("picamera2?AnalogueGain=inf", r"AnalogueGain='inf' is outside 1 to 16"),
        ("picamera2?AeEnable=maybe", r"AeEnable='maybe' is not 0 or 1"),
        ("picamera2?AwbMode=Purple", r"AwbMode='Purple' is not one of Auto, Incandescent"),
        ("picamera2?Bogus=1", r"picamera2 camera 0 has no control Bogus \(it has: AeConstraint"),
        ("picamera2?ColourGains=2", r"has no control ColourGains"),
    ],
)
def test_a_bad_value_is_refused_with_the_reason(
    spec: str, message: str, opened: OpenCameras
) -> None:
    open_camera("picamera2?size=640x360", opened)  # the camera has said what it offers
    with pytest.raises(SpecError, match=message):
        create_camera(spec)


def test_before_the_camera_opened_the_form_is_checked_then_the_rest_at_open() -> None:
    with pytest.raises(SpecError, match=r"ExposureTime='1,2' is not a number, true/false or a"):
        create_camera("picamera2?ExposureTime=1,2")
    camera = create_camera("picamera2?size=640x360&ExposureTime=5")  # the form is fine
    with pytest.raises(CameraFailed, match=r"failed to start: ExposureTime='5' is outside 26"):
        camera.open()


def test_a_control_changes_live_and_back_to_its_default_by_a_reopen() -> None:
    """Through the hub, as POST /controls does it: a value is set between two frames
    (no reopen, no gap in the numbering); back to the default reopens."""
    first = create_camera("picamera2?size=640x360&fps=20")
    hub = CaptureHub(first, PartEncoder("frame"), settings=SETTINGS)
    with hub, hub.subscribe() as subscription:
        before = subscription.next_part(LIVENESS)
        assert before is not None
        outcome = hub.reconfigure(
            create_camera("picamera2?size=640x360&fps=20&Brightness=0.3"), LIVENESS
        )
        assert (outcome.error, outcome.reopened) == (None, False)
        assert hub.camera is first
        assert first._picam.controls["Brightness"] == 0.3

        level = max(np.mean(r) for r in references())

        def brighter() -> object:
            part = subscription.next_part(LIVENESS)
            assert part is not None
            return part if np.mean(pictures.pixels(part.frame.jpeg)) > level + 40 else None

        after = wait_until(brighter, LIVENESS, interval=0)
        assert after.seq - before.seq == after.version - before.version  # no gap
        outcome = hub.reconfigure(create_camera("picamera2?size=640x360&fps=20"), LIVENESS)
        assert (outcome.error, outcome.reopened) == (None, True)
        assert "Brightness" not in hub.camera._picam.controls  # type: ignore[attr-defined]


def test_the_server_applies_controls_without_dropping_the_viewer(fake_state: Path) -> None:
    """The real server on the fake: one viewer stays connected through a live change
    (the camera not reopened), a refused value (400 with the reason), and a turn,
    which reopens the camera (a gap in X-Frame-Seq)."""
    env = server_env(fake_state)
    with ServerProcess("--camera", "picamera2?size=640x360&fps=20", env=env) as server:
        frames = iter_frames(server.url("/stream.mjpg"), timeout=LIVENESS)
        try:
            first = next(frames)
            listing = requests.get(server.url("/controls"), timeout=LIVENESS).json()["controls"]
            assert listing["AnalogueGain"]["maximum"] == 16.0

            live = post(server, {"AnalogueGain": 2.0, "overlay": "{camera}"})
            assert live.status_code == 200, live.text
            assert (live.json()["applied"], live.json()["reopened"]) == (True, False)
            assert live.json()["controls"]["AnalogueGain"]["value"] == 2.0
            level = np.mean(pictures.pixels(first.jpeg))
            brighter = next(f for f in frames if np.mean(pictures.pixels(f.jpeg)) > level + 30)
            assert server.camera_status()["opens"] == 1  # applied while it ran

            refused = post(server, {"ExposureTime": 10})
            assert refused.status_code == 400
            assert "ExposureTime='10' is outside 26 to 220417486" in refused.json()["error"]

            reopened = post(server, {"rotate": 90})
            assert (reopened.status_code, reopened.json()["reopened"]) == (200, True)
            seen = brighter
            for frame in frames:
                if jpeg_size(frame.jpeg) == (352, 640):
                    break
                seen = frame
            assert frame.seq is not None
            assert seen.seq is not None
            assert frame.seq - seen.seq >= 2  # the reopen is a gap, and the viewer is still here
            assert server.camera_status()["opens"] == 2
        finally:
            frames.close()


def post(server: ServerProcess, body: object) -> requests.Response:
    return requests.post(server.url("/controls"), json=body, timeout=LIVENESS)
