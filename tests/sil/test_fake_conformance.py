"""The picamera2 fake (tests/fakes/picamera2) against the real picamera2's source,
and the libcamera types it hands out (tests/fakes/libcamera) against the real bindings.

Every public class, method, property and enum member the fake defines must
exist in the real library with the same parameters (names, order, kinds,
which have defaults, and the same default where the real one is a literal),
unless its docstring says it is fake-only. Both sides are read as source
(``ast``), so the check needs the real package installed, not importable:
``tox -e sil`` installs it; elsewhere it skips.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import itertools
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "picamera2"
#: Fake module → the real modules whose classes and functions it stands for.
MODULES = {
    "picamera2.py": ["picamera2.py"],
    "encoders.py": [
        "encoders/encoder.py",
        "encoders/jpeg_encoder.py",
        "encoders/mjpeg_encoder.py",
        "encoders/libav_mjpeg_encoder.py",
    ],
    "outputs.py": ["outputs/output.py", "outputs/fileoutput.py"],
    "platform.py": ["platform.py"],
    "request.py": ["request.py"],
}
#: Fake names for real classes whose real name the fake cannot use (picamera2 binds
#: one of the two MJPEG encoders to ``MJPEGEncoder`` at import).
RENAMED = {"V4L2MJPEGEncoder": "MJPEGEncoder"}


@dataclass(frozen=True)
class Signature:
    kind: str  # "method", "staticmethod", "classmethod", "property", "function"
    params: tuple[tuple[str, str, bool], ...]  # (name, kind, has default)
    literal_defaults: dict[str, object]

    def differences(self, real: Signature) -> list[str]:
        found = []
        if self.kind != real.kind:
            found.append(f"a {self.kind}, real: a {real.kind}")
        if self.params != real.params:
            found.append(f"parameters {self.params}, real: {real.params}")
        for name, value in real.literal_defaults.items():
            if name in self.literal_defaults and self.literal_defaults[name] != value:
                found.append(f"{name}={self.literal_defaults[name]!r}, real: {value!r}")
        return found


def signature(node: ast.FunctionDef) -> Signature:
    decorators = {d.id for d in node.decorator_list if isinstance(d, ast.Name)}
    decorators |= {d.attr for d in node.decorator_list if isinstance(d, ast.Attribute)}
    kind = next(
        (k for k in ("property", "staticmethod", "classmethod") if k in decorators), "method"
    )
    if "setter" in decorators:
        kind = "setter"
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params: list[tuple[str, str, bool]] = []
    literals: dict[str, object] = {}
    pairs = [
        *zip(positional, defaults, strict=True),
        *zip(args.kwonlyargs, args.kw_defaults, strict=True),
    ]
    for arg, default in pairs:
        arg_kind = "keyword" if arg in args.kwonlyargs else "positional"
        params.append((arg.arg, arg_kind, default is not None))
        if isinstance(default, ast.Constant):
            literals[arg.arg] = default.value
    if args.vararg:
        params.append((args.vararg.arg, "*args", False))
    if args.kwarg:
        params.append((args.kwarg.arg, "**kwargs", False))
    return Signature(kind, tuple(params), literals)


@dataclass
class Definitions:
    classes: dict[str, dict[str, Signature]]
    enums: dict[str, set[str]]
    functions: dict[str, Signature]
    fake_only: set[str]


def definitions(*paths: Path) -> Definitions:
    found = Definitions({}, {}, {}, set())
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                found.functions[node.name] = signature(node)
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
            if "Enum" in bases:
                found.enums[node.name] = {
                    t.id
                    for item in node.body
                    if isinstance(item, ast.Assign)
                    for t in item.targets
                    if isinstance(t, ast.Name)
                }
                continue
            methods = found.classes.setdefault(RENAMED.get(node.name, node.name), {})
            for item in node.body:
                if not isinstance(item, ast.FunctionDef):
                    continue
                public = not item.name.startswith("_") or item.name in (
                    "__init__",
                    "__enter__",
                    "__exit__",
                )
                doc = ast.get_docstring(item) or ""
                if doc.startswith("Fake-only"):
                    found.fake_only.add(f"{node.name}.{item.name}")
                elif public:
                    sig = signature(item)
                    methods[item.name if sig.kind != "setter" else f"{item.name}.setter"] = sig
    return found


@pytest.fixture(scope="module")
def real_source() -> Path:
    try:
        distribution = importlib.metadata.distribution("picamera2")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the real picamera2 is not installed here (tox -e sil installs it)")
    source = Path(str(distribution.locate_file("picamera2")))
    if not (source / "picamera2.py").is_file():
        pytest.skip(f"no picamera2 source at {source}")
    return source


@pytest.mark.parametrize("fake_module", sorted(MODULES))
def test_the_fake_has_the_real_signatures(fake_module: str, real_source: Path) -> None:
    fake = definitions(FAKE / fake_module)
    real = definitions(*(real_source / name for name in MODULES[fake_module]))
    problems = []
    for name, methods in fake.classes.items():
        if name not in real.classes:
            problems.append(f"class {name}: not in the real {MODULES[fake_module]}")
            continue
        for method, sig in methods.items():
            real_sig = real.classes[name].get(method)
            if real_sig is None:
                problems.append(f"{name}.{method}: not in the real class")
            else:
                problems += [f"{name}.{method}: {d}" for d in sig.differences(real_sig)]
    for name, members in fake.enums.items():
        if members != real.enums.get(name):
            problems.append(f"enum {name}: {sorted(members)}, real: {real.enums.get(name)}")
    for name, sig in fake.functions.items():
        if name in real.functions:
            problems += [f"{name}(): {d}" for d in sig.differences(real.functions[name])]
        elif name != "__getattr__":
            problems.append(f"{name}(): not in the real module")
    assert not problems, "\n".join(problems)


def test_the_fake_says_what_is_fake_only() -> None:
    """The fake's own additions are marked, so the comparison above can leave them out."""
    fake = definitions(*(FAKE / name for name in MODULES))
    assert {"Encoder.encode_frame", "Encoder.jpeg_quality", "Picamera2.frame_rate"} <= (
        fake.fake_only
    )


# -- the libcamera types (a C extension: compared by behaviour, on the SIL stack) ----------


@pytest.fixture(scope="module")
def libcameras(picamera2: types.ModuleType) -> tuple[types.ModuleType, types.ModuleType]:
    """(the fake libcamera module, loaded under another name; the real bindings)."""
    import libcamera  # noqa: PLC0415 - the real bindings, on this stack

    path = FAKE.parent / "libcamera" / "__init__.py"
    spec = importlib.util.spec_from_file_location("fake_libcamera", path)
    assert spec is not None
    assert spec.loader is not None
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    return fake, libcamera


def test_the_fake_transform_is_libcameras(
    libcameras: tuple[types.ModuleType, types.ModuleType],
) -> None:
    fake, real = libcameras
    for rotation, hflip, vflip, transpose in itertools.product(
        (0, 90, 180, 270), (False, True), (False, True), (False, True)
    ):
        ours = fake.Transform(rotation=rotation, hflip=hflip, vflip=vflip, transpose=transpose)
        theirs = real.Transform(rotation=rotation, hflip=hflip, vflip=vflip, transpose=transpose)
        assert str(ours) == str(theirs)
        assert (ours.hflip, ours.vflip, ours.transpose) == (
            theirs.hflip,
            theirs.vflip,
            theirs.transpose,
        )
        assert str(fake.Transform(ours)) == str(real.Transform(theirs))  # copies
    ours, theirs = fake.Transform(), real.Transform()
    ours.vflip = theirs.vflip = True
    assert str(ours) == str(theirs)
    assert ours == fake.Transform(vflip=True)
    assert theirs == real.Transform(vflip=True)  # as picamera2 makes it compare
    with pytest.raises(ValueError, match="Invalid rotation"):
        fake.Transform(rotation=45)
    with pytest.raises(ValueError, match="Invalid rotation"):
        real.Transform(rotation=45)


def test_the_fake_control_types_are_libcameras(
    libcameras: tuple[types.ModuleType, types.ModuleType], picamera2: types.ModuleType
) -> None:
    fake, real = libcameras
    assert {m.name: m.value for m in fake.ControlType} == {
        name: int(member) for name, member in real.ControlType.__members__.items()
    }
    camera = picamera2.Picamera2(0)
    try:
        control_id, info = camera.camera_ctrl_info["FrameDurationLimits"]
    finally:
        camera.close()
    for name in ("name", "type", "isArray", "size", "vendor", "enumerators"):
        assert hasattr(control_id, name), f"ControlId.{name}"
        assert hasattr(fake.ControlId, name), f"fake ControlId.{name}"
    for name in ("min", "max", "default", "values"):
        assert hasattr(info, name), f"ControlInfo.{name}"
        assert hasattr(fake.ControlInfo, name), f"fake ControlInfo.{name}"
    ours = fake.ControlId("FrameDurationLimits", fake.ControlType.Integer64, size=2)
    assert (ours.type.name, ours.isArray, ours.size) == (
        control_id.type.name,
        control_id.isArray,
        control_id.size,
    )
