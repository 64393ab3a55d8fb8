"""``tox -e sil``: build (or reuse) libcamera with its virtual camera, then run the tier.

    python tests/sil/run.py [pytest arguments]

1. ``ci/build-libcamera.sh`` builds libcamera and its Python bindings, or reuses
   the cached build (``tests/support/sil.py``: :func:`~support.sil.stack`).
2. One pytest session runs ``tests/sil`` (the adaptations still needed, the
   backend on real picamera2, the fake against the real signatures) and the
   whole HIL suite ``tests/hil --camera picamera2``: the real server process on
   the real picamera2 and libcamera, over real sockets. Every process gets the
   environment that loads the bindings and the adaptations.

Where libcamera cannot be built (no source, build packages missing) only
``tests/sil/test_stack.py`` runs: it skips with the reason, or fails where
``MJPEG_SERVER_REQUIRE_SIL=1`` (``.ci/run``). Results: ``artifacts/sil/``.

    python tests/sil/run.py --bench [arguments]   (tox -e sil-bench)
    python tests/sil/run.py --bench picture [arguments]   (tox -e sil-bench -- picture)

runs ``tests/sil/bench_jpeg.py`` (the Pi 5's JPEG path), or
``tests/sil/bench_picture.py`` (the picture controls on a Pi camera), on the
stack instead: figures, not tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from support import sil  # noqa: E402 - needs tests/ on sys.path

RESULTS = "artifacts/sil"
UNAVAILABLE_VARIABLE = "MJPEG_SERVER_SIL_UNAVAILABLE"


def main(argv: list[str]) -> int:
    started = time.monotonic()
    stack = sil.stack()
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    if argv[:1] == ["--bench"]:  # tox -e sil-bench: figures, not tests
        if stack.prefix is None:
            print(f"sil-bench: no SIL stack: {stack.unavailable}", file=sys.stderr)
            return 1
        picture = argv[1:2] == ["picture"]
        script = "tests/sil/bench_picture.py" if picture else "tests/sil/bench_jpeg.py"
        command = [sys.executable, script, *argv[2 if picture else 1 :]]
        # The adaptations make libcamera log expected errors (no dma-buf provider,
        # no Raw role) at every open: keep the figures readable.
        env = {**os.environ, **stack.env, "LIBCAMERA_LOG_LEVELS": "*:FATAL"}
        return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    if stack.prefix is None:
        assert stack.unavailable is not None
        env = {**os.environ, UNAVAILABLE_VARIABLE: stack.unavailable}
        command = [*pytest, "tests/sil/test_stack.py", f"--junitxml={RESULTS}/junit.xml", *argv]
        return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    facts = stack.facts
    print(
        f"sil: libcamera {facts['LIBCAMERA_TAG']} at {stack.prefix} "
        f"(built in {facts['BUILD_SECONDS']} s; ready after {time.monotonic() - started:.0f} s)",
        flush=True,
    )
    command = [
        *pytest,
        "tests/sil",
        "tests/hil",
        "--camera",
        "picamera2",
        "--hil-label",
        "picamera2-sil",
        "--hil-results",
        RESULTS,
        f"--junitxml={RESULTS}/junit.xml",
        *argv,
    ]
    code = subprocess.run(command, cwd=ROOT, env={**os.environ, **stack.env}, check=False)
    print(f"sil: tier ran in {time.monotonic() - started:.0f} s", flush=True)
    return code.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
