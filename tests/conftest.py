"""Settings shared by every test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from support.cameras import OpenCameras

# "ci": derandomized, so a run is reproducible on a clean clone; no per-example
# deadline, because a loaded 2-core runner makes any deadline flaky.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
# "mutation" (tox -e mutation): every test runs once per surviving mutant, so
# fewer examples; derandomized, so that a mutant's verdict is reproducible.
settings.register_profile(
    "mutation",
    derandomize=True,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def opened() -> Iterator[OpenCameras]:
    """Cameras a test opens (``opened.open(spec, Kind)``), closed at its end."""
    cameras = OpenCameras()
    yield cameras
    cameras.close_all()
