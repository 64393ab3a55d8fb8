"""The SIL tier's tests run in the environment ``tests/sil/run.py`` gives them (``tox -e sil``):
libcamera's bindings importable and the adaptations installed (tests/support/sil.py)."""

from __future__ import annotations

import types

import pytest


@pytest.fixture(scope="session")
def picamera2() -> types.ModuleType:
    """The real picamera2 on the virtual camera; skips outside the SIL environment."""
    try:
        import picamera2  # noqa: PLC0415 - only where the stack is
    except ImportError as error:
        pytest.skip(f"not in the SIL environment ({error}): run tox -e sil")
    if hasattr(picamera2, "fake_counts"):
        pytest.skip("picamera2 is the test fake here, not the real library: run tox -e sil")
    return picamera2
