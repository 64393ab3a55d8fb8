"""``--config FILE``: the serving flags as a TOML file, for running as a service.

The keys are the flags' names without the dashes in front (``idle-timeout``;
``idle_timeout`` works too); each camera is a table under ``cameras``, in the
order served (the first is the default), with its spec and the spec's options::

    host = "0.0.0.0"
    port = 8000
    idle-timeout = 10
    token-file = "/etc/mjpeg-server/tokens"

    [cameras.front]
    spec = "picamera2"
    size = "1280x720"
    fps = 15

    [cameras.door]
    spec = "http://192.168.1.20:8080/?action=stream"
    rotate = 180

A table's keys other than ``spec`` are the spec's options: ``picamera2?size=…``,
or for an ``http://`` camera, whose URL query belongs to the upstream, the
URL's fragment (``http://…/?action=stream#rotate=180``, never sent upstream).

Values are checked by the same code as the flags (the CLI passes them through
its parser), and flags and ``MJPEG_SERVER_*`` variables beat the file. A
mistake ends in one line naming the file.

:func:`update_camera` writes changed camera options back (runtime controls
that should survive a restart). It rewrites the whole file atomically and does
**not** keep comments or formatting: TOML readers in the standard library
cannot round-trip them.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ._files import write_atomically
from .cameras import CameraError, SpecError, create_camera
from .config import ConfigError, parse_camera_arg

__all__ = ["ConfigFile", "Scalar", "camera_arg", "dumps", "load", "update_camera"]

Scalar = str | int | float | bool
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ConfigFile:
    """A config file's settings as flag texts, ready for the CLI's parser."""

    path: Path
    #: flag name (``idle-timeout``) → its text, or texts for a repeatable flag.
    options: dict[str, str | list[str]] = field(default_factory=dict)
    #: ``NAME=SPEC`` texts, as ``--camera`` takes them, in order.
    cameras: list[str] = field(default_factory=list)


def _text(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{where}: expected a string or a number, not {value!r}")
    return str(value)


def _options_mark(spec: str) -> str:
    """Where a spec's options start: ``?`` (``emulated?fps=5``), or for an http(s) URL,
    whose own query is the upstream's, the fragment (``http://cam/?action=stream#rotate=90``)."""
    return "#" if spec.startswith(("http://", "https://")) else "?"


def camera_arg(name: str, table: Mapping[str, Any], where: str) -> str:
    """The ``--camera`` text of a ``[cameras.NAME]`` table: the spec with the table's
    other keys added to its options."""
    spec = table.get("spec")
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f'{where}: needs spec = "KIND[:TARGET]" (e.g. spec = "picamera2")')
    options = {key: _text(value, f"{where}.{key}") for key, value in table.items() if key != "spec"}
    if options:
        mark = _options_mark(spec)
        base, _, own = spec.partition(mark)
        spec = f"{base}{mark}" + "&".join(part for part in (own, urlencode(options)) if part)
    return f"{name}={spec}"


def _without_spec_options(spec: str, keys: Collection[str]) -> str:
    """``spec`` without its own options named in ``keys`` (a changed option lives in
    the table from then on; the same option twice would not load)."""
    mark = _options_mark(spec)
    base, _, own = spec.partition(mark)
    pairs = parse_qsl(own, keep_blank_values=True)
    if not any(key in keys for key, _ in pairs):
        return spec  # untouched, as the user wrote it
    kept = urlencode([(key, value) for key, value in pairs if key not in keys], safe=":/{}")
    return f"{base}{mark}{kept}" if kept else base


def load(path: Path) -> ConfigFile:
    """Read ``path``; :class:`ConfigError` (one line) if it is unreadable or malformed.

    Which keys are flags is the CLI's business: it reports unknown ones.
    """
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path}: {error}") from None
    result = ConfigFile(path)
    for key, value in data.items():
        where = f"config file {path}: {key}"
        if key == "cameras":
            if not isinstance(value, dict) or not all(isinstance(t, dict) for t in value.values()):
                raise ConfigError(f"{where}: cameras are tables: [cameras.NAME] with spec = …")
            result.cameras.extend(
                camera_arg(name, table, f"config file {path}: [cameras.{name}]")
                for name, table in value.items()
            )
        elif isinstance(value, list):
            result.options[key.replace("_", "-")] = [_text(item, where) for item in value]
        else:
            result.options[key.replace("_", "-")] = _text(value, where)
    return result


def _value(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"cannot write {value} to a config file")
    if isinstance(value, int | float):
        return repr(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _value(key)


def dumps(data: Mapping[str, Any]) -> str:
    """TOML for what this module reads: scalars and lists of them at the top,
    then one ``[cameras.NAME]`` table per camera."""
    lines = ["# mjpeg-server configuration (rewritten by the server: comments are not kept)"]
    for key, value in data.items():
        if key == "cameras":
            continue
        if isinstance(value, list):
            lines.append(f"{_key(key)} = [{', '.join(_value(item) for item in value)}]")
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for name, table in data.get("cameras", {}).items():
        lines += ["", f"[cameras.{_key(name)}]"]
        lines += [f"{_key(key)} = {_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def _check_camera(text: str, where: str) -> None:
    """Refuse to write a camera the server would refuse at start-up: the spec is parsed
    and its backend built (not opened) as the server does, with the same messages."""
    try:
        create_camera(parse_camera_arg(text).spec)
    except (SpecError, CameraError) as error:
        raise ConfigError(f"{where}: {error}") from None


def update_camera(path: Path, name: str, changes: Mapping[str, Scalar | None]) -> None:
    """Set (or, for ``None``, remove) options of camera ``name`` in the config file.

    The result is checked the way the server reads it before it replaces the
    file, atomically. Comments and formatting are not kept (see the module
    docstring). Raises :class:`ConfigError` if the file or the camera is missing,
    or the file cannot be written.
    """
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot update config file {path}: {error}") from None
    table = data.get("cameras", {}).get(name)
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path} has no [cameras.{name}] table")
    for key, value in changes.items():
        if key == "spec" and value is None:
            raise ConfigError("a camera's spec cannot be removed")
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    if isinstance(table.get("spec"), str) and "spec" not in changes:
        table["spec"] = _without_spec_options(table["spec"], set(changes))
    _check_camera(camera_arg(name, table, f"[cameras.{name}]"), f"[cameras.{name}]")
    try:
        write_atomically(path, dumps(data))
    except OSError as error:  # a read-only or full file system: the caller says so
        raise ConfigError(f"cannot write config file {path}: {error.strerror}") from None
