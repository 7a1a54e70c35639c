"""The checkpoint `variformer train --resume` continues from: the newest *complete* `checkpoint-*` folder.

A run killed while `Trainer` saves leaves a folder with truncated weights or no `trainer_state.json`;
`transformers.trainer_utils.get_last_checkpoint` would still pick it. Here a folder counts as complete when it
holds what `Trainer._save_checkpoint` writes: a parseable `trainer_state.json`, weights that safetensors can open
(`model.safetensors`, its shards, or a LoRA `adapter_model.safetensors`; a `pytorch_model.bin` is only checked to
exist) and `optimizer.pt` / `scheduler.pt`. Incomplete folders are skipped and reported, never deleted.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")  # transformers' PREFIX_CHECKPOINT_DIR + "-<global step>"
SAFETENSORS_WEIGHTS = ("model.safetensors", "adapter_model.safetensors")
SHARD_INDEX = "model.safetensors.index.json"
OTHER_WEIGHTS = ("pytorch_model.bin", "adapter_model.bin")
TRAINER_FILES = ("optimizer.pt", "scheduler.pt")


class ResumeError(RuntimeError):
    """--resume found checkpoint folders but none to continue from; the message lists why each was skipped."""


@dataclass(frozen=True)
class ResumePoint:
    checkpoint: Path | None  # None: no checkpoint-* folder at all, training starts from scratch
    skipped: tuple[tuple[Path, str], ...] = ()  # newer incomplete folders and why each was skipped


def find_resume_checkpoint(output_dir: str | os.PathLike) -> ResumePoint:
    """The newest complete checkpoint-* folder of `output_dir` and the newer incomplete ones skipped on the way.

    ResumeError when there are checkpoint folders but none is complete (starting over would write over them).
    """
    steps = {
        folder: int(match.group(1))
        for folder in Path(output_dir).glob("checkpoint-*")
        if folder.is_dir() and (match := CHECKPOINT_NAME.match(folder.name))
    }
    folders = sorted(steps, key=steps.get, reverse=True)
    skipped: list[tuple[Path, str]] = []
    for folder in folders:
        problem = checkpoint_problem(folder)
        if problem is None:
            return ResumePoint(folder, tuple(skipped))
        skipped.append((folder, problem))
    if skipped:
        reasons = "; ".join(f"{folder.name}: {problem}" for folder, problem in skipped)
        raise ResumeError(
            f"--resume: no complete checkpoint in {output_dir} ({reasons}); the folders are left as "
            "they are. Move them away to start from scratch, or pass another --output-dir."
        )
    return ResumePoint(None)


def checkpoint_problem(folder: Path) -> str | None:
    """Why `folder` cannot be resumed from (the first problem found), or None when it is complete."""
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "no trainer_state.json"
    try:
        if not isinstance(json.loads(state.read_text(encoding="utf-8")), dict):
            return "trainer_state.json is not a JSON object"
    except (OSError, ValueError) as error:
        return f"trainer_state.json is not readable JSON ({error})"
    problem = _weights_problem(folder)
    if problem is not None:
        return problem
    missing = [name for name in TRAINER_FILES if not (folder / name).is_file()]
    return f"no {' or '.join(missing)} (optimizer and scheduler state)" if missing else None


def _weights_problem(folder: Path) -> str | None:
    files = [folder / name for name in SAFETENSORS_WEIGHTS if (folder / name).is_file()]
    if (folder / SHARD_INDEX).is_file():
        try:
            shards = set(json.loads((folder / SHARD_INDEX).read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            return f"{SHARD_INDEX} is not a readable shard index ({error})"
        files += [folder / name for name in sorted(shards)]
    if not files:
        present = any((folder / name).is_file() for name in OTHER_WEIGHTS)
        return None if present else f"no weights ({', '.join(SAFETENSORS_WEIGHTS)} or {SHARD_INDEX})"
    return next((problem for problem in map(_safetensors_problem, files) if problem is not None), None)


def _safetensors_problem(path: Path) -> str | None:
    """Why safetensors cannot open `path` (it checks the header and that the data covers every tensor)."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        return f"{path.name} is missing"
    try:
        with safe_open(str(path), framework="pt"):
            return None
    except (SafetensorError, OSError) as error:
        return f"{path.name} is unreadable, probably truncated ({error})"


__all__ = ["ResumeError", "ResumePoint", "checkpoint_problem", "find_resume_checkpoint"]
