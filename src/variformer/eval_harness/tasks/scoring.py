"""Scoring modes: how a task asks a model and reads its answers. One class per output type.

- `ClassifierHead`: one `ClassificationRequest` per sample; the prediction is the label with the highest
  probability (model labels are matched to the task's choices by name, else by position).
- `MultipleChoice`: one `LoglikelihoodRequest` per answer choice (context + delimiter + choice); the prediction
  is the index of the highest (optionally length-normalized) log-likelihood.
- `Generation`: one `GenerationRequest`; the prediction is the generated text, cut at the stop sequences.

A task lists modes in order of preference; the runner picks the first one the model adapter can serve, so SST-2
uses the classifier head of a sequence classifier and label log-likelihoods of a language model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from ..errors import CapabilityError, TaskDefinitionError
from ..records import (
    ClassificationRequest,
    ClassificationResult,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Outcome,
    Request,
)

if TYPE_CHECKING:
    from .task import Sample, Task


class ScoringMode:
    """Base class: `requests(task, sample)` -> requests; `score(task, sample, responses)` -> Outcome."""

    name: ClassVar[str]
    capability: ClassVar[str]  # what the adapter must support: "classify", "loglikelihood" or "generate"
    prediction_type: ClassVar[Literal["labels", "texts"]]

    def check_task(self, task: Task, where: str) -> None:
        """Raise TaskDefinitionError when `task` lacks what this mode needs."""

    def check_model(self, task: Task, adapter) -> None:
        """Raise CapabilityError when `adapter` cannot serve this mode for `task` (beyond its capability)."""

    def requests(self, task: Task, sample: Sample) -> list[Request]:
        raise NotImplementedError

    def score(self, task: Task, sample: Sample, responses: list) -> Outcome:
        raise NotImplementedError

    def to_json(self) -> dict:
        return {"mode": self.name}


@dataclass(frozen=True)
class ClassifierHead(ScoringMode):
    name: ClassVar[str] = "classifier_head"
    capability: ClassVar[str] = "classify"
    prediction_type: ClassVar[str] = "labels"

    def check_model(self, task: Task, adapter) -> None:
        from .formatting import FixedChoices

        if isinstance(task.choices, FixedChoices):  # per-row choices are matched per sample in score()
            label_order(task.choices.choices, adapter.labels, task.name, adapter.name)

    def requests(self, task: Task, sample: Sample) -> list[Request]:
        return [ClassificationRequest(*sample.classifier_input)]

    def score(self, task: Task, sample: Sample, responses: list) -> Outcome:
        result: ClassificationResult = responses[0]
        order = (
            label_order(sample.choices, result.labels, task.name, "the model")
            if sample.choices
            else list(range(len(result.labels)))
        )
        logprobs = [result.logprobs[i] for i in order]
        return Outcome(prediction=int(np.argmax(logprobs)), output={"label_logprobs": logprobs})


def label_order(choices, model_labels, task: str, model: str) -> list[int]:
    """For each task choice, the index of the model label serving it: by name (case-insensitive) when every
    choice names a model label, else by position when the counts agree."""
    lowered = [str(label).lower() for label in model_labels]
    if all(str(choice).strip().lower() in lowered for choice in choices):
        return [lowered.index(str(choice).strip().lower()) for choice in choices]
    if len(model_labels) == len(choices):
        return list(range(len(choices)))
    raise CapabilityError(
        f"task {task!r} has {len(choices)} labels {list(choices)} but {model} has {len(model_labels)} "
        f"({list(model_labels)}); name the model's labels after the task's (config.id2label) or use a model "
        "with the same number of labels"
    )


@dataclass(frozen=True)
class MultipleChoice(ScoringMode):
    """normalization: "none" (summed log-likelihood), "tokens" (per token) or "chars" (per character of the
    choice, lm-eval's acc_norm)."""

    normalization: Literal["none", "tokens", "chars"] = "none"
    name: ClassVar[str] = "multiple_choice"
    capability: ClassVar[str] = "loglikelihood"
    prediction_type: ClassVar[str] = "labels"

    def __post_init__(self):
        if self.normalization not in ("none", "tokens", "chars"):
            raise TaskDefinitionError(
                f"multiple_choice normalization must be none, tokens or chars, got {self.normalization!r}"
            )

    def check_task(self, task: Task, where: str) -> None:
        if task.choices is None:
            raise TaskDefinitionError(f"{where}: scoring mode 'multiple_choice' needs choices")

    def requests(self, task: Task, sample: Sample) -> list[Request]:
        return [LoglikelihoodRequest(sample.context, task.target_delimiter + choice) for choice in sample.choices]

    def normalized(self, sample: Sample, results: list[LoglikelihoodResult]) -> np.ndarray:
        """Each choice's log-likelihood after the normalization: what the prediction is the argmax of."""
        logprobs = np.array([r.logprob for r in results])
        if self.normalization == "tokens":
            return logprobs / np.array([max(r.num_tokens, 1) for r in results])
        if self.normalization == "chars":
            return logprobs / np.array([max(len(choice), 1) for choice in sample.choices])
        return logprobs

    def score(self, task: Task, sample: Sample, responses: list) -> Outcome:
        results: list[LoglikelihoodResult] = responses
        logprobs = self.normalized(sample, results)
        output = {
            "loglikelihoods": [r.logprob for r in results],
            "is_greedy": [r.is_greedy for r in results],
            "num_tokens": [r.num_tokens for r in results],
        }
        return Outcome(prediction=int(np.argmax(logprobs)), output=output)

    def to_json(self) -> dict:
        return {"mode": self.name, "normalization": self.normalization}


@dataclass(frozen=True)
class Generation(ScoringMode):
    name: ClassVar[str] = "generation"
    capability: ClassVar[str] = "generate"
    prediction_type: ClassVar[str] = "texts"

    def requests(self, task: Task, sample: Sample) -> list[Request]:
        return [GenerationRequest(sample.context, task.generation)]

    def score(self, task: Task, sample: Sample, responses: list) -> Outcome:
        (text,) = responses
        return Outcome(prediction=cut_at_stop(text, task.generation.stop).strip(), output=text)


def cut_at_stop(text: str, stop) -> str:
    """`text` up to the first occurrence of any stop sequence."""
    cut = len(text)
    for sequence in stop:
        position = text.find(sequence)
        if position != -1:
            cut = min(cut, position)
    return text[:cut]


MODES: dict[str, type[ScoringMode]] = {mode.name: mode for mode in (ClassifierHead, MultipleChoice, Generation)}


def get_mode(spec: Any, where: str = "task") -> ScoringMode:
    """A mode from a ScoringMode, a name, or a mapping {"mode": name, **options} (YAML)."""
    if isinstance(spec, ScoringMode):
        return spec
    options: dict = {}
    if isinstance(spec, Mapping):
        options = dict(spec)
        spec = options.pop("mode", None)
    if spec not in MODES:
        raise TaskDefinitionError(f"{where}: unknown scoring mode {spec!r}; choose from {', '.join(MODES)}")
    try:
        return MODES[spec](**options)
    except TypeError as error:
        raise TaskDefinitionError(f"{where}: bad options for scoring mode {spec!r}: {error}") from None


def select_mode(task: Task, adapter) -> ScoringMode:
    """The first of the task's modes the adapter can serve; CapabilityError naming task, model and modes if none."""
    for mode in task.scoring:
        if mode.capability in adapter.capabilities:
            mode.check_model(task, adapter)
            return mode
    raise CapabilityError(
        f"model {adapter.name!r} ({adapter.architecture}, can {sorted(adapter.capabilities)}) cannot serve task "
        f"{task.name!r}, which needs one of the scoring modes "
        f"{[f'{m.name} (needs {m.capability})' for m in task.scoring]}"
    )


__all__ = [
    "ScoringMode",
    "ClassifierHead",
    "MultipleChoice",
    "Generation",
    "MODES",
    "get_mode",
    "select_mode",
    "cut_at_stop",
    "label_order",
]
