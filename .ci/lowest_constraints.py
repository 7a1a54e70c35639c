"""Print pip constraints pinning each dependency to the lowest version pyproject.toml declares (`>=X` -> `==X`).

CI installs the project twice: once as pip resolves it today (the newest releases), once under these constraints,
so the lower bounds we declare are the versions we test. torch is left out: CI installs the CPU build it pins first.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

SKIP = {"torch"}


def lowest_pins(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    pins = []
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)
        bound = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", requirement)
        if bound and name.lower() not in SKIP:
            pins.append(f"{name}=={bound.group(1)}")
    return pins


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    print("\n".join(lowest_pins(root / "pyproject.toml")))
