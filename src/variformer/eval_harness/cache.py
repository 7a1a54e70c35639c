"""Per-request cache, so an interrupted run resumes without recomputing anything it already has.

Responses are appended to JSON-lines files in `<cache_dir>/<model fingerprint>/`, one file per process
(`rank-<r>.jsonl`), and flushed after each chunk; a line is {"key": request key, "kind": ..., "response": ...}.
A run reads every file of its fingerprint, so results from any earlier run (any number of processes) are reused.
A line cut short by a kill is ignored, and the file is rewritten without it (see `RequestCache.load`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from .records import Response, response_from_json, response_to_json
from .results import atomic_write_bytes

logger = logging.getLogger(__name__)


class RequestCache:
    def __init__(self, directory: str | Path, fingerprint: str, rank: int = 0):
        self.directory = Path(directory) / fingerprint[:32]
        self.rank = rank
        self._entries: dict[str, Response] = {}

    @property
    def path(self) -> Path:
        return self.directory / f"rank-{self.rank}.jsonl"

    def load(self) -> dict[str, Response]:
        """Read every cache file of this fingerprint; returns key -> response. A file with unreadable lines (a
        write cut short by a kill) is rewritten once without them (atomically, by the main process), so later runs
        neither warn again nor append after a broken line."""
        self._entries = {}
        for file in sorted(self.directory.glob("rank-*.jsonl")) if self.directory.is_dir() else []:
            kept, dropped = self._read(file)
            if dropped:
                rewrite = self.rank == 0
                logger.warning(
                    "cache file %s: ignored unreadable line(s) %s (interrupted write?)%s",
                    file,
                    ", ".join(map(str, dropped)),
                    "; rewrote the file without them" if rewrite else "",
                )
                if rewrite:
                    atomic_write_bytes(file, b"".join(kept))
        return dict(self._entries)

    def _read(self, file: Path) -> tuple[list[bytes], list[int]]:
        """(readable lines, as bytes ending in a newline; numbers of the unreadable lines), adding entries."""
        kept, dropped = [], []
        for number, line in enumerate(file.read_bytes().splitlines(keepends=True), start=1):
            try:
                entry = json.loads(line)
                self._entries[entry["key"]] = response_from_json(entry["kind"], entry["response"])
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
                if line.strip():
                    dropped.append(number)
                continue
            kept.append(line if line.endswith(b"\n") else line + b"\n")
        return kept, dropped

    def add(self, items: Iterable[tuple[str, str, Response]]) -> None:
        """Append (key, kind, response) entries and flush them to disk."""
        lines = [
            json.dumps({"key": key, "kind": kind, "response": response_to_json(response)}, ensure_ascii=False)
            for key, kind, response in items
        ]
        if not lines:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            if handle.tell() > 0 and not self._ends_with_newline():
                handle.write(b"\n")  # a previous run died mid-line: start a fresh line
            handle.write(("\n".join(lines) + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"


__all__ = ["RequestCache"]
