"""Helpers for the training tests: load the shipped tiny recipes with an output folder under tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_RECIPES = REPO_ROOT / "recipes" / "tiny"


def tiny_recipe(name: str, output_dir: Path, *overrides: str):
    """recipes/tiny/NAME.yaml with output_dir and `overrides` (dotted KEY=YAML), paths relative to the repo."""
    from variformer.training import load_recipe

    return load_recipe(
        TINY_RECIPES / f"{name}.yaml",
        overrides=[f"output_dir={json.dumps(str(output_dir))}", *overrides],
        base_dir=REPO_ROOT,
    )


def read_metrics(output_dir: Path) -> dict:
    return json.loads((Path(output_dir) / "metrics.json").read_text())


@pytest.fixture(scope="session")
def shared_data_dir(shared_data) -> Path:
    """The shared data sets, which the tiny recipes reach as ../shared/data from the repository root."""
    assert (REPO_ROOT / ".." / "shared" / "data").resolve() == shared_data.resolve()
    return shared_data
