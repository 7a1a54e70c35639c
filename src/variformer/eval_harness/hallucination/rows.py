"""Validation of probe data rows: every error names the data source, the row and the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import DataError


class MalformedRowError(DataError):
    """A data row lacks a field or holds a value of the wrong shape (the harness's `DataError`)."""

    def __init__(self, source: str, row: int, field: str, problem: str):
        self.source, self.row, self.field, self.problem = source, row, field, problem
        super().__init__(f"{source}: row {row}: field {field!r}: {problem}")


def require_mapping(row: Any, source: str, index: int) -> Mapping:
    if not isinstance(row, Mapping):
        raise MalformedRowError(source, index, "<row>", f"expected a JSON object, got {type(row).__name__}")
    return row


def require_str(row: Mapping, field: str, source: str, index: int, *, allow_empty: bool = False) -> str:
    """`row[field]` as a string; missing, non-string or (unless allowed) blank values raise."""
    if field not in row:
        raise MalformedRowError(source, index, field, f"missing (row has {sorted(row)})")
    value = row[field]
    if not isinstance(value, str):
        raise MalformedRowError(source, index, field, f"expected a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise MalformedRowError(source, index, field, "is empty")
    return value


def require_str_list(row: Mapping, field: str, source: str, index: int, *, min_len: int = 1) -> list[str]:
    """`row[field]` as a list of non-empty strings with at least `min_len` items."""
    if field not in row:
        raise MalformedRowError(source, index, field, f"missing (row has {sorted(row)})")
    value = row[field]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MalformedRowError(source, index, field, "expected a list of strings")
    value = [item for item in value if item.strip()]
    if len(value) < min_len:
        raise MalformedRowError(source, index, field, f"needs at least {min_len} non-empty item(s), got {len(value)}")
    return value


def first_present(row: Mapping, fields: tuple[str, ...], source: str, index: int) -> str:
    """The name of the first of `fields` present in `row` (for files that spell a field several ways)."""
    for field in fields:
        if field in row:
            return field
    raise MalformedRowError(source, index, " or ".join(fields), f"missing (row has {sorted(row)})")


def row_id(row: Mapping, index: int) -> str:
    """The row's own id (`id` or HaluEval's `ID`) when it has one, else its 0-based position."""
    for field in ("id", "ID"):
        if field in row and row[field] is not None:
            return str(row[field])
    return str(index)
