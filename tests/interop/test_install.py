"""The README's two commands, as typed, with Debian's own Python (PEP 668 applies
to it): a fresh venv, ``pip install .`` from PyPI, and the server answers. The
Raspberry Pi OS one makes the venv with ``--system-site-packages`` so that it
sees apt's picamera2, which pip then reuses with whatever else apt put there
(Debian's Jinja2, PyYAML …); off a Pi it runs with the emulated camera, and the
picamera2 backend itself is tested on the fake (tox -e hil) and the SIL tier."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from support.tools import REQUIRE_ENV
from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_PYTHON = Path("/usr/bin/python3")
FIRST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/mjpeg-server"
PI_COMMAND = (
    "python3 -m venv --system-site-packages .venv && .venv/bin/pip install . && "
    ".venv/bin/mjpeg-server --camera picamera2"
)
#: Where Debian's (and Raspberry Pi OS's) apt puts Python packages, python3-picamera2's too.
APT_PACKAGES = "/usr/lib/python3/dist-packages"
_SERVING = re.compile(r"serving \d+ camera\(s\) on (http://\S+?)/ ")
#: What the copy leaves out: this checkout's own venvs, caches and build output.
_NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".tox", ".ci", "build", "artifacts", "results", "*.egg-info", "__pycache__",
    ".*_cache", ".hypothesis", ".benchmarks",
)  # fmt: skip


def test_readme_shows_the_command_tested_here() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    assert blocks[:2] == [FIRST_COMMAND, PI_COMMAND]


@pytest.mark.parametrize(
    "command",
    [FIRST_COMMAND, PI_COMMAND.removesuffix(" --camera picamera2")],
    ids=["debian-12", "raspberry-pi-os"],
)
def test_first_command_in_a_fresh_venv_of_debians_python(tmp_path: Path, command: str) -> None:
    if not DEBIAN_PYTHON.exists():
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{DEBIAN_PYTHON} is missing, and {REQUIRE_ENV}=1 requires it")
        pytest.skip(f"{DEBIAN_PYTHON} is missing: not a Debian-like system")
    clone = tmp_path / "mjpeg-server"
    shutil.copytree(ROOT, clone, ignore=_NOT_COPIED)
    # As typed, with Debian's python3 first on PATH and a free port (8000 may be taken).
    env = {
        "PATH": f"{DEBIAN_PYTHON.parent}:/usr/sbin:/sbin:/bin",
        "HOME": str(tmp_path),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        ["bash", "-c", command + " --port 0"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # ends when the command exits, or at "serving"
            output.append(line)
            match = _SERVING.search(line)
            if match:
                base = match[1]
                break
        else:
            pytest.fail("the command ended without serving:\n" + "".join(output[-30:]))
        wait_until(lambda: requests.get(base + "/healthz", timeout=5).ok, 60, message="no answer")
        snapshot = requests.get(base + "/snapshot.jpg", timeout=30)
        assert snapshot.status_code == 200
        assert snapshot.headers["Content-Type"] == "image/jpeg"
        site = subprocess.run(
            [clone / ".venv/bin/python", "-c", "import sys; print(sys.path)"],
            capture_output=True, text=True, env=env, timeout=60, check=True,
        ).stdout  # fmt: skip
        assert (APT_PACKAGES in site) == ("--system-site-packages" in command), site
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
