"""Paired comparison of two runs: per task and metric, the difference B - A with a paired bootstrap interval and a
p-value over the samples both runs evaluated (`variformer compare RUN_A RUN_B`, `compare_runs`).

Samples are matched by their id in the per-sample JSONL. One set of resamples (seeded) draws the same samples for
both runs, so the noise the two runs share (easy and hard questions) cancels in the difference (paired bootstrap:
Koehn, 2004; Berg-Kirkpatrick et al., 2012). Mean metrics resample the per-sample scores; corpus metrics are
recomputed on each resample: BLEU / chrF from sacrebleu's per-sentence sufficient statistics, macro-F1 / MCC from
confusion matrices; calibration numbers from the per-sample confidences. The interval is the percentile interval
of the resampled differences; the two-sided p-value tests "no difference" by centring those differences on zero:
p = (1 + #{|d* - d| >= |d|}) / (1 + iterations).

Runs are refused (`SettingError`) when a shared task's spec (prompt, scoring, metrics, few-shot, ...) or the sha256
of its data differ, or when a shared sample id has different targets: their numbers do not measure the same thing.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._files import atomic_write_png
from .errors import SettingError
from .metrics import bootstrap, calibration, corpus_stats
from .results import RunResult, TaskResult, atomic_write_bytes, dumps, staged_folder

CONFUSION_METRICS = {"macro_f1": ("macro_f1", "macro_f1_from_confusion"), "mcc": ("mcc", "mcc_from_confusion")}
MARKDOWN, JSON, PLOT = "comparison.md", "comparison.json", "comparison.png"


@dataclass
class Difference:
    """B - A for one task and metric, over the `num_shared` samples both runs evaluated."""

    task: str
    metric: str
    higher_is_better: bool
    num_shared: int
    value_a: float  # on the shared samples (may differ from the run's headline when the runs' limits differ)
    value_b: float
    difference: float  # value_b - value_a
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    stderr: float | None

    @property
    def verdict(self) -> str:
        """ "B better", "B worse" (direction-aware) when the interval excludes 0, else "no clear difference"."""
        if self.ci_low is None or self.ci_low <= 0 <= self.ci_high:
            return "no clear difference"
        return "B better" if (self.difference > 0) == self.higher_is_better else "B worse"


@dataclass
class Comparison:
    """Everything `compare_runs` found: the two runs, the settings and one `Difference` per task and metric."""

    run_a: dict
    run_b: dict
    settings: dict
    differences: list[Difference]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        rows = [{**asdict(d), "verdict": d.verdict} for d in self.differences]
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "settings": self.settings,
            "differences": rows,
            "notes": self.notes,
        }


def compare_runs(
    run_a: str | Path,
    run_b: str | Path,
    *,
    output_dir: str | Path | None = None,
    bootstrap_iters: int = bootstrap.DEFAULT_ITERS,
    seed: int = 0,
    confidence: float = bootstrap.DEFAULT_CONFIDENCE,
) -> Comparison:
    """Compare run folders `run_a` and `run_b` (or their results.json) task by task; with `output_dir`, write
    comparison.md, comparison.json and comparison.png there (atomically)."""
    from .html_report import load_run

    if isinstance(bootstrap_iters, bool) or not isinstance(bootstrap_iters, int) or bootstrap_iters < 1:
        raise SettingError(f"bootstrap_iters must be an int >= 1 for a paired comparison, got {bootstrap_iters!r}")
    if not 0 < confidence < 1:
        raise SettingError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")
    result_a, samples_a = load_run(run_a)
    result_b, samples_b = load_run(run_b)
    notes, differences = [], []
    shared = [name for name in result_a.tasks if name in result_b.tasks]
    for only, result, other in (("A", result_a, result_b), ("B", result_b, result_a)):
        notes += [
            f"task {name!r} is only in run {only}; not compared" for name in result.tasks if name not in other.tasks
        ]
    if not shared:
        raise SettingError(
            f"runs {run_a} and {run_b} share no task (A: {sorted(result_a.tasks)}, B: "
            f"{sorted(result_b.tasks)}); compare runs of the same tasks"
        )
    for name in shared:
        _check_same_task(result_a.tasks[name], result_b.tasks[name], run_a, run_b)
    for name in shared:
        rows_a, rows_b = _paired_records(name, samples_a.get(name, []), samples_b.get(name, []))
        if not rows_a:
            notes.append(
                f"task {name!r}: the runs share no sample id (or a run folder lacks its samples/); not compared"
            )
            continue
        differences += _task_differences(result_a.tasks[name], rows_a, rows_b, bootstrap_iters, seed, confidence, notes)
    comparison = Comparison(
        _describe(result_a, run_a),
        _describe(result_b, run_b),
        {"bootstrap_iters": bootstrap_iters, "seed": seed, "confidence": confidence},
        differences,
        notes,
    )
    if output_dir is not None:
        write_comparison(comparison, output_dir)
    return comparison


# -- checks and pairing -------------------------------------------------------------------------------------------
def _comparable_spec(task: TaskResult) -> dict:
    spec = dict(task.spec)
    data = dict(spec.get("data") or {})
    if data.get("sha256"):
        data.pop("path", None)  # the same file may sit in another folder; its hash decides
    return {**spec, "data": data, "version": task.version}


def _check_same_task(task_a: TaskResult, task_b: TaskResult, run_a, run_b) -> None:
    spec_a, spec_b = _comparable_spec(task_a), _comparable_spec(task_b)
    if spec_a == spec_b:
        return
    fields = sorted(key for key in set(spec_a) | set(spec_b) if spec_a.get(key) != spec_b.get(key))
    details = "; ".join(
        f"{key}: A {json.dumps(spec_a.get(key), default=str)[:120]} vs B "
        f"{json.dumps(spec_b.get(key), default=str)[:120]}"
        for key in fields
    )
    what = "data (sha256)" if fields == ["data"] else "spec"
    raise SettingError(
        f"task {task_a.name!r} differs between {run_a} and {run_b} in its {what} ({details}); a "
        "paired comparison needs the same task on the same data: re-run one of them with the other's "
        "task definition and data"
    )


def _paired_records(task: str, records_a: list[dict], records_b: list[dict]) -> tuple[list[dict], list[dict]]:
    """The records of the sample ids both runs have, in run A's order."""
    by_id = []
    for label, records in (("A", records_a), ("B", records_b)):
        ids: dict[str, dict] = {}
        for record in records:
            key = str(record["id"])
            if key in ids:
                raise SettingError(
                    f"task {task!r}: run {label} has sample id {key!r} twice in its samples file; "
                    "sample ids must be unique to pair samples"
                )
            ids[key] = record
        by_id.append(ids)
    ids_a, ids_b = by_id
    common = [key for key in ids_a if key in ids_b]
    for key in common:
        if ids_a[key]["target"] != ids_b[key]["target"]:
            raise SettingError(
                f"task {task!r}, sample id {key!r}: the runs' targets differ "
                f"({ids_a[key]['target']!r} vs {ids_b[key]['target']!r}); the data differ"
            )
    return [ids_a[key] for key in common], [ids_b[key] for key in common]


def _describe(result: RunResult, path) -> dict:
    return {
        "path": str(path),
        "run_id": result.run_id,
        "model": result.model.get("name"),
        "created_at": result.created_at,
    }


# -- statistics ---------------------------------------------------------------------------------------------------
Statistic = Callable[[np.ndarray], np.ndarray]  # (iters, n) sample indices -> (iters,) values


def _task_differences(
    task: TaskResult, rows_a: list[dict], rows_b: list[dict], iters: int, seed: int, confidence: float, notes: list[str]
) -> list[Difference]:
    n = len(rows_a)
    indices = bootstrap.resample_indices(n, iters, seed)  # (iters, n): the same resamples for A and B
    everything = np.arange(n)[None, :]  # (1, n)
    differences = []
    for metric in _metric_specs(task):
        try:
            stat_a, stat_b = (_statistic(metric, rows) for rows in (rows_a, rows_b))
        except (KeyError, TypeError, ValueError) as error:
            notes.append(f"task {task.name!r}, metric {metric['name']!r}: not compared ({error})")
            continue
        value_a, value_b = float(stat_a(everything)[0]), float(stat_b(everything)[0])
        replicates = stat_b(indices) - stat_a(indices)  # (iters,)
        differences.append(_difference(task.name, metric, n, value_a, value_b, replicates, confidence))
    return differences


def _metric_specs(task: TaskResult) -> list[dict]:
    """The task's metrics as recorded in its spec, then its calibration numbers (when the run has them)."""
    specs = [dict(m) for m in task.spec.get("metrics", [])]
    if task.calibration is not None:
        specs += [
            {"name": f"calibration.{name}", "higher_is_better": higher, "calibration": name}
            for name, higher in calibration.CALIBRATION_METRICS.items()
        ]
    return specs


def _statistic(metric: dict, rows: list[dict]) -> Statistic:
    name = metric["name"]
    if "calibration" in metric:
        return _calibration_statistic(metric["calibration"], rows)
    if metric.get("aggregation") == "mean":
        values = np.array([float(row["scores"][name]) for row in rows])  # (n,)
        return lambda idx: values[idx].mean(axis=1)
    if metric.get("module") in ("bleu", "chrf"):
        scorer = corpus_stats.sacrebleu_metric(metric["module"], dict(metric.get("options") or {}))
        stats = corpus_stats.sufficient_statistics(
            scorer, [row["prediction"] for row in rows], [row["target"] for row in rows]
        )  # (n, stats)
        return lambda idx: np.array([corpus_stats.score_from_statistics(scorer, stats[i]) for i in idx])
    if metric.get("module") in CONFUSION_METRICS:
        module, function = CONFUSION_METRICS[metric["module"]]  # their modules import evaluate: load on use
        return _confusion_statistic(getattr(importlib.import_module(f".metrics.{module}", __package__), function), rows)
    raise ValueError(f"no paired resampling for corpus metric module {metric.get('module')!r}")


def _confusion_statistic(from_confusion, rows: list[dict]) -> Statistic:
    references = [int(row["target"]) for row in rows]
    predictions = [int(row["prediction"]) for row in rows]
    labels = sorted(set(references) | set(predictions))
    k = len(labels)
    code = {label: i for i, label in enumerate(labels)}
    cells = np.array([code[r] * k + code[p] for r, p in zip(references, predictions)])  # (n,) reference-major

    def statistic(idx: np.ndarray) -> np.ndarray:
        offsets = np.arange(idx.shape[0])[:, None] * (k * k)  # (iters, 1)
        counts = np.bincount((cells[idx] + offsets).ravel(), minlength=idx.shape[0] * k * k)
        return from_confusion(counts.reshape(idx.shape[0], k, k))  # (iters,)

    return statistic


def _calibration_statistic(name: str, rows: list[dict]) -> Statistic:
    if any(row.get("probabilities") is None for row in rows):
        raise ValueError("a run's samples carry no choice probabilities")
    probabilities = [row["probabilities"] for row in rows]
    predictions = [int(row["prediction"]) for row in rows]
    confidences = np.array([probs[p] for probs, p in zip(probabilities, predictions)])
    correct = (np.array(predictions) == np.array([int(row["target"]) for row in rows])).astype(np.float64)
    brier = calibration.brier_per_sample(probabilities, [int(row["target"]) for row in rows])
    one = {
        "ece_10_bin": lambda i: calibration.ece_equal_mass(confidences[i], correct[i]),
        "ece_10_bin_equal_width": lambda i: calibration.ece_equal_width(confidences[i], correct[i]),
        "brier": lambda i: float(brier[i].mean()),
        "selective_acc_at_10": lambda i: calibration.selective_stats(confidences[i], correct[i])[0],
        "selective_cov_acc_area": lambda i: calibration.selective_stats(confidences[i], correct[i])[1],
    }[name]
    return lambda idx: np.array([one(i) for i in idx])


def _difference(
    task: str, metric: dict, n: int, value_a: float, value_b: float, replicates: np.ndarray, confidence: float
) -> Difference:
    delta = value_b - value_a
    summary = bootstrap.summarize(replicates, confidence)
    if delta == 0:
        p_value = 1.0
    else:
        extreme = np.abs(replicates - delta) >= abs(delta) - 1e-12 * max(1.0, abs(delta))
        p_value = float((1 + extreme.sum()) / (1 + replicates.size))
    return Difference(
        task,
        metric["name"],
        bool(metric.get("higher_is_better", True)),
        n,
        value_a,
        value_b,
        delta,
        summary["ci_low"],
        summary["ci_high"],
        p_value,
        summary["stderr"],
    )


# -- output -------------------------------------------------------------------------------------------------------
def render_markdown(comparison: Comparison, plot: str | None = PLOT) -> str:
    a, b, settings = comparison.run_a, comparison.run_b, comparison.settings
    level = f"{settings['confidence']:.0%}"
    lines = [
        f"# Paired comparison: {b['model']} (B) vs {a['model']} (A)",
        "",
        f"- A: `{a['run_id']}` ({a['path']})",
        f"- B: `{b['run_id']}` ({b['path']})",
        f"- paired bootstrap over the samples both runs evaluated (matched by sample id): "
        f"{settings['bootstrap_iters']} resamples, seed {settings['seed']}, {level} percentile intervals; "
        'p: two-sided, H0 = no difference (docs/evaluation.md, "Paired comparison of two runs")',
        "",
        f"| task | metric | n shared | A | B | B − A | {level} interval | p | better | verdict |",
        "|---|---|---:|---:|---:|---:|---|---:|---|---|",
    ]
    for d in comparison.differences:
        interval = "–" if d.ci_low is None else f"[{_fmt(d.ci_low, True)}, {_fmt(d.ci_high, True)}]"
        lines.append(
            f"| {d.task} | {d.metric} | {d.num_shared} | {_fmt(d.value_a)} | {_fmt(d.value_b)} | "
            f"{_fmt(d.difference, True)} | {interval} | {_fmt_p(d.p_value)} | "
            f"{'higher' if d.higher_is_better else 'lower'} | {d.verdict} |"
        )
    lines.append("")
    if plot and comparison.differences:
        lines += [f"![differences]({plot})", ""]
    lines += [f"- {note}" for note in comparison.notes]
    return "\n".join(lines) + "\n"


def _fmt(value, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    text = f"{value:+.2f}" if abs(value) >= 10 else f"{value:+.4f}"
    return text if signed else text.lstrip("+")


def _fmt_p(value) -> str:
    return "–" if value is None else f"{value:.3f}" if value >= 0.001 else "<0.001"


def comparison_figure(comparison: Comparison):
    """One panel per task: each metric's B − A with its interval (metrics of one task share a scale)."""
    from matplotlib.figure import Figure

    tasks = list(dict.fromkeys(d.task for d in comparison.differences))
    heights = [max(1, sum(d.task == t for d in comparison.differences)) for t in tasks]
    figure = Figure(figsize=(6.4, 0.9 + 0.42 * sum(heights) + 0.5 * len(tasks)), dpi=100, layout="constrained")
    grid = figure.add_gridspec(len(tasks), 1, height_ratios=heights)
    for row, task in enumerate(tasks):
        axes = figure.add_subplot(grid[row])
        rows = [d for d in comparison.differences if d.task == task]
        positions = np.arange(len(rows))[::-1]
        low = [d.difference - d.ci_low if d.ci_low is not None else 0 for d in rows]
        high = [d.ci_high - d.difference if d.ci_high is not None else 0 for d in rows]
        colors = [
            "#55A868" if d.verdict == "B better" else "#C44E52" if d.verdict == "B worse" else "#4C72B0" for d in rows
        ]
        for y, d, lo, hi, color in zip(positions, rows, low, high, colors):
            axes.errorbar(d.difference, y, xerr=[[max(lo, 0)], [max(hi, 0)]], fmt="o", color=color, capsize=4)
        axes.axvline(0, color="black", linewidth=0.7)
        axes.set_yticks(positions, [d.metric for d in rows], fontsize=8)
        axes.set_ylim(-0.6, len(rows) - 0.4)
        axes.set_title(f"{task} (n={rows[0].num_shared})", fontsize=9)
        axes.tick_params(axis="x", labelsize=8)
    figure.suptitle(
        f"B − A with {comparison.settings['confidence']:.0%} paired bootstrap intervals "
        "(green: B better, red: B worse)",
        fontsize=9,
    )
    return figure


def write_comparison(comparison: Comparison, output_dir: str | Path) -> Path:
    """Write comparison.md, comparison.json and comparison.png into `output_dir` (staged beside it and moved in,
    comparison.json last); returns the Markdown path."""
    output_dir = Path(output_dir)
    with staged_folder(output_dir, last=JSON) as staging:
        plot = None
        if comparison.differences:
            atomic_write_png(staging / PLOT, comparison_figure(comparison))
            plot = PLOT
        atomic_write_bytes(staging / MARKDOWN, render_markdown(comparison, plot).encode("utf-8"))
        atomic_write_bytes(staging / JSON, (dumps(comparison.to_dict(), indent=2) + "\n").encode("utf-8"))
    return output_dir / MARKDOWN


__all__ = ["compare_runs", "Comparison", "Difference", "write_comparison", "render_markdown", "comparison_figure"]
