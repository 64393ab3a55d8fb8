"""The ``mjpeg-server`` command.

``mjpeg-server [FLAGS]`` serves; ``mjpeg-server probe URL`` inspects any MJPEG
stream. Every serving flag can also come from an ``MJPEG_SERVER_*`` variable
(``--max-clients`` ← ``MJPEG_SERVER_MAX_CLIENTS``); a flag beats its variable.
Mistakes end in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__, config_file
from .cameras import CameraError, SpecError
from .config import ConfigError, Settings, parse_camera_arg

__all__ = ["main"]

ENV_PREFIX = "MJPEG_SERVER_"
#: Subcommand → module with ``add_arguments(parser)`` and ``run(args) -> int``.
SUBCOMMANDS = {
    "probe": "mjpeg_server.client.probe",
    "bench": "mjpeg_server.client.bench",
    "passwd": "mjpeg_server.server.htpasswd",
}


#: The top-level usage: serving, and the commands (argparse prints "usage: " first).
USAGE = """mjpeg-server [OPTIONS]           serve cameras (options below)
       mjpeg-server probe URL [...]     what an MJPEG stream really sends
       mjpeg-server bench URL [...]     load a stream with many viewers
       mjpeg-server passwd FILE USER    add or change a user of an --auth-file"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _idle_timeout(text: str) -> float | None:
    if text.lower() in ("never", "none", "off"):
        return None
    return _non_negative(text)


def _non_negative(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(text)
    return value


def _positive(text: str) -> float:
    value = _non_negative(text)
    if value == 0:
        raise ValueError(text)
    return value


_non_negative.__name__ = "number >= 0"  # argparse names the type in its error message
_positive.__name__ = "positive number"
_idle_timeout.__name__ = "number of seconds or 'never'"


def _serve_parser() -> _Parser:
    defaults = Settings()
    parser = _Parser(
        prog="mjpeg-server",
        usage=USAGE,
        description="Serve live camera video as Motion JPEG over HTTP (the options below). "
        "The other commands have their own --help.",
        epilog=f"Every flag can also be set by an environment variable: {ENV_PREFIX}FLAG_NAME "
        f"(e.g. {ENV_PREFIX}PORT=9000; several cameras separated by spaces).",
    )
    add = parser.add_argument
    add(
        "--host",
        default=defaults.host,
        help="address to listen on (default %(default)s; 0.0.0.0 for every network, see README)",
    )
    add("--port", type=int, default=defaults.port, help="TCP port (default %(default)s; 0 = any)")
    add(
        "--camera",
        action="append",
        metavar="[NAME=]SPEC",
        dest="cameras",
        help="a camera, repeatable: emulated, emulated:DIR, picamera2, opencv:0, http://URL "
        "(default: emulated). The first is also served at /stream.mjpg",
    )
    add(
        "--fps",
        type=_positive,
        default=defaults.fps,
        help="frames per second asked of each camera (default %(default)s)",
    )
    add(
        "--idle-timeout",
        type=_idle_timeout,
        default=defaults.idle_timeout,
        metavar="SECONDS",
        help="close a camera this long after its last viewer left; 0 = at once, "
        "'never' = keep it open (default %(default)s)",
    )
    add(
        "--stall-timeout",
        type=_positive,
        default=defaults.stall_timeout,
        metavar="SECONDS",
        help="reopen a camera that delivered nothing this long (default %(default)s)",
    )
    add(
        "--max-clients",
        type=int,
        default=defaults.max_clients,
        help="simultaneous streams, all cameras together; more get 503 (default %(default)s)",
    )
    add(
        "--server",
        choices=("builtin", "dev"),
        default=defaults.server,
        help="builtin: the front door, one event loop for every connection (default); "
        "dev: Werkzeug's development server",
    )
    add(
        "--header-timeout",
        type=_positive,
        default=defaults.header_timeout,
        metavar="SECONDS",
        help="close a connection whose request head is not complete this long after it "
        "opened (default %(default)s)",
    )
    add(
        "--send-timeout",
        type=_positive,
        default=defaults.send_timeout,
        metavar="SECONDS",
        help="end a stream or response whose client took no byte this long (default %(default)s)",
    )
    add("--tls-cert", metavar="FILE", help="PEM certificate (chain): serve HTTPS; needs --tls-key")
    add("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    add(
        "--drop-same-frames",
        type=int,
        default=defaults.drop_same_frames,
        metavar="N",
        help="skip a frame byte-identical to the one before, but send at least one in N "
        "(default %(default)s: send every frame)",
    )
    add(
        "--auth-file",
        metavar="FILE",
        help="htpasswd file with bcrypt entries (htpasswd -B, or 'mjpeg-server passwd FILE "
        "USER'): only its users may watch. Everything but /healthz needs a login",
    )
    add(
        "--token",
        action="append",
        dest="tokens",
        metavar="TOKEN",
        help="a secret accepted as ?token=TOKEN or 'Authorization: Bearer TOKEN', repeatable "
        "(at least 16 characters; prefer --token-file: the command line is visible to ps)",
    )
    add("--token-file", metavar="FILE", help="more tokens, one per line")
    add(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="(default %(default)s)",
    )
    add(
        "--config",
        metavar="FILE",
        help="a TOML file with these settings (keys named like the flags, cameras as "
        "[cameras.NAME] tables; see README). Flags and variables beat it",
    )
    add("--version", action="version", version=f"mjpeg-server {__version__}")
    return parser


def _flag_actions(parser: _Parser) -> dict[str, argparse.Action]:
    """Flag name without dashes (``idle-timeout``) → its action, for every setting."""
    return {
        action.option_strings[0].lstrip("-"): action
        for action in parser._actions
        if action.option_strings and action.dest not in ("help", "version", "config")
    }


def _set_default(
    parser: _Parser,
    action: argparse.Action,
    raw: str | list[str],
    source: str,
    repeated: dict[str, list[Any]],
) -> None:
    """Make ``raw`` (from a variable or the config file) the flag's default,
    checked like the flag itself. A repeatable flag's values go to ``repeated``:
    argparse would add the flag's own values to a default list instead of
    replacing it, and a flag must win."""
    convert: Callable[[str], Any] = action.type or str  # type: ignore[assignment]
    repeatable = isinstance(action, argparse._AppendAction)
    flag = action.option_strings[0]
    if isinstance(raw, list) and not repeatable:
        parser.error(f"{source} is a list, but {flag} takes one value")
    items = raw if isinstance(raw, list) else raw.split() if repeatable else [raw]
    try:
        values = [convert(item) for item in items]
    except ValueError:
        parser.error(f"{source}={raw!r} is not a valid value for {flag}")
    for value in values:
        if action.choices is not None and value not in action.choices:
            choices = ", ".join(map(str, action.choices))
            parser.error(f"{source}={raw!r} is not one of {choices}")
    if repeatable:
        repeated[action.dest] = values
    else:
        action.default = values[0]


def _apply_environment(
    parser: _Parser, environ: dict[str, str], repeated: dict[str, list[Any]]
) -> None:
    """Use ``MJPEG_SERVER_*`` variables as defaults, checked like the flags themselves."""
    for name, action in _flag_actions(parser).items():
        variable = ENV_PREFIX + name.replace("-", "_").upper()
        raw = environ.get(variable)
        if raw is not None:
            _set_default(parser, action, raw, variable, repeated)


def _apply_config_file(parser: _Parser, path: str, repeated: dict[str, list[Any]]) -> None:
    """Use a ``--config`` file's settings as defaults (below variables and flags)."""
    try:
        config = config_file.load(Path(path))
    except ConfigError as error:
        parser.error(str(error))
    actions = _flag_actions(parser)
    for key, raw in config.options.items():
        action = actions.get(key)
        if action is None or action.dest == "cameras":
            hint = " (cameras are [cameras.NAME] tables)" if key.startswith("camera") else ""
            parser.error(f"config file {path}: unknown key {key!r}{hint}")
        _set_default(parser, action, raw, f"config file {path}: {key}", repeated)
    if config.cameras:
        repeated["cameras"] = config.cameras


def _config_path(argv: Sequence[str], environ: dict[str, str]) -> str | None:
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config")
    known, _ = early.parse_known_args(argv)
    path: str | None = known.config or environ.get(ENV_PREFIX + "CONFIG")
    return path


def settings_from_args(argv: Sequence[str], environ: dict[str, str]) -> tuple[Settings, str]:
    """Parse serving flags into :class:`Settings` (and the log level). Exits on mistakes.

    Precedence: flags, then ``MJPEG_SERVER_*`` variables, then the ``--config``
    file, then the defaults.
    """
    parser = _serve_parser()
    repeated: dict[str, list[Any]] = {}
    config_path = _config_path(argv, environ)
    if config_path:
        _apply_config_file(parser, config_path, repeated)
    _apply_environment(parser, environ, repeated)
    args = parser.parse_args(argv)
    for dest, values in repeated.items():
        if getattr(args, dest) is None:
            setattr(args, dest, values)
    try:
        cameras = tuple(
            parse_camera_arg(text, index) for index, text in enumerate(args.cameras or ())
        )
        settings = Settings(
            cameras=cameras or Settings().cameras,
            fps=args.fps,
            idle_timeout=args.idle_timeout,
            stall_timeout=args.stall_timeout,
            max_clients=args.max_clients,
            server=args.server,
            header_timeout=args.header_timeout,
            send_timeout=args.send_timeout,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            host=args.host,
            port=args.port,
            drop_same_frames=args.drop_same_frames,
            auth_file=args.auth_file,
            tokens=tuple(args.tokens or ()),
            token_file=args.token_file,
            config_file=config_path,
        )
    except (ConfigError, SpecError) as error:
        parser.error(str(error))
    return settings, args.log_level


def _run_subcommand(name: str, argv: Sequence[str]) -> int:
    module = importlib.import_module(SUBCOMMANDS[name])
    # HELP is plain text laid out for a terminal: argparse would reflow a
    # docstring's reStructuredText into a wall of ``markup``.
    parser = _Parser(
        prog=f"mjpeg-server {name}",
        description=module.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    result: int = module.run(parser.parse_args(argv))
    return result


def _import_server_without_openssl_hashes() -> None:
    """Import the server with Python's own hashes, not OpenSSL's (3.4 MB of RSS idle).

    Flask's import chain (werkzeug.security, itsdangerous, hmac) loads
    ``_hashlib``, which maps OpenSSL's libcrypto: the biggest single item of an
    idle server, for hashes the server computes only with ``--token``/
    ``--auth-file`` (HMAC-SHA256 cache keys and cookies), where Python's built-in
    SHA-256 serves as well. With ``_hashlib`` hidden during this one import,
    ``hashlib`` and ``hmac`` fall back to their built-in implementations for the
    life of the process. (TLS still loads libcrypto, through ``_ssl``, when
    configured.) Only the server process does this, never an application that
    imports the package: there ``hashlib`` keeps OpenSSL's hashes (scrypt too).
    Does nothing if ``hashlib`` is already loaded.
    """
    if "hashlib" in sys.modules:
        return
    sys.modules["_hashlib"] = None  # type: ignore[assignment]  # "import _hashlib" raises
    try:
        import hashlib  # noqa: F401, PLC0415
        import hmac  # noqa: F401, PLC0415
    finally:
        del sys.modules["_hashlib"]


def _serve(settings: Settings) -> int:
    # The server is imported here, not at the top: probe, bench and passwd never
    # need Flask, and the server's import must come after the choice of hashes.
    _import_server_without_openssl_hashes()
    from .server.app import create_app  # noqa: PLC0415
    from .server.auth import warn_if_exposed  # noqa: PLC0415
    from .server.serving import TlsError, bind_listener, load_tls, serve  # noqa: PLC0415

    try:
        app = create_app(settings)
    except (SpecError, CameraError, ConfigError) as error:
        print(f"mjpeg-server: error: {error}", file=sys.stderr)
        return 2
    try:
        tls = load_tls(settings)
    except TlsError as error:
        print(f"mjpeg-server: error: {error}", file=sys.stderr)
        return 2
    try:
        listener = bind_listener(settings.host, settings.port)
    except OSError as error:
        reason = error.strerror or str(error)
        print(
            f"mjpeg-server: error: cannot listen on {settings.host}:{settings.port}: {reason}",
            file=sys.stderr,
        )
        return 2
    warn_if_exposed(settings, *listener.getsockname()[:2])
    serve(app, settings, listener, tls)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return _run_subcommand(argv[0], argv[1:])

    settings, log_level = settings_from_args(argv, dict(os.environ))
    logging.basicConfig(
        level=log_level.upper(),
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S %z",
    )
    return _serve(settings)
