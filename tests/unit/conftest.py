"""What the unit tests share.

Fixtures live here. Constants that tests and their helpers import live in
``tests/support`` (a conftest is not a module to import from): the liveness
bound ``LIVENESS`` in ``support.waiting``, the bundled frames ``FRAMES`` and the
fixture paths in ``support.fixtures``. Stream servers for the codec tests are in
``codec_servers``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from codec_servers import WSGIStreamServer


@pytest.fixture(scope="module")
def wsgi_server() -> Iterator[WSGIStreamServer]:
    """A chunked HTTP/1.1 stream server (Werkzeug) with a few endpoints, one per module."""
    with WSGIStreamServer() as running:
        yield running
