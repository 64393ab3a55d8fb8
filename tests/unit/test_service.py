"""Running as a service: --config FILE (TOML), the systemd unit and its example
config, writing camera options back, and --version."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import requests

from mjpeg_server import __version__, config_file
from mjpeg_server.cli import settings_from_args
from mjpeg_server.config import ConfigError, Settings
from mjpeg_server.server.htpasswd import set_password
from support.server import ServerProcess, assert_one_line_error, run_cli
from support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "mjpeg-server.service"
EXAMPLE = ROOT / "systemd" / "config.toml"

CONFIG = """\
# a comment
host = "0.0.0.0"
port = 9000
idle-timeout = "never"
max_clients = 4
token = ["a-token-for-the-tests-1", "a-token-for-the-tests-2"]

[cameras.front]
spec = "emulated"
fps = 5

[cameras.door]
spec = "http://192.0.2.1:8080/?action=stream"
"""


def parse(config: Path | None, *argv: str, **environ: str) -> Settings:
    args = [*(["--config", str(config)] if config else []), *argv]
    settings, _ = settings_from_args(args, dict(environ))
    return settings


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def test_config_file_sets_every_kind_of_setting(config: Path) -> None:
    settings = parse(config)
    assert settings.host == "0.0.0.0"
    assert settings.port == 9000
    assert settings.idle_timeout is None
    assert settings.max_clients == 4
    assert settings.tokens == ("a-token-for-the-tests-1", "a-token-for-the-tests-2")
    assert [c.name for c in settings.cameras] == ["front", "door"]
    assert settings.cameras[0].spec.options == {"fps": "5"}
    assert settings.cameras[1].spec.target == "http://192.0.2.1:8080/?action=stream"


def test_flags_and_variables_beat_the_config_file(config: Path) -> None:
    settings = parse(
        config,
        "--port", "9100", "--camera", "emulated?fps=7", "--token", "from-the-command-line",
        MJPEG_SERVER_HOST="127.0.0.2", MJPEG_SERVER_PORT="9200",
    )  # fmt: skip
    assert settings.port == 9100  # flag over variable over file
    assert settings.host == "127.0.0.2"  # variable over file
    assert settings.max_clients == 4  # file over default
    # A repeatable flag replaces the file's list; it does not add to it.
    assert [c.name for c in settings.cameras] == ["default"]
    assert settings.tokens == ("from-the-command-line",)


def test_config_file_from_the_environment(config: Path) -> None:
    assert parse(None, MJPEG_SERVER_CONFIG=str(config)).port == 9000


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("port = \n", ["line 1"]),
        ("prot = 9000\n", ["unknown key 'prot'"]),
        ("camera = 'emulated'\n", ["unknown key 'camera'", "[cameras.NAME]"]),
        ("port = 'high'\n", ["port", "'high'", "--port"]),
        ("port = [1, 2]\n", ["a list", "--port"]),
        ("server = 'apache'\n", ["not one of"]),
        ("fps = true\n", ["expected a string or a number"]),
        ("cameras = ['emulated']\n", ["[cameras.NAME]"]),
        ("[cameras.front]\nfps = 5\n", ["[cameras.front]", "spec"]),
        ("[cameras.front]\nspec = 'emulated'\nbogus = 1\n", ["bogus"]),
        ("[cameras.front]\nspec = 'nosuchkind'\n", ["unknown camera kind"]),
        # A relay's options go in its URL's fragment, checked as any camera's.
        ("[cameras.a]\nspec = 'http://x/'\nfps = 5\n", ["http://x/#fps=5", "unknown option fps"]),
    ],
)
def test_a_bad_config_file_is_one_line_and_exit_2(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = run_cli(["--config", str(path), "--port", "0"])
    assert_one_line_error(result, *fragments)


def test_a_missing_config_file_is_one_line_and_exit_2() -> None:
    result = run_cli(["--config", "/nonexistent/config.toml"])
    assert_one_line_error(result, "cannot read config file /nonexistent/config.toml")


def test_the_server_runs_from_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[cameras.yard]\nspec = "emulated"\nfps = 12\n')
    with ServerProcess("--config", str(path)) as server:
        camera = server.camera_status("yard")
        assert camera["fps_configured"] == 12
        response = requests.get(server.url("/cameras/yard/snapshot"), timeout=30)
        assert response.status_code == 200


def test_update_camera_writes_options_back_atomically(config: Path) -> None:
    config_file.update_camera(config, "front", {"fps": 8, "size": "640x480", "quality": None})
    config_file.update_camera(config, "front", {"quality": 70})
    config_file.update_camera(config, "front", {"size": None})
    data = tomllib.loads(config.read_text())
    assert data["cameras"]["front"] == {"spec": "emulated", "fps": 8, "quality": 70}
    assert data["cameras"]["door"] == {"spec": "http://192.0.2.1:8080/?action=stream"}
    assert data["token"] == [
        "a-token-for-the-tests-1",
        "a-token-for-the-tests-2",
    ]
    assert "# a comment" not in config.read_text()  # as documented: comments are not kept
    # What it wrote reads back as the same settings.
    settings = parse(config)
    assert settings.cameras[0].spec.options == {"fps": "8", "quality": "70"}
    assert [c.name for c in settings.cameras] == ["front", "door"]
    assert list(config.parent.iterdir()) == [config]  # no temporary file left behind


@pytest.mark.parametrize(
    ("name", "changes", "fragment"),
    [
        ("nope", {"fps": 5}, "no [cameras.nope] table"),
        ("door", {"fps": 5}, "unknown option fps"),
        ("front", {"rotate": 45}, "rotate='45' is not one of"),
        ("front", {"spec": None}, "cannot be removed"),
    ],
)
def test_update_camera_refuses_what_would_not_load(
    config: Path, name: str, changes: dict[str, config_file.Scalar | None], fragment: str
) -> None:
    before = config.read_text()
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[")):
        config_file.update_camera(config, name, changes)
    assert config.read_text() == before


def test_a_relay_cameras_options_are_written_to_its_urls_fragment(config: Path) -> None:
    """An http:// camera's own query is the upstream's: its options live in the fragment."""
    config_file.update_camera(config, "door", {"rotate": 90, "overlay": "%H:%M {camera}"})
    table = tomllib.loads(config.read_text())["cameras"]["door"]
    assert table == {
        "spec": "http://192.0.2.1:8080/?action=stream",
        "rotate": 90,
        "overlay": "%H:%M {camera}",
    }
    (_, door) = parse(config).cameras
    assert door.spec.target == "http://192.0.2.1:8080/?action=stream"  # the query untouched
    assert door.spec.options == {"rotate": "90", "overlay": "%H:%M {camera}"}


@pytest.mark.parametrize(
    "spec",
    ["emulated?fps=5&rotate=180", "http://192.0.2.1:8080/?action=stream#rotate=180&fps=5"],
)
def test_a_changed_option_written_in_the_spec_moves_to_the_table(tmp_path: Path, spec: str) -> None:
    """Options may be written into the spec itself; a change then replaces that one
    (the same option twice would not load) and leaves the others as written."""
    path = tmp_path / "config.toml"
    path.write_text(f'[cameras.cam]\nspec = "{spec}"\n')
    if spec.startswith("http"):
        config_file.update_camera(path, "cam", {"rotate": 270, "fps": None})
        expected_spec, expected_options = "http://192.0.2.1:8080/?action=stream", {"rotate": "270"}
    else:
        config_file.update_camera(path, "cam", {"rotate": 270})
        expected_spec, expected_options = "emulated?fps=5", {"fps": "5", "rotate": "270"}
    table = tomllib.loads(path.read_text())["cameras"]["cam"]
    assert table == {"spec": expected_spec, "rotate": 270}
    (camera,) = parse(path).cameras
    assert camera.spec.options == expected_options


def test_update_camera_that_cannot_write_is_a_config_error(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read-only or full file system (root writes anywhere here, so it is simulated).
    def refuse(path: Path, text: str) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(config_file, "write_atomically", refuse)
    with pytest.raises(ConfigError, match=r"cannot write config file .*: Read-only file system"):
        config_file.update_camera(config, "front", {"fps": 9})


def test_dumps_quotes_what_toml_needs() -> None:
    data = {"a": 'quote " and \\ and \n', "b": 1.5, "c": True, "cameras": {"x y": {"spec": "e"}}}
    assert tomllib.loads(config_file.dumps(data)) == data


def test_version() -> None:
    result = run_cli(["--version"])
    assert result.returncode == 0
    assert result.stdout.strip() == f"mjpeg-server {__version__}"
    assert __version__ != "0+unknown"


def unit_settings() -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key] = value
    return settings


def test_systemd_unit_restarts_and_is_hardened() -> None:
    unit = unit_settings()
    assert unit["Restart"] == "on-failure"
    assert unit["NoNewPrivileges"] == "yes"
    assert unit["ProtectSystem"] == "strict"
    assert unit["SupplementaryGroups"] == "video"
    assert unit["ExecStart"].endswith("--config /etc/mjpeg-server/config.toml")
    # The config directory stays writable for update_camera under ProtectSystem=strict.
    assert unit["ReadWritePaths"] == "/etc/mjpeg-server"


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze", "systemd")
    executable = Path(sys.executable).with_name("mjpeg-server")
    assert executable.exists()
    unit = tmp_path / "mjpeg-server.service"
    unit.write_text(UNIT.read_text().replace("/opt/mjpeg-server/bin/mjpeg-server", str(executable)))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


def test_the_example_config_starts_the_server(tmp_path: Path) -> None:
    # As the unit runs it, but on loopback, a free port and the test's users file.
    users = tmp_path / "users"
    set_password(users, "admin", "secret", cost=4)
    with ServerProcess("--config", str(EXAMPLE), "--auth-file", str(users)) as server:
        assert requests.get(server.url("/status"), timeout=30).status_code == 401
        response = requests.get(server.url("/status"), auth=("admin", "secret"), timeout=30)
        assert response.json()["default_camera"] == "default"
