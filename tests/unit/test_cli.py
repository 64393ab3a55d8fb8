"""The ``mjpeg-server`` command line: flags, environment variables and one-line errors."""

from __future__ import annotations

import socket

import pytest

from mjpeg_server.cameras import CameraSpec
from mjpeg_server.cli import settings_from_args
from mjpeg_server.config import CameraConfig, Settings
from support.server import assert_one_line_error, run_cli


def parse(*argv: str, **environ: str) -> Settings:
    settings, _ = settings_from_args(list(argv), dict(environ))
    return settings


def test_defaults() -> None:
    settings = parse()
    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.max_clients == 50
    assert settings.idle_timeout == 10.0
    assert settings.server == "builtin"
    assert settings.header_timeout == settings.send_timeout == 10.0
    assert settings.tls_cert is settings.tls_key is None
    assert settings.cameras == (CameraConfig("default", CameraSpec.parse("emulated")),)


def test_flags() -> None:
    settings = parse(
        "--host", "0.0.0.0", "--port", "9000", "--fps", "12.5", "--idle-timeout", "never",
        "--max-clients", "4", "--server", "dev", "--stall-timeout", "3",
        "--header-timeout", "2.5", "--send-timeout", "4",
        "--camera", "front=emulated?fps=5", "--camera", "emulated:/tmp",
    )  # fmt: skip
    assert settings.host == "0.0.0.0"
    assert settings.port == 9000
    assert settings.fps == 12.5
    assert settings.idle_timeout is None
    assert settings.max_clients == 4
    assert settings.server == "dev"
    assert settings.stall_timeout == 3
    assert settings.header_timeout == 2.5
    assert settings.send_timeout == 4
    assert [c.name for c in settings.cameras] == ["front", "cam1"]
    assert settings.cameras[0].spec.options == {"fps": "5"}
    assert settings.cameras[1].spec.target == "/tmp"
    assert settings.default_camera == "front"


def test_environment_variables_set_every_flag_and_flags_win() -> None:
    environ = {
        "MJPEG_SERVER_PORT": "9100",
        "MJPEG_SERVER_IDLE_TIMEOUT": "0",
        "MJPEG_SERVER_CAMERA": "a=emulated b=emulated?fps=2",
        "MJPEG_SERVER_MAX_CLIENTS": "7",
        "MJPEG_SERVER_SERVER": "dev",
        "MJPEG_SERVER_HOST": "::1",
        "MJPEG_SERVER_FPS": "10",
    }
    settings = parse(**environ)
    assert settings.port == 9100
    assert settings.idle_timeout == 0
    assert [c.name for c in settings.cameras] == ["a", "b"]
    assert settings.max_clients == 7
    assert settings.server == "dev"
    assert settings.host == "::1"
    assert settings.fps == 10
    assert parse("--port", "9200", **environ).port == 9200


def test_camera_arguments_name_only_a_name() -> None:
    # "emulated?fps=5" has an '=' but no name before it.
    settings = parse("--camera", "emulated?fps=5")
    assert settings.cameras[0].name == "default"
    assert settings.cameras[0].spec.options == {"fps": "5"}
    url = parse("--camera", "http://cam.local/?action=stream").cameras[0]
    assert url.name == "default"
    assert url.spec.kind == "http"


@pytest.mark.parametrize(
    ("argv", "environ", "fragments"),
    [
        (["--bogus"], {}, ["unrecognized arguments: --bogus"]),
        (["--port", "abc"], {}, ["--port", "abc"]),
        (["--port", "70000"], {}, ["port must be 0-65535"]),
        (["--fps", "0"], {}, ["--fps"]),
        (["--idle-timeout", "-1"], {}, ["--idle-timeout"]),
        (["--max-clients", "0"], {}, ["max-clients must be at least 1"]),
        (["--server", "waitress"], {}, ["--server", "waitress"]),
        (["--camera", "nope"], {}, ["unknown camera kind 'nope'"]),
        (["--camera", "a=emulated", "--camera", "a=emulated"], {}, ["camera name used twice: a"]),
        (["--camera", "emulated?fps=fast"], {}, ["option fps='fast' is not a number"]),
        (["--camera", "emulated?colour=red"], {}, ["unknown option colour"]),
        (["--camera", "emulated:/no/such/dir"], {}, ["no such folder"]),
        ([], {"MJPEG_SERVER_PORT": "eighty"}, ["MJPEG_SERVER_PORT='eighty'"]),
        ([], {"MJPEG_SERVER_SERVER": "iis"}, ["MJPEG_SERVER_SERVER='iis'", "builtin"]),
        (["--server", "gunicorn"], {}, ["--server", "'gunicorn'"]),
        (["--send-path", "wsgi"], {}, ["unrecognized arguments: --send-path"]),
        (["--header-timeout", "0"], {}, ["--header-timeout"]),
        (["--send-timeout", "-1"], {}, ["--send-timeout"]),
        (["--tls-cert", "cert.pem"], {}, ["--tls-cert and --tls-key go together"]),
        (["--tls-cert", "/no/cert.pem", "--tls-key", "/no/key.pem"], {}, ["'/no/cert.pem'"]),
    ],
)
def test_mistakes_exit_2_with_one_line(
    argv: list[str], environ: dict[str, str], fragments: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert_one_line_error(run_cli(argv), *fragments)


def test_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(["--port", str(port)])
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}", "Address already in use")


def test_help_and_version() -> None:
    result = run_cli(["--help"])
    assert result.returncode == 0
    for flag in ("--camera", "--idle-timeout", "--max-clients", "MJPEG_SERVER_"):
        assert flag in result.stdout
    version = run_cli(["--version"])
    assert version.returncode == 0
    assert version.stdout.startswith("mjpeg-server ")
