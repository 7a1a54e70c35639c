"""Metrics: our `evaluate` modules (loaded offline by local path) and the registry the tasks name them from.

Every metric declares how it aggregates and whether higher is better:

- per-sample "mean" metrics average one score per sample (accuracy, ROUGE, any score a task's
  `process_results` returns, via `mean_of(name)`);
- "corpus" metrics are computed once from all (prediction, reference) pairs (BLEU, chrF, macro-F1, MCC).

The modules beside this file are `evaluate.Metric` subclasses; load one like any evaluate metric, without the Hub:
`evaluate.load(str(module_path("bleu")))`. Each returns `{name: value, "stderr": {...}, "confidence_interval":
{...}}` (bootstrap, seeded) and BLEU/chrF add their sacrebleu `signature`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from ..errors import TaskDefinitionError

MODULE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class MetricDef:
    """One headline number of a task.

    name: key in the results ("accuracy", "bleu", "rouge1", or a per-sample score name).
    higher_is_better: direction, recorded in the results and the report.
    aggregation: "mean" (mean of per-sample values) or "corpus" (computed from all pairs at once).
    inputs: what the metric compares: "labels" (int prediction vs int target), "texts" (generated text vs
        reference strings) or "scores" (a per-sample score from `Outcome.scores`, averaged).
    module: stem of the evaluate module file in this folder that computes it (None for "scores").
    options: extra keyword arguments for the module's compute(), as (key, value) pairs.
    """

    name: str
    higher_is_better: bool
    aggregation: Literal["mean", "corpus"]
    inputs: Literal["labels", "texts", "scores"]
    module: str | None = None
    options: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self):
        if self.inputs == "scores" and (self.module is not None or self.aggregation != "mean"):
            raise TaskDefinitionError(f"metric {self.name!r}: per-sample scores aggregate by 'mean' without a module")
        if self.inputs != "scores" and not (MODULE_DIR / f"{self.module}.py").is_file():
            raise TaskDefinitionError(f"metric {self.name!r}: no metric module {self.module!r} in {MODULE_DIR}")

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "higher_is_better": self.higher_is_better,
            "aggregation": self.aggregation,
            "inputs": self.inputs,
            "module": self.module,
            "options": dict(self.options),
        }


METRICS: dict[str, MetricDef] = {
    metric.name: metric
    for metric in (
        MetricDef("accuracy", True, "mean", "labels", "accuracy"),
        MetricDef("macro_f1", True, "corpus", "labels", "macro_f1"),
        MetricDef("mcc", True, "corpus", "labels", "mcc"),
        MetricDef("bleu", True, "corpus", "texts", "bleu"),
        MetricDef("chrf", True, "corpus", "texts", "chrf"),
        MetricDef("rouge1", True, "mean", "texts", "rouge"),
        MetricDef("rouge2", True, "mean", "texts", "rouge"),
        MetricDef("rougeL", True, "mean", "texts", "rouge"),
        MetricDef("rougeLsum", True, "mean", "texts", "rouge"),
    )
}


def mean_of(score: str, higher_is_better: bool = True) -> MetricDef:
    """A metric averaging the per-sample score `score` that a task's `process_results` puts in `Outcome.scores`."""
    return MetricDef(score, higher_is_better, "mean", "scores")


def get_metric(name: str) -> MetricDef:
    if name not in METRICS:
        raise TaskDefinitionError(
            f"unknown metric {name!r}; built-in metrics: {', '.join(METRICS)} (or mean_of('<score>') for a "
            "per-sample score returned by process_results)"
        )
    return METRICS[name]


def module_path(stem: str) -> Path:
    """Path of the evaluate module file `stem`.py (pass it to `evaluate.load`)."""
    return MODULE_DIR / f"{stem}.py"


@cache
def load_module(stem: str):
    """`evaluate.load` of our local module `stem` (no Hub access), kept in memory."""
    import evaluate

    return evaluate.load(str(module_path(stem)), keep_in_memory=True)


def compute_module(stem: str, predictions: Sequence, references: Sequence, **kwargs) -> dict:
    """Run module `stem` once over all pairs."""
    return load_module(stem).compute(predictions=list(predictions), references=list(references), **kwargs)


__all__ = ["MetricDef", "METRICS", "mean_of", "get_metric", "module_path", "load_module", "compute_module"]
