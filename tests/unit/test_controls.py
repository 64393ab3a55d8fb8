"""Runtime controls over real sockets: ``GET``/``POST /controls`` on the real server
process, while a viewer stays connected to the stream."""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mjpeg_server.client.stream import MJPEGStream, ReceivedFrame, open_stream
from mjpeg_server.wire.jpeg import jpeg_size
from support.server import ServerProcess, assert_one_line_error, run_cli
from support.waiting import LIVENESS, wait_until


class Viewer:
    """One stream read on its own thread for as long as the test runs."""

    def __init__(self, url: str) -> None:
        self.stream: MJPEGStream = open_stream(url, timeout=LIVENESS)
        self.frames: list[ReceivedFrame] = []
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for frame in self.stream.frames():
                with self._lock:
                    self.frames.append(frame)
        except BaseException as error:
            self.error = error

    def count(self) -> int:
        with self._lock:
            return len(self.frames)

    def newest(self) -> ReceivedFrame:
        with self._lock:
            return self.frames[-1]

    def wait_for(self, size: tuple[int, int]) -> ReceivedFrame:
        def arrived() -> ReceivedFrame | None:
            with self._lock:
                return next((f for f in self.frames if jpeg_size(f.jpeg) == size), None)

        return wait_until(arrived, LIVENESS, message=f"no {size} frame; error: {self.error}")

    def close(self) -> None:
        self.stream.close()
        self._thread.join(LIVENESS)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(
        "--camera", "front=emulated?fps=30", "--camera", "back=emulated?fps=10"
    ) as running:
        yield running


def post(server: ServerProcess, path: str, body: object) -> requests.Response:
    if isinstance(body, str):  # raw JSON text, e.g. Python's Infinity extension
        headers = {"Content-Type": "application/json"}
        return requests.post(server.url(path), data=body, headers=headers, timeout=LIVENESS)
    return requests.post(server.url(path), json=body, timeout=LIVENESS)


def reset(server: ServerProcess, camera: str) -> None:
    names = requests.get(server.url(f"/cameras/{camera}/controls"), timeout=LIVENESS).json()
    defaults = {name: None for name in names["controls"] if name != "fps"}
    assert post(server, f"/cameras/{camera}/controls", defaults).ok


def test_get_lists_each_control_with_type_range_and_value(server: ServerProcess) -> None:
    listing = requests.get(server.url("/controls"), timeout=LIVENESS)
    assert listing.status_code == 200
    assert listing.headers["Cache-Control"] == "no-store"
    body = listing.json()
    assert body["camera"] == "front"  # the default camera
    controls = body["controls"]
    assert set(controls) >= {"fps", "size", "quality", "rotate", "hflip", "vflip", "overlay"}
    assert controls["rotate"] == {
        "type": "enum",
        "value": 0,
        "live": True,
        "choices": [0, 90, 180, 270],
        "default": 0,
        "description": "turn clockwise, after the flips",
    }
    assert controls["quality"]["minimum"] == 1
    assert controls["quality"]["maximum"] == 100
    assert controls["fps"]["value"] == 30
    assert controls["fps"]["live"] is False  # a reopen
    assert controls["size"]["value"] == "640x480"
    back = requests.get(server.url("/cameras/back/controls"), timeout=LIVENESS).json()
    assert back["controls"]["fps"]["value"] == 10


def test_live_change_keeps_the_viewer_and_every_frame(server: ServerProcess) -> None:
    viewer = Viewer(server.url("/cameras/front/stream.mjpg"))
    try:
        wait_until(lambda: viewer.count() >= 3, LIVENESS)
        response = post(server, "/cameras/front/controls", {"rotate": 90, "hflip": True})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["applied"] is True
        assert body["reopened"] is False
        assert body["controls"]["rotate"]["value"] == 90
        assert body["controls"]["hflip"]["value"] is True
        turned = viewer.wait_for((480, 640))
        assert viewer.error is None
        seqs = [f.seq for f in viewer.frames if f.seq is not None and f.seq <= turned.seq]
        assert seqs == sorted(set(seqs))
        assert server.camera_status("front")["opens"] == 1  # never reopened
    finally:
        viewer.close()
        reset(server, "front")


def test_a_reopen_is_a_gap_in_x_frame_seq_not_a_dropped_stream(server: ServerProcess) -> None:
    viewer = Viewer(server.url("/cameras/front/stream.mjpg"))
    try:
        wait_until(lambda: viewer.count() >= 3, LIVENESS)
        opens = server.camera_status("front")["opens"]
        response = post(server, "/cameras/front/controls", {"size": "320x240", "quality": 50})
        assert response.status_code == 200, response.text
        assert response.json()["reopened"] is True
        small = viewer.wait_for((320, 240))
        frames = list(viewer.frames)
        index = frames.index(small)
        before = frames[index - 1]
        assert jpeg_size(before.jpeg) == (640, 480)
        assert small.seq is not None
        assert before.seq is not None
        assert small.seq > before.seq + 1  # the frames the camera missed while reopening
        assert viewer.error is None  # still the same connection
        status = server.camera_status("front")
        assert status["opens"] == opens + 1
        assert status["clients"] == 1
        wait_until(
            lambda: (
                status["resolution"] == [320, 240]
                or server.camera_status("front")["resolution"] == [320, 240]
            ),
            LIVENESS,
        )
        line = server.wait_for_log(r"camera 'front': controls size=320x240, quality=50 reopened", 5)
        assert "emulated?fps=30&size=320x240&quality=50" in line
    finally:
        viewer.close()
        reset(server, "front")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"rotate": 45}, "option rotate='45' is not one of 0, 90, 180, 270"),
        ({"quality": 0}, "option quality must be >= 1"),
        ({"quality": 101}, "option quality must be 1-100"),
        ({"size": "big"}, "option size='big' is not WIDTHxHEIGHT"),
        ({"hflip": "maybe"}, "option hflip='maybe' is not 0 or 1"),
        ({"fail_after": 1}, "camera 'front' has no control fail_after (controls: fps, hflip"),
        ({"fps": {"a": 1}}, "fps must be a number, true/false, text or null"),
        ('{"fps": Infinity}', "fps must be a finite number"),
        ("{not json", "expected a JSON object of control: value"),
        ({}, "expected a JSON object of control: value"),
        ([1], "expected a JSON object of control: value"),
    ],
)
def test_bad_values_are_a_400_with_the_reason(
    server: ServerProcess, body: object, message: str
) -> None:
    response = post(server, "/controls", body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert (
        requests.get(server.url("/controls"), timeout=LIVENESS).json()["controls"]["rotate"][
            "value"
        ]
        == 0
    )  # nothing changed


def test_a_post_must_be_json(server: ServerProcess) -> None:
    """A cross-site form cannot send JSON without asking (CORS): no CSRF."""
    form = requests.post(server.url("/controls"), data={"rotate": "90"}, timeout=LIVENESS)
    assert form.status_code == 415
    text = requests.post(
        server.url("/controls"),
        data='{"rotate": 90}',
        headers={"Content-Type": "text/plain"},
        timeout=LIVENESS,
    )
    assert text.status_code == 415
    assert requests.get(server.url("/cameras/nope/controls"), timeout=LIVENESS).status_code == 404


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("emulated?rotate=45", "option rotate='45' is not one of 0, 90, 180, 270"),
        ("emulated?overlay_position=middle", "overlay_position='middle' is not one of"),
        ("http://cam/#hflip=2", "option hflip='2' is not 0 or 1"),
        ("picamera2?rotate=45", "option rotate='45' is not one of 0, 90, 180, 270"),
        ("picamera2?AwbMode=", "AwbMode='' is not a number, true/false or a name"),
        ("opencv:0?brightness=bright", "brightness='bright' is not a number"),
    ],
)
def test_bad_values_at_start_up_are_one_line_and_exit_2(spec: str, message: str) -> None:
    assert_one_line_error(run_cli(["--camera", spec]), message)


def test_controls_need_credentials_once_access_control_is_on() -> None:
    token = "s3cret-token-for-controls"
    with ServerProcess("--token", token, "--camera", "emulated?fps=10") as server:
        url = server.url("/controls")
        assert requests.get(url, timeout=LIVENESS).status_code == 401
        refused = requests.post(url, json={"rotate": 90}, timeout=LIVENESS)
        assert refused.status_code == 401
        bearer = {"Authorization": f"Bearer {token}"}
        assert (
            requests.get(url, headers=bearer, timeout=LIVENESS).json()["controls"]["rotate"][
                "value"
            ]
            == 0
        )  # the refused POST changed nothing
        allowed = requests.post(url, json={"rotate": 90}, headers=bearer, timeout=LIVENESS)
        assert allowed.status_code == 200
        assert allowed.json()["controls"]["rotate"]["value"] == 90
        assert allowed.json()["saved"] is None  # no --config file


def test_changes_are_written_back_to_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "mjpeg-server.toml"
    config.write_text('[cameras.front]\nspec = "emulated"\nfps = 10\n')
    with ServerProcess("--config", str(config)) as server:
        response = post(server, "/controls", {"rotate": 270, "overlay": "%H:%M {camera}"})
        assert response.status_code == 200
        assert response.json()["saved"] is True
        assert post(server, "/controls", {"overlay": None}).json()["saved"] is True
    saved = tomllib.loads(config.read_text())
    assert saved["cameras"]["front"] == {"spec": "emulated", "fps": 10, "rotate": "270"}
    # The next start runs with what was saved.
    with ServerProcess("--config", str(config)) as again:
        controls = requests.get(again.url("/controls"), timeout=LIVENESS).json()["controls"]
        assert controls["rotate"]["value"] == 270
        assert controls["overlay"]["value"] == ""


def test_a_relay_cameras_changes_are_written_back_to_its_fragment(tmp_path: Path) -> None:
    """An http:// camera's options live in its URL's fragment: a change is saved there
    and read back at the next start. (The upstream is never reached: the camera is
    idle, so the change simply replaces its settings.)"""
    config = tmp_path / "mjpeg-server.toml"
    config.write_text('[cameras.door]\nspec = "http://127.0.0.1:9/?action=stream#rotate=180"\n')
    with ServerProcess("--config", str(config)) as server:
        response = post(server, "/controls", {"rotate": 90, "overlay": "{camera}"})
        assert response.status_code == 200, response.text
        assert response.json()["saved"] is True
        assert response.json()["spec"] == (
            "http://127.0.0.1:9/?action=stream#rotate=90&overlay={camera}"
        )
    saved = tomllib.loads(config.read_text())["cameras"]["door"]
    assert saved == {
        "spec": "http://127.0.0.1:9/?action=stream",
        "rotate": "90",
        "overlay": "{camera}",
    }
    with ServerProcess("--config", str(config)) as again:
        controls = requests.get(again.url("/controls"), timeout=LIVENESS).json()["controls"]
        assert controls["rotate"]["value"] == 90
        assert controls["overlay"]["value"] == "{camera}"
