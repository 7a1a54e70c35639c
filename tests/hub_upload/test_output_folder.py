"""`variformer push --dry-run DIR [--overwrite]` never removes the checkpoint, its siblings or any folder that an
earlier export did not write; refusals are one clear line, exit 1, no traceback, nothing changed on disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from variformer.hub_upload import ExportError, export_model
from variformer.hub_upload.export import EXPORT_MARKER


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under `root`, by relative path."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}


def push(checkpoint: Path, *options: str, cwd: Path) -> subprocess.CompletedProcess:
    """`variformer push CHECKPOINT alice/x OPTIONS` through the real entry point, run in `cwd`, without a token."""
    env = {key: value for key, value in os.environ.items() if key != "HF_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "variformer.cli", "push", str(checkpoint), "alice/x", *options],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )


@pytest.fixture
def workspace(checkpoints, tmp_path) -> Path:
    """tmp/runs/{ckpt (a real checkpoint), other-run/notes.txt} and tmp/elsewhere/sub/keep.txt."""
    shutil.copytree(checkpoints["decoder"], tmp_path / "runs" / "ckpt")
    (tmp_path / "runs" / "other-run").mkdir()
    (tmp_path / "runs" / "other-run" / "notes.txt").write_text("a sibling run")
    (tmp_path / "elsewhere" / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere" / "sub" / "keep.txt").write_text("not an export")
    return tmp_path


# (cwd relative to the workspace, --dry-run value, words the message must contain)
REFUSED = {
    "is the checkpoint": (".", "runs/ckpt", "is, contains or lies inside the checkpoint folder"),
    "contains the checkpoint": (".", "runs", "is, contains or lies inside the checkpoint folder"),
    "inside the checkpoint": (".", "runs/ckpt/hub", "is, contains or lies inside the checkpoint folder"),
    "dot holding the checkpoint": ("runs", ".", "is, contains or lies inside the checkpoint folder"),
    "dot dot holding the checkpoint": ("runs/ckpt", "..", "is, contains or lies inside the checkpoint folder"),
    "dot": ("elsewhere/sub", ".", "is the current directory or one above it"),
    "dot dot": ("elsewhere/sub", "..", "is the current directory or one above it"),
    "not an export": (
        ".",
        "elsewhere/sub",
        f"was not written by an export (it has no {EXPORT_MARKER} marker), so "
        "it is never replaced, not even with --overwrite",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_output_folders_change_nothing(workspace, case):
    cwd, out, words = REFUSED[case]
    before = snapshot(workspace)
    result = push(workspace / "runs" / "ckpt", "--dry-run", out, "--overwrite", cwd=workspace / cwd)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]  # the last line: libraries may log while importing (torchao does)
    assert error.startswith("variformer push: error: output folder ") and words in error, result.stderr
    assert "name a new" in result.stderr  # the fix
    assert snapshot(workspace) == before  # the checkpoint byte for byte, its siblings, no staging folder


def test_earlier_export_is_refused_without_overwrite_and_replaced_cleanly_with_it(workspace):
    checkpoint, out = workspace / "runs" / "ckpt", workspace / "exports" / "hub"
    (workspace / "exports").mkdir()
    (workspace / "exports" / "sibling.txt").write_text("beside the export")
    first = export_model(checkpoint, out)
    assert EXPORT_MARKER in first.files
    (out / "stale.bin").write_bytes(b"left by hand")
    kept = {path: data for path, data in snapshot(workspace).items() if not path.startswith("exports/hub")}

    with pytest.raises(ExportError, match="holds an earlier export; replace it with `variformer push --overwrite`"):
        export_model(checkpoint, out)
    assert (out / "stale.bin").is_file()

    second = export_model(checkpoint, out, overwrite=True)
    assert "stale.bin" not in second.files and set(second.files) == set(first.files)
    assert sorted(p.name for p in (workspace / "exports").iterdir()) == ["hub", "sibling.txt"]  # no leftovers
    after = {path: data for path, data in snapshot(workspace).items() if not path.startswith("exports/hub")}
    assert after == kept  # the checkpoint, its siblings and the export's siblings untouched


def test_cli_overwrites_an_earlier_export(workspace):
    checkpoint, out = workspace / "runs" / "ckpt", workspace / "hub"
    export_model(checkpoint, out)
    (out / "stale.bin").write_bytes(b"left by hand")
    before = snapshot(workspace / "runs")
    result = push(checkpoint, "--dry-run", "hub", "--overwrite", cwd=workspace)
    assert result.returncode == 0, result.stderr
    assert "Dry run" in result.stdout and EXPORT_MARKER not in result.stdout  # the marker is never uploaded
    assert not (out / "stale.bin").exists() and (out / EXPORT_MARKER).is_file()
    assert snapshot(workspace / "runs") == before
    assert sorted(p.name for p in workspace.iterdir()) == ["elsewhere", "hub", "runs"]
