"""The result schema of a benchmark run (one JSON per run) and its Markdown rendering.

A run holds rows; each row compares one metric of Variformer against a baseline (the stock transformers model
of the same shape, or the one-request-at-a-time scorer for the harness) and reports ratio = Variformer /
baseline. A row is "ok", "skipped" (with the reason, e.g. a GPU-only measurement in CPU mode) or "error".
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from variformer._files import atomic_write_text as write_atomic  # readers never see a half-written file

SCHEMA_VERSION = 1
STATUSES = ("ok", "skipped", "error")


@dataclass
class Side:
    """One model's measurement of a row. `value` is in the row's unit; `times_s` are the timed iterations."""

    label: str
    parameters: int | None = None
    value: float | None = None
    times_s: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


@dataclass
class Target:
    """The issue's goal for a row: ratio `comparison` `ratio` (e.g. >= 1.5); `met` is filled in when measured.
    `judged_on`: "gpu" (judged only in a GPU run at the target shapes) or "any" (a target of the measured shape
    itself, judged on every device, e.g. the CPU decoding-overhead and memory rows)."""

    ratio: float
    comparison: str  # ">=" or "<="
    note: str
    met: bool | None = None
    judged_on: str = "gpu"


@dataclass
class Row:
    id: str
    section: str  # "training", "decoding", "decoding-overhead", "memory" or "harness"
    title: str
    metric: str
    unit: str
    higher_is_better: bool
    shape: dict
    status: str = "ok"
    reason: str | None = None
    variformer: Side | None = None
    baseline: Side | None = None
    ratio: float | None = None
    target: Target | None = None

    def skip(self, reason: str) -> Row:
        self.status, self.reason = "skipped", reason
        return self

    def fail(self, reason: str) -> Row:
        self.status, self.reason = "error", reason
        return self

    def finish(self, judge_target: bool = True) -> Row:
        """Compute the ratio and, when `judge_target` (a run at the target shapes on the GPU), whether the
        target is met."""
        if self.status != "ok":
            return self
        if self.variformer is None or self.baseline is None or None in (self.variformer.value, self.baseline.value):
            return self.skip(self.reason or "no measurement")
        if self.baseline.value:
            self.ratio = self.variformer.value / self.baseline.value
        judged = judge_target or (self.target is not None and self.target.judged_on == "any")
        if judged and self.target is not None and self.ratio is not None:
            wanted = self.target.ratio
            self.target.met = self.ratio >= wanted if self.target.comparison == ">=" else self.ratio <= wanted
        return self


@dataclass
class RunReport:
    schema_version: int
    created_utc: str
    label: str
    mode: dict
    environment: dict
    parameter_counts: dict
    formulas: dict
    rows: list[Row]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=False) + "\n"


# ---------------------------------------------------------------------------------------------- Markdown
def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "fraction":
        return f"{100 * value:.1f}%"
    if unit == "bytes":
        return f"{value / 2**20:,.0f} MiB"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _target_cell(row: Row) -> str:
    if row.target is None:
        return ""
    verdict = {True: " met", False: " MISSED", None: " (GPU target; not judged)" if row.status == "ok" else ""}
    verdict = verdict[row.target.met]
    return f"{row.target.comparison} {row.target.ratio:g}{verdict}"


def _shape_cell(shape: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in shape.items())


def _row_cells(row: Row) -> list[str]:
    status = row.status if row.status == "ok" else f"{row.status}: {row.reason}"

    def value(side: Side | None) -> str:
        return format_value(side.value, row.unit) if side is not None else "-"

    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
    baseline = f"{value(row.baseline)} ({row.baseline.label})" if row.baseline is not None else "-"
    return [
        f"`{row.id}`",
        row.title,
        _shape_cell(row.shape),
        value(row.variformer),
        baseline,
        ratio,
        _target_cell(row),
        status,
    ]


def rows_table(rows: list[Row]) -> list[str]:
    """The Markdown table of `rows` (one line per row, after a header)."""
    lines = [
        "| Row | What | Shape | Variformer | Baseline | Ratio | Target | Status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    return lines + ["| " + " | ".join(cell.replace("|", "/") for cell in _row_cells(row)) + " |" for row in rows]


def row_from_dict(data: dict) -> Row:
    """A `Row` back from its JSON form (`dataclasses.asdict`)."""
    sides = {key: Side(**data[key]) if data.get(key) else None for key in ("variformer", "baseline")}
    return Row(**{**data, **sides, "target": Target(**data["target"]) if data.get("target") else None})


def to_markdown(report: RunReport) -> str:
    mode, env = report.mode, report.environment
    lines = [f"# Variformer benchmarks: {report.label}", ""]
    if mode["device"] == "cpu":
        lines += [
            "> **CPU run, tiny shapes.** These figures only show that the benchmark runs end to end; they are "
            "**not** evidence for the GPU targets of the performance issue (those need "
            "`python benchmarks/run.py --device cuda`).",
            "",
        ]
    lines += [
        f"- Created (UTC): {report.created_utc}",
        f"- Device: {env['device_name']} ({mode['device']}); shapes: {mode['shapes']}; quick: {mode['quick']}",
        f"- Training dtype: {mode['training_dtype']}; inference dtype: {mode['inference_dtype']}; "
        f"attention: {mode['attn_implementation']}",
        f"- Iterations: training {mode['warmup']} warm-up steps (excluded), median of {mode['repeats']} timed; "
        f"generate() {mode['generate_calls']['warmup']} warm-up calls, median of {mode['generate_calls']['repeats']}; "
        f"harness median of {mode['harness_passes']} passes",
        f"- Versions: variformer {env['variformer']}, torch {env['torch']}, transformers {env['transformers']}, "
        f"python {env['python']}; git {env['git_commit']}{' (dirty)' if env['git_dirty'] else ''}",
        "",
        "## Parameter counts (shapes match when equal)",
        "",
        "| Workload | Variformer | Stock | Equal | Variformer (target shape) | Stock (target shape) |",
        "|---|---|---|---|---|---|",
    ]
    for workload, counts in report.parameter_counts.items():
        full = counts["target_shape"]
        lines.append(
            f"| {workload} ({counts['stock_class']}) | {counts['variformer']:,} | {counts['stock']:,} | "
            f"{counts['variformer'] == counts['stock']} | {full['variformer']:,} | {full['stock']:,} |"
        )
    lines += ["", "## Results (ratio = Variformer / baseline)", ""] + rows_table(report.rows)
    lines += ["", "## Formulas", ""] + [f"- {name}: {text}" for name, text in report.formulas.items()]
    return "\n".join(lines) + "\n"


__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "Side",
    "Target",
    "Row",
    "RunReport",
    "write_atomic",
    "to_markdown",
    "format_value",
    "rows_table",
    "row_from_dict",
]
