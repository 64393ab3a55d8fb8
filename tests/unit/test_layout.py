"""The package's promises about its own shape: the public API at the root, and
a wire format that does no I/O."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import mjpeg_server
from mjpeg_server.cameras.registry import BACKENDS
from mjpeg_server.cameras.spec import KINDS
from mjpeg_server.client import iter_frames
from mjpeg_server.config import Settings
from mjpeg_server.server.app import create_app

WIRE = Path(mjpeg_server.__file__).parent / "wire"
#: What a sans-I/O module may import: no sockets, files, threads, clocks or processes.
SANS_IO_ALLOWED = {
    "__future__",
    "collections",
    "dataclasses",
    "enum",
    "math",
    "re",
    "types",
    "typing",
}


def test_public_api_is_reexported_at_the_root() -> None:
    assert mjpeg_server.create_app is create_app
    assert mjpeg_server.Settings is Settings
    assert mjpeg_server.iter_frames is iter_frames
    assert set(mjpeg_server.__all__) >= {"create_app", "Settings", "iter_frames"}


def test_wire_imports_nothing_that_does_io() -> None:
    modules = sorted(WIRE.glob("*.py"))
    assert modules, WIRE
    for module in modules:
        tree = ast.parse(module.read_text(), str(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: only within wire/
                    assert node.level == 1, f"{module.name} imports from outside wire/"
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in SANS_IO_ALLOWED, f"{module.name} imports {name}"


def test_importing_the_wire_format_does_not_load_flask() -> None:
    code = "import sys, mjpeg_server.wire.multipart; print('flask' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_every_spec_kind_has_a_backend() -> None:
    assert set(BACKENDS) == KINDS


def test_every_module_the_readmes_architecture_table_names_exists() -> None:
    """The table's first column: ``dir/a.py``, then ``b.py`` in the same directory
    (``cameras/emulated.py``, ``picamera2.py``), or ``dir/`` for a package."""
    root = Path(__file__).resolve().parents[2]  # the repository (tox installs a wheel)
    package = root / "src" / "mjpeg_server"
    readme = (root / "README.md").read_text(encoding="utf-8")
    named = 0
    for row in re.findall(r"^\| (`\w[^|]*\.py`|`\w[^|]*/`)[^|]* \|", readme, re.MULTILINE):
        directory = ""
        for name in re.findall(r"`([^`]+)`", row):
            if "/" in name.rstrip("/"):
                directory = name.rpartition("/")[0]
            path = package / directory / name.rpartition("/")[2]
            assert path.exists(), f"README names {name} ({path.relative_to(package)}): not found"
            named += 1
    assert named > 20
