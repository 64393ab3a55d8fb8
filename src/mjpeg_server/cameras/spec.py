"""Camera specs: ``KIND[:TARGET][?KEY=VALUE&...]`` or an http(s) URL, and their options.

Parsing a spec checks its syntax and its kind; each backend then reads its own
options through :class:`SpecOptions`, which rejects any option nobody asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode

__all__ = ["KINDS", "CameraDefaults", "CameraSpec", "SpecError", "SpecOptions"]

#: The backend kinds a spec may name (``registry.BACKENDS`` maps each to its class).
KINDS = frozenset({"emulated", "picamera2", "opencv", "http"})

_T = TypeVar("_T")
_KIND_RE = re.compile(r"[a-z][a-z0-9_]*")
_BOOLEANS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


class SpecError(ValueError):
    """A camera spec or one of its options is invalid. The message is one line for the user."""


@dataclass(frozen=True)
class CameraDefaults:
    """Settings that apply to every camera unless its spec overrides them."""

    fps: float = 30.0


@dataclass(frozen=True)
class CameraSpec:
    """A parsed camera spec: ``KIND[:TARGET][?KEY=VALUE&...]`` or an http(s) URL."""

    kind: str
    target: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> CameraSpec:
        text = text.strip()
        if text.startswith(("http://", "https://")):
            # A URL is relayed whole, its own query included; our options go in the
            # fragment (#rotate=90), which a client never sends upstream.
            url, _, fragment = text.partition("#")
            return cls(kind="http", target=url, options=_options(fragment, text), text=text)
        body, _, query = text.partition("?")
        kind, has_target, target = body.partition(":")
        if not _KIND_RE.fullmatch(kind):
            raise SpecError(f"invalid camera spec {text!r}: expected KIND[:TARGET][?OPTIONS]")
        if kind not in KINDS:
            known = ", ".join(sorted(KINDS))
            raise SpecError(f"unknown camera kind {kind!r} in {text!r} (known: {known})")
        options = _options(query, text)
        return cls(kind=kind, target=target if has_target else None, options=options, text=text)

    def with_options(self, changes: Mapping[str, str | None]) -> CameraSpec:
        """This spec with ``changes`` applied (``None`` removes an option: its default)."""
        options = dict(self.options)
        for key, value in changes.items():
            if value is None:
                options.pop(key, None)
            else:
                options[key] = value
        # Percent signs are escaped so that parsing the text gives the same options back.
        query = urlencode(options, safe=":/{}")
        if self.kind == "http":
            text = f"{self.target}#{query}" if query else str(self.target)
        else:
            text = self.kind + (f":{self.target}" if self.target is not None else "")
            text += f"?{query}" if query else ""
        return CameraSpec(self.kind, self.target, options, text)

    def __str__(self) -> str:
        return self.text or self.kind


def _options(query: str, text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise SpecError(f"invalid options in camera spec {text!r}: use ?key=value&…") from None
    options: dict[str, str] = {}
    for key, value in pairs:
        if key in options:
            raise SpecError(f"camera spec {text!r} sets option {key!r} twice")
        options[key] = value
    return options


class SpecOptions:
    """Typed access to a spec's options; :meth:`finish` rejects any option nobody asked for."""

    def __init__(self, spec: CameraSpec) -> None:
        self._spec = spec
        self._left = dict(spec.options)
        self._known: list[str] = []

    def _take(self, key: str) -> str | None:
        self._known.append(key)
        return self._left.pop(key, None)

    def _convert(self, key: str, convert: Callable[[str], _T], what: str) -> _T | None:
        raw = self._take(key)
        if raw is None:
            return None
        try:
            return convert(raw)
        except ValueError:
            raise SpecError(f"camera {self._spec}: option {key}={raw!r} is not {what}") from None

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        value = self._convert(key, float, "a number")
        if value is None:
            return default
        if not value >= minimum:  # also rejects NaN
            raise SpecError(f"camera {self._spec}: option {key} must be >= {minimum:g}")
        return value

    def integer(self, key: str, default: int | None, *, minimum: int = 0) -> int | None:
        value = self._convert(key, int, "a whole number")
        if value is None:
            return default
        if value < minimum:
            raise SpecError(f"camera {self._spec}: option {key} must be >= {minimum}")
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        raw = self._take(key)
        if raw is None:
            return default
        value = _BOOLEANS.get(raw.lower())
        if value is None:
            raise SpecError(f"camera {self._spec}: option {key}={raw!r} is not 0 or 1")
        return value

    def choice(self, key: str, choices: tuple[_T, ...], default: _T) -> _T:
        """One of ``choices`` (compared as text: ``rotate=90`` → ``90``)."""
        raw = self._take(key)
        if raw is None:
            return default
        for choice in choices:
            if raw == str(choice):
                return choice
        valid = ", ".join(map(str, choices))
        raise SpecError(f"camera {self._spec}: option {key}={raw!r} is not one of {valid}")

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self._take(key)
        return default if value is None else value

    def size(self, key: str, default: tuple[int, int] | None) -> tuple[int, int] | None:
        raw = self._take(key)
        if raw is None:
            return default
        match = re.fullmatch(r"(\d+)x(\d+)", raw)
        if not match or 0 in (int(match[1]), int(match[2])):
            raise SpecError(f"camera {self._spec}: option {key}={raw!r} is not WIDTHxHEIGHT")
        return int(match[1]), int(match[2])

    def finish(self) -> None:
        if self._left:
            unknown = ", ".join(sorted(self._left))
            known = ", ".join(self._known) or "none"
            raise SpecError(f"camera {self._spec}: unknown option {unknown} (valid: {known})")
