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


def _architecture_table() -> list[list[str]]:
    """The first column's paths of each row of README's "Architecture at a glance"
    table: a bare name (``picamera2.py``) is in the folder of the row's first path."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Architecture at a glance", 1)[1].split("| path | one job |", 1)[1]
    rows = []
    for line in table.split("\n\n", 1)[0].splitlines():
        if not line.startswith("| `"):
            continue
        names = re.findall(r"`([^`]+)`", line.split("|")[1])
        folder = names[0].rpartition("/")[0]
        rows.append([name if "/" in name or not folder else f"{folder}/{name}" for name in names])
    return rows


def test_readme_architecture_table_names_every_module() -> None:
    """One obvious place for each thing: a reader finds every module from the README's
    table, and the table names nothing that is not there."""
    # The source tree, not the installed copy: a wheel built in a checkout can carry
    # modules that were deleted since (setuptools reuses its build/ folder).
    package = Path(__file__).resolve().parents[2] / "src" / "mjpeg_server"
    modules = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name not in {"__init__.py", "__main__.py"}
    }
    named = [name for row in _architecture_table() for name in row]
    covered = {
        module
        for module in modules
        if module in named or any(n.endswith("/") and module.startswith(n) for n in named)
    }
    assert sorted(modules - covered) == []
    assert sorted(n for n in named if not (package / n).exists()) == []


def _imports(folder: str) -> dict[str, set[str]]:
    """Each module of a sub-package → the absolute names it imports (relative ones resolved)."""
    package = Path(__file__).resolve().parents[2] / "src" / "mjpeg_server"
    found: dict[str, set[str]] = {}
    for module in sorted((package / folder).rglob("*.py")):
        here = ["mjpeg_server", *module.relative_to(package).parent.parts]
        names: set[str] = set()
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                names.add(".".join([*base, node.module] if node.module else base))
        found[module.relative_to(package).as_posix()] = names
    return found


def test_the_layers_know_only_their_neighbours() -> None:
    """The data path in imports: backends, picture work, the hub and the codec know no
    HTTP server (``server/``, Flask, Werkzeug, h11); the server knows no device library."""
    web = ("mjpeg_server.server", "flask", "werkzeug", "h11")
    for folder in ("cameras", "picture", "hub", "wire"):
        for module, names in _imports(folder).items():
            assert not {n for n in names if n.startswith(web)}, module
    devices = (
        "picamera2",
        "libcamera",
        "cv2",
        "mjpeg_server.cameras.picamera2",
        "mjpeg_server.cameras.opencv",
        "mjpeg_server.cameras.v4l2",
    )
    for module, names in _imports("server").items():
        assert not {n for n in names if n.startswith(devices)}, module
