"""The text overlay: ``overlay=TEXT`` with strftime codes and ``{camera}``/``{fps}``.

Readable at any resolution: the font size is a fixed share of the picture's
shorter side (1/24: 20 px at 480 lines, 45 px at 1080), white with a black
outline so it reads on any scene, and it shrinks to fit when the text is
wider than the picture; whatever still does not fit is cut at the edge, so
the text never leaves the picture (and never writes outside the buffer).

Drawing is split in two so the per-frame work is small: the text is rendered
(FreeType, through Pillow) only when it changes (once a second for a clock),
into a small value/alpha patch; every frame then blends that patch into the
picture's luma (and neutralises the chroma under it), with numpy, touching
only the patch's rows and columns. The same blend serves a planar YUV frame
(a decoded JPEG, or picamera2's YUV420 buffers) and packed RGB/XRGB buffers.

A picture that is turned *after* the overlay is drawn (picamera2: the
overlay goes into the camera's buffer, a quarter turn is done afterwards on
the JPEG) gets the text pre-turned: rendered for the turned picture, then
turned back and placed where the turn will bring it to its place
(``turn=`` below), so it reads upright.

Pillow and numpy are imported when the first :class:`TextOverlay` is made,
never by a server that draws no overlay.
"""

from __future__ import annotations

import importlib
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .orientation import Orientation

__all__ = ["POSITIONS", "TextOverlay", "font_size_for"]

#: Where the text goes: ``overlay_position=``.
POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "top", "bottom")
#: Font size as a share of the picture's shorter side.
_FONT_SHARE = 1 / 24
_MIN_FONT = 8
# A monospaced font keeps a ticking clock from jittering; Pillow's own font
# (FreeType, always there with a wheel) when the system has none.
_FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
)
#: Seconds of frames the {fps} field averages over; it is shown rounded and
#: refreshed at most once a second, so the patch is not re-rendered every frame.
_FPS_WINDOW = 2.0


def font_size_for(width: int, height: int) -> int:
    return max(_MIN_FONT, round(min(width, height) * _FONT_SHARE))


@dataclass
class _Patch:
    """The rendered text, placed: value and alpha, both (rows, columns) uint8."""

    x: int
    y: int
    value: Any
    alpha: Any


class TextOverlay:
    """Formats, renders and blends one overlay text for frames of any size."""

    def __init__(self, template: str, position: str = "top-left", camera: str = "") -> None:
        if position not in POSITIONS:
            raise ValueError(f"overlay_position must be one of {', '.join(POSITIONS)}")
        self.template = template
        self.position = position
        self.camera = camera
        self._np = importlib.import_module("numpy")
        self._image = importlib.import_module("PIL.Image")
        self._draw = importlib.import_module("PIL.ImageDraw")
        self._font = importlib.import_module("PIL.ImageFont")
        self._fonts: dict[int, Any] = {}
        self._patch_key: tuple[str, int, int, Orientation | None] | None = None
        self._patch: _Patch | None = None
        self._times: deque[float] = deque()
        self._fps_text = "0"
        self._fps_shown_at = 0.0

    # -- the text ---------------------------------------------------------------

    def text_at(self, timestamp: float) -> str:
        """The template for a frame captured at ``timestamp`` (Unix seconds)."""
        self._count_frame(timestamp)
        text = time.strftime(self.template, time.localtime(timestamp))
        # Plain replacement, not str.format: other braces stay as the user wrote them.
        return text.replace("{camera}", self.camera).replace("{fps}", self._fps_text)

    def _count_frame(self, timestamp: float) -> None:
        times = self._times
        times.append(timestamp)
        while times and times[0] < timestamp - _FPS_WINDOW:
            times.popleft()
        if timestamp - self._fps_shown_at >= 1.0 or timestamp < self._fps_shown_at:
            span = times[-1] - times[0]
            fps = (len(times) - 1) / span if span > 0 else 0.0
            self._fps_text = f"{fps:.0f}"
            self._fps_shown_at = timestamp

    # -- rendering ----------------------------------------------------------------

    def _font_of(self, size: int) -> Any:
        font = self._fonts.get(size)
        if font is None:
            for path in _FONT_FILES:
                if Path(path).is_file():
                    font = self._font.truetype(path, size)
                    break
            else:
                font = self._font.load_default(size=size)
            self._fonts[size] = font
        return font

    def patch(
        self, text: str, width: int, height: int, turn: Orientation | None = None
    ) -> _Patch | None:
        """The rendered ``text`` placed in a ``width`` x ``height`` picture (cached).

        ``turn``: how the picture is turned after drawing; the patch is then made for
        the turned picture and turned back, so it comes out upright and in place.
        """
        key = (text, width, height, turn)
        if key == self._patch_key:
            return self._patch
        if turn is None or turn.is_identity:
            patch = self._render(text, width, height)
        else:
            patch = self._render(text, *turn.turned_size(width, height))
            if patch is not None:
                back = turn.inverse()
                rows, cols = patch.alpha.shape
                x, y, _, _ = turn.source_rect((patch.x, patch.y, cols, rows), width, height)
                value = self._np.ascontiguousarray(back.apply_to_array(patch.value))
                alpha = self._np.ascontiguousarray(back.apply_to_array(patch.alpha))
                patch = _Patch(x, y, value, alpha)
        self._patch_key, self._patch = key, patch
        return patch

    def _render(self, text: str, width: int, height: int) -> _Patch | None:
        if not text.strip():
            return None
        size = font_size_for(width, height)
        while True:
            font = self._font_of(size)
            stroke = max(1, size // 12)
            margin = size // 2
            probe = self._draw.Draw(self._image.new("L", (1, 1)))
            left, top, right, bottom = probe.multiline_textbbox(
                (0, 0), text, font=font, stroke_width=stroke
            )
            text_w, text_h = right - left, bottom - top
            if text_w + 2 * margin <= width or size <= _MIN_FONT:
                break
            # Shrink in proportion (then re-measure): a long text still fits.
            size = max(_MIN_FONT, int(size * (width - 2 * margin) / text_w))
        value = self._image.new("L", (text_w, text_h), 0)
        alpha = self._image.new("L", (text_w, text_h), 0)
        origin = (-left, -top)
        self._draw.Draw(value).multiline_text(
            origin, text, font=font, fill=255, stroke_width=stroke, stroke_fill=0
        )
        self._draw.Draw(alpha).multiline_text(
            origin, text, font=font, fill=255, stroke_width=stroke, stroke_fill=255
        )
        x = {"left": margin, "right": width - margin - text_w}.get(
            self.position.rpartition("-")[2], (width - text_w) // 2
        )
        y = margin if self.position.startswith("top") else height - margin - text_h
        np = self._np
        value_a = np.asarray(value, dtype=np.uint16)
        alpha_a = np.asarray(alpha, dtype=np.uint16)
        # Never outside the picture: clip the patch to it.
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(width, x + text_w), min(height, y + text_h)
        if x1 <= x0 or y1 <= y0:
            return None
        crop = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
        return _Patch(x0, y0, value_a[crop], alpha_a[crop])

    # -- drawing -------------------------------------------------------------------

    def draw_planes(
        self, luma: Any, chroma: list[Any], timestamp: float, turn: Orientation | None = None
    ) -> None:
        """Draw on a planar YUV picture in place: ``luma`` (rows, columns) and the
        chroma planes at their subsampled size (empty for grey). ``turn``: see :meth:`patch`."""
        height, width = luma.shape
        patch = self.patch(self.text_at(timestamp), width, height, turn)
        if patch is None:
            return
        rows, cols = patch.alpha.shape
        _blend(luma[patch.y : patch.y + rows, patch.x : patch.x + cols], patch.value, patch.alpha)
        for plane in chroma:
            sy, sx = -(-height // plane.shape[0]), -(-width // plane.shape[1])
            y0, x0 = patch.y // sy, patch.x // sx
            alpha = patch.alpha[::sy, ::sx]
            region = plane[y0 : y0 + alpha.shape[0], x0 : x0 + alpha.shape[1]]
            alpha = alpha[: region.shape[0], : region.shape[1]]
            _blend(region, self._np.uint16(128), alpha)

    def draw_packed(self, pixels: Any, timestamp: float, turn: Orientation | None = None) -> None:
        """Draw on a packed picture in place: (rows, columns, channels), RGB-like.
        White on black works whatever the channel order. ``turn``: see :meth:`patch`."""
        height, width = pixels.shape[:2]
        patch = self.patch(self.text_at(timestamp), width, height, turn)
        if patch is None:
            return
        rows, cols = patch.alpha.shape
        region = pixels[patch.y : patch.y + rows, patch.x : patch.x + cols, :3]
        for channel in range(region.shape[2]):
            _blend(region[:, :, channel], patch.value, patch.alpha)


def _blend(target: Any, value: Any, alpha: Any) -> None:
    """``target = target * (1 - alpha) + value * alpha`` in place, alpha 0-255, integers."""
    mixed = (target * (255 - alpha) + value * alpha + 127) // 255
    target[...] = mixed
