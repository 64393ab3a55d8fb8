"""Camera specs: ``KIND[:TARGET][?KEY=VALUE&...]`` or an http(s) URL, and their options.

Parsing a spec checks its syntax and its kind; each backend then reads its own
options through :class:`SpecOptions`, which rejects any option nobody asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qsl

__all__ = ["KINDS", "CameraDefaults", "CameraSpec", "SpecError", "SpecOptions"]

#: The backend kinds a spec may name (``registry.BACKENDS`` maps each to its class).
KINDS = frozenset({"emulated", "picamera2", "opencv", "http"})

_T = TypeVar("_T")
_KIND_RE = re.compile(r"[a-z][a-z0-9_]*")


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
            # A URL is relayed whole, its own query included.
            return cls(kind="http", target=text, text=text)
        body, _, query = text.partition("?")
        kind, has_target, target = body.partition(":")
        if not _KIND_RE.fullmatch(kind):
            raise SpecError(f"invalid camera spec {text!r}: expected KIND[:TARGET][?OPTIONS]")
        if kind not in KINDS:
            known = ", ".join(sorted(KINDS))
            raise SpecError(f"unknown camera kind {kind!r} in {text!r} (known: {known})")
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError:
            raise SpecError(f"invalid options in camera spec {text!r}: use ?key=value&…") from None
        options: dict[str, str] = {}
        for key, value in pairs:
            if key in options:
                raise SpecError(f"camera spec {text!r} sets option {key!r} twice")
            options[key] = value
        return cls(kind=kind, target=target if has_target else None, options=options, text=text)

    def __str__(self) -> str:
        return self.text or self.kind


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
