"""Load a task from a YAML file into the same `Task` dataclass the built-in tasks use.

The YAML keys are the `Task` field names; unknown keys (at any level) are errors. There are no templates:
text comes from row fields with fixed text around them, or from a function the file names: a registered one
("sst2.prompt", "truthfulqa_mc2.process_results", ...) or "FILE:FUNCTION" from FILE.py beside the YAML file, which
runs that file and so needs `allow_code=True` (`--allow-task-code`). No other module is ever imported (see
`functions.py`).

```yaml
name: my_sentiment
version: "1"
data: {path: reviews.jsonl}            # relative to this file; or {hub_id: ..., hub_config: ..., split: ...}
prompt: {field: text, suffix: "\\nSentiment:"}   # or "utils:review_prompt" (utils.py beside this file)
classifier_input: {field: text}          # or {fields: [premise, hypothesis]}
target: {field: label}
choices: [negative, positive]            # or {field: answers}
scoring: [classifier_head, {mode: multiple_choice, normalization: chars}]
metrics: [accuracy, macro_f1, {mean: my_score, higher_is_better: true}]
few_shot: {num: 2, seed: 1234}
generation: {max_new_tokens: 32, stop: ["\\n"]}
```
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from ..._yaml import YamlFileError, load_yaml_file
from ..errors import TaskDefinitionError
from ..metrics import mean_of
from ..records import GenerationSettings
from .data import DataSource
from .formatting import FieldChoices, FieldPair, FieldText, FieldValue, FixedChoices
from .functions import task_function
from .task import FewShot, Task

TASK_KEYS = (
    "name",
    "version",
    "data",
    "fields",
    "prompt",
    "target",
    "scoring",
    "metrics",
    "choices",
    "seq2seq_prompt",
    "classifier_input",
    "target_delimiter",
    "description",
    "few_shot",
    "generation",
    "process_results",
    "id_field",
    "group",
    "input_fields",
)
REQUIRED_KEYS = ("name", "version", "data", "prompt", "target", "scoring", "metrics")


def load_task_yaml(path: str | Path, *, allow_code: bool = False) -> Task:
    """The `Task` described by the YAML file at `path`; `allow_code` lets it use functions from .py files beside
    it."""
    path = Path(path)
    try:
        spec = load_yaml_file(path)
    except YamlFileError as error:
        raise TaskDefinitionError(f"task file {error}") from None
    return task_from_dict(spec, where=str(path), base_dir=path.parent, allow_code=allow_code)


def task_from_dict(
    spec: Any, where: str = "task spec", base_dir: Path | None = None, *, allow_code: bool = False
) -> Task:
    """The `Task` described by a mapping with YAML-style values (see the module docstring); functions in .py
    files of `base_dir` only with `allow_code`."""
    _check_keys(spec, TASK_KEYS, where, required=REQUIRED_KEYS)
    where = f"{where} (task {spec['name']!r})"
    function = partial(task_function, base_dir=base_dir, allow_code=allow_code)
    kwargs = dict(spec)
    kwargs["data"] = _data(spec["data"], f"{where}: data", base_dir)
    kwargs["fields"] = tuple(spec.get("fields") or ())
    for key in ("prompt", "seq2seq_prompt"):
        if key in spec:
            kwargs[key] = _text_function(spec[key], f"{where}: {key}", function)
    kwargs["target"] = _value_function(spec["target"], f"{where}: target", function)
    if "choices" in spec:
        kwargs["choices"] = _choices(spec["choices"], f"{where}: choices", function)
    if "classifier_input" in spec:
        kwargs["classifier_input"] = _classifier_input(spec["classifier_input"], f"{where}: classifier_input", function)
    kwargs["metrics"] = tuple(_metric(item, f"{where}: metrics") for item in _listify(spec["metrics"]))
    kwargs["scoring"] = tuple(_listify(spec["scoring"]))
    if "few_shot" in spec:
        kwargs["few_shot"] = _few_shot(spec["few_shot"], f"{where}: few_shot", base_dir)
    if "generation" in spec:
        _check_keys(spec["generation"], ("max_new_tokens", "num_beams", "stop"), f"{where}: generation")
        kwargs["generation"] = _build(GenerationSettings, spec["generation"], f"{where}: generation")
    if "process_results" in spec:
        key = f"{where}: process_results"
        kwargs["process_results"] = function(_string(spec["process_results"], key), key)
    return _build(Task, kwargs, where)


def _build(cls, kwargs: Mapping, where: str):
    try:
        return cls(**kwargs)
    except TaskDefinitionError:
        raise
    except (TypeError, ValueError) as error:
        raise TaskDefinitionError(f"{where}: {error}") from error


def _check_keys(spec: Any, allowed: tuple[str, ...], where: str, required: tuple[str, ...] = ()) -> None:
    if not isinstance(spec, Mapping):
        raise TaskDefinitionError(f"{where}: expected a mapping, got {type(spec).__name__}")
    unknown = [key for key in spec if key not in allowed]
    if unknown:
        raise TaskDefinitionError(f"{where}: unknown key(s) {unknown}; allowed keys: {', '.join(allowed)}")
    missing = [key for key in required if key not in spec]
    if missing:
        raise TaskDefinitionError(f"{where}: missing required key(s) {missing}")


def _listify(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _string(value, where: str) -> str:
    if not isinstance(value, str):
        raise TaskDefinitionError(f"{where}: expected a string, got {value!r}")
    return value


def _data(spec, where: str, base_dir: Path | None) -> DataSource:
    _check_keys(spec, ("path", "hub_id", "hub_config", "split", "revision"), where)
    spec = dict(spec)
    if spec.get("path") is not None and base_dir is not None and not Path(spec["path"]).is_absolute():
        spec["path"] = str(base_dir / spec["path"])
    return _build(DataSource, spec, where)


FunctionLookup = Callable[[str, str], Callable]  # (spec, where) -> the named function


def _text_function(spec, where: str, function: FunctionLookup):
    if isinstance(spec, str):
        return function(spec, where)
    _check_keys(spec, ("field", "prefix", "suffix"), where, required=("field",))
    return _build(FieldText, spec, where)


def _value_function(spec, where: str, function: FunctionLookup):
    if isinstance(spec, str):
        return function(spec, where)
    _check_keys(spec, ("field",), where, required=("field",))
    return FieldValue(_string(spec["field"], where))


def _choices(spec, where: str, function: FunctionLookup):
    if isinstance(spec, list):
        return _build(FixedChoices, {"choices": tuple(spec)}, where)
    if isinstance(spec, str):
        return function(spec, where)
    _check_keys(spec, ("field",), where, required=("field",))
    return FieldChoices(_string(spec["field"], where))


def _classifier_input(spec, where: str, function: FunctionLookup):
    if isinstance(spec, str):
        return function(spec, where)
    _check_keys(spec, ("field", "fields"), where)
    if "fields" in spec:
        fields = spec["fields"]
        if not isinstance(fields, list) or len(fields) != 2:
            raise TaskDefinitionError(f"{where}: fields must list exactly two field names")
        return FieldPair(*fields)
    if "field" not in spec:
        raise TaskDefinitionError(f"{where}: give field or fields")
    return FieldText(_string(spec["field"], where))


def _metric(spec, where: str):
    if isinstance(spec, str):
        return spec
    _check_keys(spec, ("mean", "higher_is_better"), where, required=("mean",))
    return mean_of(_string(spec["mean"], where), bool(spec.get("higher_is_better", True)))


def _few_shot(spec, where: str, base_dir: Path | None) -> FewShot:
    _check_keys(spec, ("num", "seed", "source", "separator"), where)
    spec = dict(spec)
    if "source" in spec and spec["source"] is not None:
        spec["source"] = _data(spec["source"], f"{where}: source", base_dir)
    return _build(FewShot, spec, where)


__all__ = ["load_task_yaml", "task_from_dict", "TASK_KEYS"]
