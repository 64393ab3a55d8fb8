"""Hardware-in-the-loop suite: options, the camera under test, and the JSON report.

    pytest tests/hil                               # emulated camera with a device lock
    pytest tests/hil --camera picamera2            # a Raspberry Pi camera (or the fake
                                                   #   with PYTHONPATH=tests/fakes)
    pytest tests/hil --camera picamera2:1 --hil-fps 15 --hil-seconds 20
    tox -e sil                                     # --camera picamera2 on the real picamera2
                                                   #   and libcamera's virtual camera

Every check runs the real server and reads it over real sockets. Figures
(fps, intervals, cold start …) go to ``<results>/report-<label>.json`` next to
the JUnit XML that ``--junitxml`` writes; the runner uploads both.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from hil_tools import SIL_LACKS, HilCamera, fault_injection

from support import sil

REPORT_KEY = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hil", "hardware-in-the-loop suite")
    group.addoption(
        "--camera",
        default=None,
        metavar="SPEC",
        help="camera spec to test (default: emulated, holding a lock file as a device does)",
    )
    group.addoption("--hil-fps", type=float, default=30.0, help="frame rate asked (default 30)")
    group.addoption(
        "--hil-seconds",
        type=float,
        default=10.0,
        help="seconds of capture time each frame-rate measurement spans (default 10)",
    )
    group.addoption(
        "--hil-results",
        default="artifacts/hil",
        help="folder for the JSON report (default artifacts/hil)",
    )
    group.addoption(
        "--hil-label", default=None, help="names the report (default: from the camera kind)"
    )


def _picamera2_presence() -> tuple[str | None, str]:
    """(why Pi camera checks cannot run, or None; which picamera2: "fake" for the test
    fake, "sil" for the real one on libcamera's virtual camera, "real" on a Pi)."""
    try:
        import picamera2  # noqa: PLC0415 - only for --camera picamera2, and may be absent
    except Exception as error:  # ImportError, or libcamera failing to load
        return f"no Raspberry Pi camera stack: picamera2 cannot be imported ({error})", "real"
    cameras = picamera2.Picamera2.global_camera_info()
    if hasattr(picamera2, "fake_counts"):
        stack = "fake"
    elif any(camera["Id"] == sil.VIRTUAL_CAMERA_ID for camera in cameras):
        stack = "sil"
    else:
        stack = "real"
    if not cameras:
        return "no Raspberry Pi camera attached ('rpicam-hello --list-cameras' lists none)", stack
    return None, stack


@pytest.fixture(scope="session")
def hil_camera(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> HilCamera:
    config = request.config
    state = tmp_path_factory.mktemp("hil")
    spec = config.getoption("--camera") or f"emulated?lock={state / 'camera.lock'}"
    kind = spec.split("?")[0].split(":")[0]
    env = {}
    stack = "real"
    if kind == "picamera2":
        absent, stack = _picamera2_presence()
        if absent:
            config.stash[REPORT_KEY]["camera"] = {"spec": spec, "kind": kind, "absent": absent}
            pytest.skip(absent)
        # The fake keeps its locks and counters here (the real library ignores it).
        env["FAKE_PICAMERA2_DIR"] = str(state / "fake-picamera2")
    camera = HilCamera(
        spec=spec,
        kind=kind,
        fake=stack == "fake",
        fps=config.getoption("--hil-fps"),
        seconds=config.getoption("--hil-seconds"),
        env=env,
        lacks=SIL_LACKS if stack == "sil" else {},
        sil=stack == "sil",
    )
    config.stash[REPORT_KEY]["camera"] = {
        "spec": spec,
        "kind": kind,
        "fake": camera.fake,
        "sil": camera.sil,
        "lacks": dict(camera.lacks),
        "fault_injection": fault_injection(camera) is not None,
    }
    return camera


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``report(name=value, …)``: figures for this check in the JSON report."""
    checks = request.config.stash[REPORT_KEY]["checks"]
    entry = checks.setdefault(request.node.name, {"figures": {}})

    def record(**figures: Any) -> None:
        entry["figures"].update(figures)

    return record


def pytest_configure(config: pytest.Config) -> None:
    config.stash[REPORT_KEY] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {
            "machine": platform.machine(),
            "system": platform.platform(),
            "python": sys.version.split()[0],
            "model": _board_model(),
        },
        "options": {
            "fps": config.getoption("--hil-fps"),
            "seconds": config.getoption("--hil-seconds"),
        },
        "checks": {},
    }


def _board_model() -> str | None:
    model = Path("/proc/device-tree/model")  # "Raspberry Pi 5 Model B Rev 1.0" on a Pi
    return model.read_text().rstrip("\x00") if model.exists() else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    result = yield
    if result.when == "call" or result.outcome != "passed":
        checks = item.config.stash[REPORT_KEY]["checks"]
        entry = checks.setdefault(item.name, {"figures": {}})
        entry["outcome"] = result.outcome
        if result.outcome == "skipped" and isinstance(result.longrepr, tuple):
            entry["reason"] = result.longrepr[2]
        entry["seconds"] = round(result.duration, 3)
    return result


def pytest_sessionfinish(session: pytest.Session) -> None:
    data = session.config.stash[REPORT_KEY]
    camera = data.get("camera", {})
    label = session.config.getoption("--hil-label") or (
        camera.get("kind", "unknown") + ("-fake" if camera.get("fake") else "")
    )
    folder = Path(session.config.getoption("--hil-results"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"report-{label}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        terminal.write_line(f"HIL report: {os.path.relpath(path)}")
