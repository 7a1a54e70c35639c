"""`Task`: one frozen dataclass says everything about a task (data, fields, prompt, target, scoring, metrics,
generation settings); `Task.build_samples` turns data rows into validated `Sample`s with their prompts."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import DataError, TaskDefinitionError
from ..metrics import MetricDef, get_metric
from ..records import GenerationSettings, Outcome
from .data import DataSource, Row
from .formatting import FixedChoices, RowFunction, describe_function, fields_used
from .scoring import ScoringMode, get_mode

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


@dataclass(frozen=True)
class FewShot:
    """`num` solved examples put before each prompt, drawn with `seed` from `source` (default: the task's own
    rows, never the row being asked), joined by `separator`."""

    num: int = 0
    seed: int = 1234
    source: DataSource | None = None
    separator: str = "\n\n"

    def __post_init__(self):
        if not isinstance(self.num, int) or self.num < 0:
            raise TaskDefinitionError(f"FewShot.num must be a non-negative int, got {self.num!r}")

    def to_json(self) -> dict:
        return {
            "num": self.num,
            "seed": self.seed,
            "separator": self.separator,
            "source": self.source.to_json() if self.source else None,
        }


@dataclass(frozen=True)
class PromptFormat:
    """Another way to write a task's prompt (FormatSpread's space: field names, separators, casing, answer
    prefix), scored beside the task's own to measure the prompt spread. `prompt` replaces the task's `prompt`;
    `seq2seq_prompt`, when given, its `seq2seq_prompt` (a format without one does not apply to encoder-decoder
    models of a task that has its own `seq2seq_prompt`)."""

    name: str
    prompt: RowFunction
    seq2seq_prompt: RowFunction | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name) or self.name == "default":
            raise TaskDefinitionError(
                f"PromptFormat name must be lowercase letters, digits, '_', '-', '.' and not 'default', "
                f"got {self.name!r}"
            )


@dataclass(frozen=True)
class Sample:
    """One validated row, ready for a scoring mode: the full context (few-shot examples + prompt), the target
    (an index into `choices` for choice tasks, a list of reference strings for generation tasks, else as the
    task's `target` returned it) and the classifier-head input."""

    task: str
    index: int
    id: str
    row: Mapping[str, Any]
    where: str
    context: str
    target: Any
    choices: tuple[str, ...] | None
    classifier_input: tuple[str, str | None]


@dataclass(frozen=True)
class Task:
    """A task, registered by `name`. See the package docstring of `variformer.eval_harness.tasks` for a guide.

    name, version: identity, recorded in every result (bump `version` when prompts or scoring change).
    data: where the rows come from (`DataSource(path=...)` or `DataSource(hub_id=...)`).
    fields: row fields that must be present and not null (fields read by FieldText/FieldValue/... are added).
    prompt: row -> context text for language models (decoder-only; also seq2seq unless `seq2seq_prompt`).
    target: row -> reference: a label index / choice string (choice tasks), a string or list of strings
        (generation tasks), or anything `process_results` understands.
    scoring: scoring modes in order of preference ("classifier_head", "multiple_choice", "generation" or
        `ScoringMode` objects); the runner uses the first one the model can serve.
    metrics: metric names ("accuracy", "macro_f1", "mcc", "bleu", "chrf", "rouge1", ...) or `MetricDef`s, e.g.
        `mean_of("mc2")` to average a per-sample score returned by `process_results`.
    choices: row -> answer continuations / label verbalizers (needed by "multiple_choice"; label names for
        "classifier_head"). A tuple of strings means the same choices for every row.
    seq2seq_prompt: row -> encoder input for encoder-decoder models (default: `prompt`).
    classifier_input: row -> text or (text, text_pair) for classifier heads (default: `prompt`).
    target_delimiter: put between the context and each continuation / few-shot answer.
    description: text put before the few-shot examples and the prompt.
    few_shot: few-shot settings (`FewShot`).
    generation: generation settings (`GenerationSettings`) for the "generation" mode.
    process_results: (row, responses) -> `Outcome`, replacing the mode's default scoring; responses are the
        adapter's answers to the mode's requests (one `LoglikelihoodResult` per choice for "multiple_choice",
        one string for "generation", one `ClassificationResult` for "classifier_head").
    id_field: field holding the row id (rows without it, and tasks without id_field, use the row's position).
    group: report section the task belongs to ("" = main results; e.g. "hallucination").
    formats: other ways to write the prompt (`PromptFormat`s), each scored beside the task's own ("default") to
        report the prompt spread; built-in tasks ship at least three.
    input_fields: the row fields robustness perturbations rewrite (default: the fields the prompt functions
        read through FieldText / FieldPair and the target and choices do not; see `perturbed_fields`).
    """

    name: str
    version: str
    data: DataSource
    fields: tuple[str, ...]
    prompt: RowFunction
    target: RowFunction
    scoring: tuple[ScoringMode, ...]
    metrics: tuple[MetricDef, ...]
    choices: RowFunction | None = None
    seq2seq_prompt: RowFunction | None = None
    classifier_input: RowFunction | None = None
    target_delimiter: str = " "
    description: str = ""
    few_shot: FewShot = field(default_factory=FewShot)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    process_results: Callable[[Mapping[str, Any], list], Outcome] | None = None
    id_field: str | None = None
    group: str = ""
    input_fields: tuple[str, ...] | None = None
    formats: tuple[PromptFormat, ...] = ()

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise TaskDefinitionError(f"task name must be lowercase letters, digits, '_', '-', '.', got {self.name!r}")
        where = f"task {self.name!r}"
        set_("version", str(self.version))
        if not isinstance(self.data, DataSource):
            raise TaskDefinitionError(f"{where}: data must be a DataSource, got {type(self.data).__name__}")
        if isinstance(self.choices, (list, tuple)):
            set_("choices", FixedChoices(tuple(self.choices)))
        if isinstance(self.few_shot, Mapping):
            set_("few_shot", FewShot(**self.few_shot))
        if isinstance(self.generation, Mapping):
            set_("generation", GenerationSettings(**self.generation))
        set_("scoring", tuple(get_mode(m, where) for m in _as_tuple(self.scoring)))
        set_("metrics", tuple(m if isinstance(m, MetricDef) else _metric(m, where) for m in _as_tuple(self.metrics)))
        functions = (self.prompt, self.target, self.choices, self.seq2seq_prompt, self.classifier_input)
        derived = [name for function in functions for name in fields_used(function)]
        set_("fields", tuple(dict.fromkeys([*_as_tuple(self.fields), *derived])))
        set_("formats", tuple(_as_tuple(self.formats)))
        if not all(isinstance(f, PromptFormat) for f in self.formats):
            raise TaskDefinitionError(f"{where}: formats must be PromptFormat objects, got {self.formats!r}")
        if len({f.name for f in self.formats}) != len(self.formats):
            raise TaskDefinitionError(f"{where}: format names repeat: {[f.name for f in self.formats]}")
        if self.input_fields is not None:
            set_("input_fields", tuple(_as_tuple(self.input_fields)))
            if not all(isinstance(name, str) and name for name in self.input_fields):
                raise TaskDefinitionError(f"{where}: input_fields must be field names, got {self.input_fields!r}")
        self._validate(where)

    def _validate(self, where: str) -> None:
        for name in ("prompt", "target"):
            if not callable(getattr(self, name)):
                raise TaskDefinitionError(f"{where}: {name} must be a function of the row")
        if not self.scoring:
            raise TaskDefinitionError(f"{where}: scoring needs at least one mode")
        if not self.metrics:
            raise TaskDefinitionError(f"{where}: metrics needs at least one metric")
        for mode in self.scoring:
            mode.check_task(self, where)
        if self.process_results is None:
            kinds = {mode.prediction_type for mode in self.scoring}
            for metric in self.metrics:
                if metric.inputs == "scores" or metric.inputs not in kinds:
                    raise TaskDefinitionError(
                        f"{where}: metric {metric.name!r} needs {metric.inputs} but scoring "
                        f"{[m.name for m in self.scoring]} predicts {sorted(kinds)}; pick matching metrics "
                        "or give process_results"
                    )
        if len({metric.name for metric in self.metrics}) != len(self.metrics):
            raise TaskDefinitionError(f"{where}: metric names repeat")

    # -- convenience -------------------------------------------------------------------------------------------
    def with_format(self, name: str, seq2seq: bool) -> Task | None:
        """The task with format `name`'s prompt in place of its own ("default": the task itself), or None when the
        format does not apply (an encoder-decoder model and a format without a seq2seq prompt, where the task has
        its own)."""
        if name == "default":
            return self
        fmt = next(f for f in self.formats if f.name == name)
        if seq2seq and self.seq2seq_prompt is not None and fmt.seq2seq_prompt is None:
            return None
        return replace(self, prompt=fmt.prompt, seq2seq_prompt=fmt.seq2seq_prompt or self.seq2seq_prompt)

    @property
    def perturbed_fields(self) -> tuple[str, ...]:
        """The row fields robustness perturbations rewrite: `input_fields` when given, else the fields the prompt
        functions read that the target and the choices do not (empty when the prompt is an opaque function)."""
        if self.input_fields is not None:
            return self.input_fields
        inputs = [name for f in (self.prompt, self.seq2seq_prompt, self.classifier_input) for name in fields_used(f)]
        answers = {name for f in (self.target, self.choices) for name in fields_used(f)}
        return tuple(dict.fromkeys(name for name in inputs if name not in answers))

    def with_data(self, path: str) -> Task:
        """The same task reading its rows from the JSON-lines file `path`."""
        return replace(self, data=DataSource(path=str(path)))

    def to_json(self) -> dict:
        """The task spec as recorded in the results JSON."""
        return {
            "name": self.name,
            "version": self.version,
            "data": self.data.to_json(),
            "fields": list(self.fields),
            "prompt": describe_function(self.prompt),
            "seq2seq_prompt": describe_function(self.seq2seq_prompt),
            "classifier_input": describe_function(self.classifier_input),
            "target": describe_function(self.target),
            "choices": describe_function(self.choices),
            "target_delimiter": self.target_delimiter,
            "description": self.description,
            "scoring": [mode.to_json() for mode in self.scoring],
            "metrics": [metric.to_json() for metric in self.metrics],
            "few_shot": self.few_shot.to_json(),
            "generation": {
                "max_new_tokens": self.generation.max_new_tokens,
                "num_beams": self.generation.num_beams,
                "stop": list(self.generation.stop),
            },
            "process_results": describe_function(self.process_results),
            "id_field": self.id_field,
            "group": self.group,
        }

    # -- samples -----------------------------------------------------------------------------------------------
    def build_samples(
        self,
        rows: Sequence[Row],
        *,
        seq2seq: bool,
        seed: int,
        limit: int | None = None,
        normalize_target: str | None = None,
        perturb: Callable[[Row], Mapping[str, Any]] | None = None,
    ) -> list[Sample]:
        """Validate the first `limit` rows and build their samples (few-shot examples drawn with a seed that
        depends on `seed`, the task and the row only, so sharding and --limit never change a prompt).

        `normalize_target`: "labels" (index into choices) or "texts" (list of references) or None (as is).
        `perturb`: row -> the row data the prompt and classifier input are rendered from (robustness); the target,
        the choices and the few-shot examples always come from the rows as given.
        Raises DataError naming the task, the row and the field at the first bad row.
        """
        selected = list(rows if limit is None else rows[:limit])
        pool = self._few_shot_pool(rows)
        prompt = (self.seq2seq_prompt or self.prompt) if seq2seq else self.prompt
        return [self._sample(row, prompt, pool, seed, normalize_target, perturb) for row in selected]

    def _few_shot_pool(self, rows: Sequence[Row]) -> Sequence[Row]:
        if self.few_shot.num == 0:
            return ()
        pool = self.few_shot.source.load() if self.few_shot.source is not None else rows
        if len(pool) <= self.few_shot.num:
            raise DataError(
                f"task {self.name!r}: few-shot pool {self.few_shot.source or self.data.label} has "
                f"{len(pool)} rows, fewer than needed for {self.few_shot.num} examples plus the row"
            )
        return pool

    def _sample(
        self, row: Row, prompt: RowFunction, pool: Sequence[Row], seed: int, normalize: str | None, perturb=None
    ) -> Sample:
        self.check_row(row)
        with self._row_errors(row):
            shown = perturb(row) if perturb is not None else row.data
            text = _string(prompt(shown), "prompt")
            target = self.target(row.data)
            choices = tuple(self.choices(row.data)) if self.choices is not None else None
            target = _normalize_target(target, choices, normalize)
            classifier_input = _classifier_input((self.classifier_input or self.prompt)(shown))
            sample_id = str(row.data.get(self.id_field, row.index)) if self.id_field else str(row.index)
        examples = [self._example_text(example, prompt) for example in self._draw(row, pool, seed)]
        parts = ([self.description] if self.description else []) + examples + [text]
        return Sample(
            self.name,
            row.index,
            sample_id,
            row.data,
            row.where,
            self.few_shot.separator.join(parts),
            target,
            choices,
            classifier_input,
        )

    def check_row(self, row: Row) -> None:
        for name in self.fields:
            if name not in row.data:
                raise DataError(
                    f"task {self.name!r}: {row.where} (row {row.index}) is missing field {name!r}; "
                    f"the row has fields {sorted(row.data)}"
                )
            if row.data[name] is None:
                raise DataError(f"task {self.name!r}: {row.where} (row {row.index}) has field {name!r} = null")

    def _row_errors(self, row: Row):
        return _RowErrors(self.name, row)

    def _draw(self, row: Row, pool: Sequence[Row], seed: int) -> list[Row]:
        if not pool:
            return []
        rng = random.Random(f"{seed}/{self.few_shot.seed}/{self.name}/{row.index}")
        own_pool = self.few_shot.source is None
        candidates = [i for i in range(len(pool)) if not (own_pool and pool[i].index == row.index)]
        return [pool[i] for i in rng.sample(candidates, self.few_shot.num)]

    def _example_text(self, example: Row, prompt: RowFunction) -> str:
        self.check_row(example)
        with self._row_errors(example):
            target = self.target(example.data)
            choices = tuple(self.choices(example.data)) if self.choices is not None else None
            if choices is not None:
                answer = choices[_normalize_target(target, choices, "labels")]
            else:
                answer = _normalize_target(target, None, "texts")[0]
            return _string(prompt(example.data), "prompt") + self.target_delimiter + answer


class _RowErrors:
    """Re-raise errors of row functions as DataError naming the task, row and field."""

    def __init__(self, task: str, row: Row):
        self.task, self.row = task, row

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or isinstance(error, TaskDefinitionError):
            return False
        detail = f"is missing field {error.args[0]!r}" if isinstance(error, KeyError) else f"{error}"
        raise DataError(f"task {self.task!r}: {self.row.where} (row {self.row.index}) {detail}") from error


def _as_tuple(value) -> tuple:
    if isinstance(value, (str, MetricDef, ScoringMode)) or not isinstance(value, Sequence):
        return (value,)
    return tuple(value)


def _metric(name, where: str) -> MetricDef:
    try:
        return get_metric(name)
    except TaskDefinitionError as error:
        raise TaskDefinitionError(f"{where}: {error}") from None


def _string(value, what: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"{what} must be a string, got {type(value).__name__}")
    return value


def _normalize_target(target, choices: tuple[str, ...] | None, mode: str | None):
    if mode == "labels":
        if choices is None:
            raise DataError("a label target needs choices")
        if isinstance(target, str) and target in choices:
            return choices.index(target)
        if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < len(choices):
            raise DataError(
                f"target {target!r} is not a choice index in [0, {len(choices)}) nor one of {list(choices)}"
            )
        return target
    if mode == "texts":
        refs = [target] if isinstance(target, str) else target
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            raise DataError(f"target must be a reference string or a non-empty list of strings, got {target!r}")
        return list(refs)
    return target


def _classifier_input(value) -> tuple[str, str | None]:
    if isinstance(value, str):
        return value, None
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[0], value[1]
    raise DataError(f"classifier input must be a string or a pair of strings, got {value!r}")


__all__ = ["Task", "FewShot", "Sample"]
