"""Puts the SIL adaptations (tests/support/sil.py) into every Python process of the tier.

``tox -e sil`` puts this folder and ``tests/`` on ``PYTHONPATH``, so the test
process, the server process it starts and the children that open the camera
all run this at start-up. It only registers an import hook: a process that
never imports picamera2 is unchanged. This file shadows any other
``sitecustomize`` (Debian's installs apport's hook), so it runs that one too.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path


def _run_shadowed_sitecustomize() -> None:
    here = Path(__file__).resolve().parent
    rest = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


_run_shadowed_sitecustomize()

from support import sil  # noqa: E402 - after the system's own start-up hook

sil.install()
