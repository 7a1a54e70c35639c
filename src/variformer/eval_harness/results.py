"""The results schema, in one module: the run JSON, the per-sample JSONL records, and the package's one home for
atomic writes (`atomic_write_bytes` for a file, `staged_folder` for a whole folder) and the writable-folder check.

`RunResult.to_dict()` is the content of `results.json`; keys are API (nested, spelled out). Bump
`SCHEMA_VERSION` on any change; `read_results` reads every version in `READABLE_SCHEMAS` (fields an older run lacks
read as None). `SampleRecord` is one line of `samples/<task>.jsonl`.

Schema history: 1.0 first version; 1.1 adds `TaskResult.calibration` and the per-sample `confidence` and
`probabilities`; 1.2 adds `TaskResult.robustness`, `TaskResult.spread` and the per-sample `perturbed`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import _files
from .._files import atomic_write_bytes
from .errors import SettingError

SCHEMA_VERSION = "1.2"
READABLE_SCHEMAS = ("1.0", "1.1", "1.2")


@dataclass
class MetricResult:
    """A headline number with its bootstrap standard error and confidence interval."""

    value: float
    stderr: float | None
    ci_low: float | None
    ci_high: float | None
    higher_is_better: bool
    aggregation: str  # "mean" (of per-sample values) or "corpus"
    signature: str | None = None  # sacrebleu signature for BLEU / chrF


@dataclass
class CalibrationResult:
    """How well a multiple-choice or classifier-head task's confidences match its accuracy
    (`metrics.calibration`). metrics: ece_10_bin (equal mass, HELM), ece_10_bin_equal_width (torchmetrics' bins),
    brier (multi-class), selective_acc_at_10, selective_cov_acc_area; each with bootstrap stderr and interval.
    reliability: {"equal_width" | "equal_mass": [{"lower", "upper", "count", "mean_confidence", "accuracy"}]}."""

    num_samples: int
    confidence_source: str  # "classifier softmax" or "softmax over per-choice log-likelihoods (...)"
    metrics: dict[str, MetricResult]
    accuracy: float  # share of samples whose predicted choice is the target
    mean_confidence: float
    reliability: dict[str, list[dict]]
    warning: str | None = None  # e.g. too few samples for stable bins

    @classmethod
    def from_dict(cls, data: dict) -> CalibrationResult:
        data = dict(data)
        return cls(metrics={k: MetricResult(**v) for k, v in data.pop("metrics").items()}, **data)


@dataclass
class RobustnessResult:
    """A task's scores under seeded input perturbations (`robustness.py`). scores: {perturbation: {metric:
    MetricResult}} for every metric of the task; worst_case: {metric: MetricResult} for the per-sample metrics,
    the mean over samples of the worst score over {clean, perturbations} (HELM's definition); changed:
    {perturbation: share of samples whose model input it changed}."""

    perturbations: list[str]
    fields: list[str]  # the row fields perturbed
    scores: dict[str, dict[str, MetricResult]]
    worst_case: dict[str, MetricResult]
    changed: dict[str, float]

    @classmethod
    def from_dict(cls, data: dict) -> RobustnessResult:
        data = dict(data)
        scores = {p: {k: MetricResult(**v) for k, v in m.items()} for p, m in data.pop("scores").items()}
        worst = {k: MetricResult(**v) for k, v in data.pop("worst_case").items()}
        return cls(scores=scores, worst_case=worst, **data)


@dataclass
class SpreadResult:
    """How much a task's scores move with the way its prompt is written and with the few-shot draw. formats:
    {format: {metric: MetricResult}} ("default" is the task's own prompt); few_shot_seeds: {seed: {metric:
    MetricResult}} (empty for zero-shot tasks); summary: {metric: {"formats" | "few_shot_seeds": {"min", "max",
    "range", "std", "n"}}} with `range` = max - min and `std` the sample standard deviation over formats / seeds."""

    formats: dict[str, dict[str, MetricResult]]
    few_shot_seeds: dict[str, dict[str, MetricResult]]
    summary: dict[str, dict[str, dict]]

    @classmethod
    def from_dict(cls, data: dict) -> SpreadResult:
        def metrics(group: dict) -> dict:
            return {name: {k: MetricResult(**v) for k, v in m.items()} for name, m in group.items()}

        return cls(metrics(data["formats"]), metrics(data["few_shot_seeds"]), data["summary"])


@dataclass
class TaskResult:
    """Everything about one task in a run."""

    name: str
    version: str
    group: str
    scoring_mode: dict
    spec: dict
    num_samples: int  # samples evaluated
    num_rows: int  # rows in the data source
    limit: int | None
    metrics: dict[str, MetricResult]
    confusion_matrix: dict | None = None  # {"labels": [...], "matrix": [[...]]}, rows = reference
    samples_file: str | None = None  # relative to the run folder
    calibration: CalibrationResult | None = None  # multiple-choice and classifier-head tasks (schema 1.1)
    robustness: RobustnessResult | None = None  # tasks with input fields to perturb (schema 1.2)
    spread: SpreadResult | None = None  # tasks with prompt formats or few-shot examples (schema 1.2)


@dataclass
class SampleRecord:
    """One evaluated sample (a line of the per-sample JSONL)."""

    task: str
    index: int
    id: str
    prompt_hash: str
    output: Any  # raw model output: generated text, per-choice log-likelihoods, label log-probs
    prediction: Any  # extracted answer
    target: Any
    scores: dict[str, float]
    prompt: str | None = None  # what the model was shown (the text `prompt_hash` hashes); None in older runs
    choices: list[str] | None = None  # the continuations scored, for log-likelihood samples
    confidence: float | None = None  # probability of the predicted choice (calibrated tasks, schema 1.1)
    probabilities: list[float] | None = None  # probability of every choice, in choice order
    # {perturbation: {"prompt_hash", "prediction", "scores"}} for this sample under each perturbation (schema 1.2)
    perturbed: dict[str, dict] | None = None


@dataclass
class RunResult:
    """One evaluation run: provenance, model, settings and per-task results. `samples` (per task) are written to
    JSONL files and are not part of `to_dict()`."""

    run_id: str
    created_at: str
    git: dict
    versions: dict
    environment: dict
    model: dict
    settings: dict
    tasks: dict[str, TaskResult]
    counts: dict
    timing: dict
    schema_version: str = SCHEMA_VERSION
    samples: dict[str, list[SampleRecord]] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("samples")
        return {"schema_version": data.pop("schema_version"), **data}

    @classmethod
    def from_dict(cls, data: dict) -> RunResult:
        if data.get("schema_version") not in READABLE_SCHEMAS:
            readable = ", ".join(repr(version) for version in READABLE_SCHEMAS[:-1]) + f" or {READABLE_SCHEMAS[-1]!r}"
            raise ValueError(
                f"results schema {data.get('schema_version')!r} is not {readable}, the versions this "
                "variformer reads; upgrade variformer to read it"
            )
        data = dict(data)
        tasks = {}
        for name, task in data.pop("tasks").items():
            task = dict(task)
            metrics = {k: MetricResult(**v) for k, v in task.pop("metrics").items()}
            calibration = task.pop("calibration", None)
            calibration = CalibrationResult.from_dict(calibration) if calibration is not None else None
            robustness = task.pop("robustness", None)
            robustness = RobustnessResult.from_dict(robustness) if robustness is not None else None
            spread = task.pop("spread", None)
            spread = SpreadResult.from_dict(spread) if spread is not None else None
            tasks[name] = TaskResult(
                metrics=metrics, calibration=calibration, robustness=robustness, spread=spread, **task
            )
        return cls(tasks=tasks, **data)

    def metric(self, task: str, name: str) -> float:
        return self.tasks[task].metrics[name].value


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=False, default=_json_default, allow_nan=True)


@contextmanager
def staged_folder(path: str | Path, last: str | None = None) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path` to write into; when the block ends without error its entries
    move into `path` (a new or empty `path`: one rename of the whole folder; else entry by entry, each replacing
    the entry of the same name, with `last` taken out first and put in last, so `last` never sits beside a
    half-moved set). On error the temporary folder is removed and `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _files.sibling_folder(path, "staging")
    try:
        yield staging
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        if not path.exists():
            os.replace(staging, path)
            return
        _move_entries(staging, path, last)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_entries(source: Path, target: Path, last: str | None) -> None:
    trash = _files.sibling_folder(target, "replaced")
    names = sorted(entry.name for entry in source.iterdir())
    if last in names:
        names = [name for name in names if name != last] + [last]
        if (target / last).exists():
            os.replace(target / last, trash / last)
    for name in names:
        if (target / name).exists():
            os.replace(target / name, trash / name)
        os.replace(source / name, target / name)
    shutil.rmtree(trash, ignore_errors=True)


def check_writable_folder(path: str | Path, option: str) -> Path:
    """`path` if it is a folder, or can be made one, that this process can write in; SettingError naming `option`
    and the path otherwise. Creates nothing."""
    try:
        return _files.check_writable_folder(path)
    except NotADirectoryError as error:
        where = "is a file" if error.folder == Path(path) else f"is inside {error.folder}, which is a file"
        raise SettingError(f"{option} {path} {where}, not a folder; give a folder path") from None
    except PermissionError as error:
        raise SettingError(
            f"{option} {path}: cannot write in {error.folder} ({error.reason}); give a folder you can write to"
        ) from None


def write_json(path: str | Path, value: Any) -> Path:
    return atomic_write_bytes(path, (dumps(value, indent=2) + "\n").encode("utf-8"))


def write_jsonl(path: str | Path, records: Iterable[Any]) -> Path:
    lines = [dumps(asdict(r) if hasattr(r, "__dataclass_fields__") else r) for r in records]
    return atomic_write_bytes(path, ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8"))


def read_results(path: str | Path) -> RunResult:
    """Load a results.json written by the harness."""
    return RunResult.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


__all__ = [
    "SCHEMA_VERSION",
    "READABLE_SCHEMAS",
    "MetricResult",
    "CalibrationResult",
    "RobustnessResult",
    "SpreadResult",
    "TaskResult",
    "SampleRecord",
    "RunResult",
    "atomic_write_bytes",
    "staged_folder",
    "check_writable_folder",
    "write_json",
    "write_jsonl",
    "read_results",
    "dumps",
]
