"""The mutation score of the last ``mutmut run``, equivalent mutants set apart.

``python ci/mutation_score.py [--write docs/mutation.json]`` (``tox -e mutation``
runs it after mutmut). A surviving mutant is *equivalent* when it matches a row
of ``docs/mutation-equivalents.md``: same function, same original line, same
mutated line (mutmut's mutant numbers shift whenever code changes, the lines do
not). The score is killed / (killed + survived), equivalents left out of both;
a mutant that makes the tests time out counts as killed (they fail). Prints the
survivors that are not equivalent, and listed equivalents no mutant matched any
more (stale rows), so the list can be kept honest.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from importlib.metadata import version
from pathlib import Path

EQUIVALENTS = Path("docs/mutation-equivalents.md")
SCOPE = "src/mjpeg_server/wire/, src/mjpeg_server/hub/"
KILLED = {"killed", "timeout", "segfault"}
# A row of the equivalents table: | `module.function` | `original` | `mutated` | why |
_ROW_RE = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*`(.*?)`\s*\|\s*`(.*?)`\s*\|(.*)\|\s*$")
_RESULT_RE = re.compile(r"^\s*(\S+?)\s*:\s*(\S[^:]*)$")


def mutmut(*args: str) -> str:
    # Not check=True: `mutmut show` prints the diff and may still exit 1.
    return subprocess.run(["mutmut", *args], capture_output=True, text=True, check=False).stdout


def statuses() -> dict[str, str]:
    """Every mutant of the last run and its status."""
    found = {}
    for line in mutmut("results", "--all", "true").splitlines():
        match = _RESULT_RE.match(line)
        if match:
            found[match[1]] = match[2].strip()
    return found


def function_of(name: str) -> str:
    """``mjpeg_server.wire.jpeg.x_jpeg_size__mutmut_7`` → ``mjpeg_server.wire.jpeg.jpeg_size``;
    a method's ``xǁClassǁmethod__mutmut_3`` → ``Class.method``."""
    module, _, mangled = name.rpartition(".")
    mangled = re.sub(r"__mutmut_\d+$", "", mangled)
    if mangled.startswith("xǁ"):
        return f"{module}.{mangled[2:].replace('ǁ', '.')}"
    return f"{module}.{mangled.removeprefix('x_')}"


def change(name: str) -> tuple[str, str]:
    """The (original, mutated) lines of a mutant, stripped; several lines joined by " / "."""
    removed, added = [], []
    for line in mutmut("show", name).splitlines():
        if line.startswith("-") and not line.startswith("---"):
            removed.append(line[1:].strip())
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:].strip())
    return " / ".join(removed), " / ".join(added)


def listed_equivalents() -> dict[tuple[str, str, str], str]:
    rows = {}
    for line in EQUIVALENTS.read_text().splitlines():
        match = _ROW_RE.match(line)
        if match and match[1] != "function":
            rows[(match[1], match[2], match[3])] = match[4].strip()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    status = statuses()
    if not status:
        print("no mutants: run mutmut first", file=sys.stderr)
        return 2
    counts = Counter(status.values())
    equivalents = listed_equivalents()
    matched: set[tuple[str, str, str]] = set()
    survivors = []
    for name, state in sorted(status.items()):
        if state in KILLED:
            continue
        key = (function_of(name), *change(name)) if state == "survived" else (name, "", "")
        if key in equivalents:
            matched.add(key)
        else:
            survivors.append((name, state, key))
    killed = sum(counts[s] for s in KILLED)
    equivalent = sum(1 for s in status.values() if s == "survived") - sum(
        1 for _, state, _ in survivors if state == "survived"
    )
    survived = len(survivors)
    score = round(100 * killed / (killed + survived), 1) if killed + survived else 0.0
    figures = {
        "score": score,
        "killed": killed,
        "survived": survived,
        "equivalent": equivalent,
        "tool": f"mutmut {version('mutmut')}",
        "scope": SCOPE,
    }
    for name, state, (function, original, mutated) in survivors:
        print(f"{state}: {name}\n    {function}: `{original}` -> `{mutated}`")
    for function, original, mutated in sorted(equivalents.keys() - matched):
        print(f"stale equivalent (no mutant matches): {function}: `{original}` -> `{mutated}`")
    print(json.dumps(figures))
    if args.write is not None:
        args.write.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
