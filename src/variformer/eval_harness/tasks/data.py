"""Where a task's rows come from: a local JSON-lines file (plain or .gz) or a Hugging Face Hub data set.

Rows keep where they came from (`Row.where`, e.g. "line 18 of /data/sst2.jsonl"), so every data error names
the file and line. Hub data sets are used only online: with HF_HUB_OFFLINE / HF_DATASETS_OFFLINE set, or when
the Hub does not answer within a few seconds, loading fails at once with a message saying what to do instead.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import DataError

PACKAGE_DATA = "data/eval"
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
HUB_TIMEOUT_S = 10.0


def packaged(relative: str) -> str:
    """Absolute path of a data slice shipped inside the package, `variformer/data/eval/<relative>`."""
    return str(resources.files("variformer").joinpath(PACKAGE_DATA, relative))


@dataclass(frozen=True)
class Row:
    """One data record: its 0-based position, its fields, and where it was read (for error messages)."""

    index: int
    data: dict
    where: str


@dataclass(frozen=True)
class DataSource:
    """Exactly one of `path` (JSON lines, optionally gzip-compressed, or a .json array) or `hub_id` (with
    optional `hub_config`, `split`, `revision`)."""

    path: str | None = None
    hub_id: str | None = None
    hub_config: str | None = None
    split: str = "validation"
    revision: str | None = None

    def __post_init__(self):
        if (self.path is None) == (self.hub_id is None):
            raise DataError(
                f"a DataSource needs exactly one of path or hub_id, got path={self.path!r}, hub_id={self.hub_id!r}"
            )
        if self.path is not None:
            object.__setattr__(self, "path", str(self.path))

    @property
    def label(self) -> str:
        if self.path is not None:
            return self.path
        return f"hub:{self.hub_id}" + (f"/{self.hub_config}" if self.hub_config else "") + f"[{self.split}]"

    def load(self) -> list[Row]:
        """All rows, in file order. Raises DataError naming the file and line of anything unreadable.
        Files are read once per process while they stay unchanged (same size and modification time)."""
        stamp = None
        if self.path is not None:
            try:
                status = os.stat(self.path)
                stamp = (status.st_size, status.st_mtime_ns)
            except OSError:
                pass
        return list(_load_cached(self, stamp))

    def to_json(self) -> dict:
        if self.path is not None:
            return {"path": self.path, "sha256": file_sha256(self.path)}
        return {"hub_id": self.hub_id, "hub_config": self.hub_config, "split": self.split, "revision": self.revision}


@lru_cache(maxsize=32)
def _load_cached(source: DataSource, stamp) -> tuple[Row, ...]:
    rows = _read_file(Path(source.path)) if source.path is not None else _read_hub(source)
    return tuple(rows)


def file_sha256(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _read_file(path: Path) -> list[Row]:
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    try:
        with _open_text(path) as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read data file {path}: {error}") from error
    if path.suffix == ".json" and text.lstrip().startswith("["):
        return _rows_from_array(path, text)
    rows = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {line_number} of {path}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: invalid JSON ({error.msg} at column {error.colno})") from error
        rows.append(_checked_row(len(rows), data, where))
    return rows


def _rows_from_array(path: Path, text: str) -> list[Row]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: invalid JSON ({error.msg} at line {error.lineno})") from error
    return [_checked_row(i, item, f"item {i} of {path}") for i, item in enumerate(items)]


def _checked_row(index: int, data: Any, where: str) -> Row:
    if not isinstance(data, dict):
        raise DataError(f"{where}: expected a JSON object per row, got {type(data).__name__}")
    return Row(index, data, where)


def hub_offline() -> bool:
    return any(os.environ.get(name, "").upper() in ("1", "ON", "YES", "TRUE") for name in OFFLINE_VARIABLES)


def _read_hub(source: DataSource) -> list[Row]:
    advice = (
        "point the task at a local JSON-lines file instead (`--task-data TASK=PATH` on the command line, "
        "or `task.with_data(path)` in Python)"
    )
    if hub_offline():
        raise DataError(
            f"cannot load Hub data set {source.hub_id!r}: offline mode is on ({'/'.join(OFFLINE_VARIABLES)}); {advice}"
        )
    from huggingface_hub import HfApi

    try:
        HfApi().dataset_info(source.hub_id, revision=source.revision, timeout=HUB_TIMEOUT_S)
    except Exception as error:  # unreachable host, timeout, unknown repo: all end the same way
        raise DataError(
            f"cannot reach Hub data set {source.hub_id!r} ({type(error).__name__}: {error}); {advice}"
        ) from error
    import datasets

    dataset = datasets.load_dataset(source.hub_id, source.hub_config, split=source.split, revision=source.revision)
    label = source.label
    return [_checked_row(i, dict(item), f"row {i} of {label}") for i, item in enumerate(dataset)]


__all__ = ["DataSource", "Row", "packaged", "file_sha256", "hub_offline"]
