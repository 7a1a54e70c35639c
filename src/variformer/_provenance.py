"""Where a run happened: git commit, package and library versions, platform (evaluation and training records)."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "variformer",
    "torch",
    "transformers",
    "accelerate",
    "peft",
    "evaluate",
    "datasets",
    "sacrebleu",
    "rouge-score",
    "scikit-learn",
    "numpy",
    "tokenizers",
)


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def git_state() -> dict:
    """{"commit": sha or None, "dirty": bool or None} of the checkout holding this package (None outside git)."""
    folder = Path(__file__).resolve().parent

    def git(*args) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def platform_info() -> dict:
    return {"platform": platform.platform(), "python": sys.version.split()[0], "machine": platform.machine()}


__all__ = ["versions", "git_state", "platform_info"]
