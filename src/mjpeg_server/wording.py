"""Words for people: one home for the grammar of counts in logs and reports."""

from __future__ import annotations

__all__ = ["counted"]


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """``"1 viewer"``, ``"2 viewers"``, ``"0 gaps"``: a count with its noun."""
    noun = singular if number == 1 else (plural or singular + "s")
    return f"{number} {noun}"
