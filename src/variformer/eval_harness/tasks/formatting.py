"""Row functions: small frozen callables that read a task's fields from a row, so tasks stay declarative.

A task's `prompt`, `target`, `choices`, ... are functions of the row (a dict). Write any Python function, or use
these, which YAML task files map to and which the results JSON can describe (the functions a YAML file may name
otherwise are in `functions.py`):

- `FieldText("sentence", prefix="Review: ", suffix="\\nSentiment:")`: a text field with fixed text around it;
- `FieldValue("label")`: a field's value as is (dots reach into nested objects: "mc1_targets.labels");
- `FixedChoices(("negative", "positive"))`: the same answer choices (label verbalizers) for every row;
- `FieldChoices("answers")`: per-row answer choices from a list field;
- `FieldPair("premise", "hypothesis")`: two text fields, the two segments of a classifier input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import DataError, TaskDefinitionError

RowFunction = Callable[[Mapping[str, Any]], Any]
_MISSING = object()


def get_field(row: Mapping, path: str) -> Any:
    """`row[path]`, following dots into nested objects; raises KeyError naming the missing part."""
    value: Any = row
    for part in path.split("."):
        value = value.get(part, _MISSING) if isinstance(value, Mapping) else _MISSING
        if value is _MISSING:
            raise KeyError(path)
    return value


def _text(row: Mapping, field: str) -> str:
    value = get_field(row, field)
    if not isinstance(value, str):
        raise DataError(f"field {field!r} must be a string, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class FieldText:
    field: str
    prefix: str = ""
    suffix: str = ""

    def __call__(self, row: Mapping) -> str:
        return self.prefix + _text(row, self.field) + self.suffix

    def to_json(self) -> dict:
        return {"type": "FieldText", **asdict(self)}


@dataclass(frozen=True)
class FieldValue:
    field: str

    def __call__(self, row: Mapping) -> Any:
        return get_field(row, self.field)

    def to_json(self) -> dict:
        return {"type": "FieldValue", **asdict(self)}


@dataclass(frozen=True)
class FixedChoices:
    choices: tuple[str, ...]

    def __post_init__(self):
        object.__setattr__(self, "choices", tuple(self.choices))
        if len(self.choices) < 2 or not all(isinstance(c, str) for c in self.choices):
            raise TaskDefinitionError(f"FixedChoices needs at least two strings, got {self.choices!r}")

    def __call__(self, row: Mapping) -> tuple[str, ...]:
        return self.choices

    def to_json(self) -> dict:
        return {"type": "FixedChoices", "choices": list(self.choices)}


@dataclass(frozen=True)
class FieldChoices:
    field: str

    def __call__(self, row: Mapping) -> list[str]:
        value = get_field(row, self.field)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise DataError(f"field {self.field!r} must be a list of strings")
        return value

    def to_json(self) -> dict:
        return {"type": "FieldChoices", **asdict(self)}


@dataclass(frozen=True)
class FieldPair:
    first: str
    second: str

    def __call__(self, row: Mapping) -> tuple[str, str]:
        return _text(row, self.first), _text(row, self.second)

    def to_json(self) -> dict:
        return {"type": "FieldPair", **asdict(self)}


def describe_function(function: Any) -> Any:
    """JSON description of a row function (its fields, or 'module:qualname' for plain functions)."""
    if function is None:
        return None
    if hasattr(function, "to_json"):
        return function.to_json()
    module = getattr(function, "__module__", "?")
    return f"{module}:{getattr(function, '__qualname__', type(function).__name__)}"


def fields_used(function: Any) -> tuple[str, ...]:
    """Top-level row fields a field-based row function reads (empty for plain functions)."""
    names = [getattr(function, attr, None) for attr in ("field", "first", "second")]
    return tuple(name.split(".")[0] for name in names if isinstance(name, str))


__all__ = [
    "RowFunction",
    "get_field",
    "FieldText",
    "FieldValue",
    "FixedChoices",
    "FieldChoices",
    "FieldPair",
    "describe_function",
    "fields_used",
]
