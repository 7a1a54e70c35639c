"""report.html: a run (or several runs side by side) as one self-contained page that opens with a double click.

The page follows `variformer._html`'s conventions (everything inline, a Content-Security-Policy that forbids
every fetch, all data escaped). It shows:

- the run header: model, parameter count, commit, versions, device, dtype, time, settings;
- per task group, the metric table (value, bootstrap stderr, 95 % interval, n, direction; any further field a
  metric carries beside those); with several runs the same tasks aligned and a difference column per run;
- the report's plots (`report.render_plots`, the same PNGs as report.md) and the group's extra tables;
- a sample browser per task: prompt, prediction, target, per-sample scores, with text search, a wrong-answer
  filter, sorting by a score and paging (only one page of rows is in the document at a time), and with several
  runs the samples where two runs disagree (matched by sample id). The script is `html/report.js`.

A sample is *wrong* when its per-sample `accuracy` is 0, else when its prediction differs from its target (for
text, from every reference, ignoring surrounding spaces); samples with neither (e.g. TruthfulQA MC2's probability
mass) are never counted as wrong. Two runs *disagree* on a sample when their shown predictions differ.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .. import _html
from .errors import SettingError
from .report import Plots, calibration_lines, group_section, render_plots, robustness_lines, spread_lines
from .results import MetricResult, RunResult, TaskResult, atomic_write_bytes, dumps, read_results

PAGE_NAME = "report.html"
LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FOLD_AT = 240  # longer texts fold to their first third and last two thirds of this (read by the page's script)
_METRIC_FIELDS = {f.name for f in fields(MetricResult)}
_TASK_FIELDS = {f.name for f in fields(TaskResult)}


@dataclass
class RunPage:
    """One run as the page shows it: its results, its samples (the JSONL lines as dicts) and its plots."""

    label: str  # "A", "B", ... (column headings)
    result: RunResult
    samples: dict[str, list[dict]]
    plots: Plots


# ---------------------------------------------------------------------------------------------- entry points
def write_html_report(result: RunResult, output_dir: str | Path, plots: Plots | None = None) -> Path:
    """Write `output_dir/report.html` for `result` (samples from `result.samples`); returns its path."""
    samples = {name: [_record_dict(record) for record in records] for name, records in result.samples.items()}
    run = RunPage("A", result, samples, plots if plots is not None else render_plots(result))
    return atomic_write_bytes(Path(output_dir) / PAGE_NAME, render_page([run]).encode("utf-8"))


def write_runs_page(run_dirs: Sequence[str | Path], output: str | Path) -> Path:
    """Write one page for the run folders `run_dirs` (one run, or several side by side) to `output`."""
    if len(run_dirs) > len(LABELS):
        raise SettingError(f"at most {len(LABELS)} runs fit on one page, got {len(run_dirs)}")
    runs = []
    for label, folder in zip(LABELS, run_dirs):
        result, samples = load_run(folder)
        runs.append(RunPage(label, result, samples, render_plots(result)))
    return atomic_write_bytes(output, render_page(runs).encode("utf-8"))


def load_run(folder: str | Path) -> tuple[RunResult, dict[str, list[dict]]]:
    """The results and per-sample records of a run folder written by the harness (or of its results.json)."""
    folder = Path(folder)
    if folder.name == "results.json" and folder.is_file():
        folder = folder.parent
    path = folder / "results.json"
    if not path.is_file():
        raise SettingError(
            f"{folder} holds no results.json; give a run folder written by `variformer eval` "
            "(the folder with results.json and samples/)"
        )
    try:
        result = read_results(path)
    except (ValueError, TypeError, KeyError) as error:
        raise SettingError(f"{path} is not a harness results file: {error}") from None
    samples = {}
    for name, task in result.tasks.items():
        file = folder / task.samples_file if task.samples_file else None
        samples[name] = _read_jsonl(file) if file is not None and file.is_file() else []
    return result, samples


def _read_jsonl(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise SettingError(f"{path}, line {number}: not a JSON record ({error.msg})") from None
    return records


def _record_dict(record) -> dict:
    """A `SampleRecord` as its JSONL line reads back (so a page written at save time equals a later one)."""
    return json.loads(dumps(asdict(record)))


# ---------------------------------------------------------------------------------------------- the page
@cache
def _asset(name: str) -> str:
    return (resources.files("variformer.eval_harness") / "html" / name).read_text(encoding="utf-8")


def render_page(runs: Sequence[RunPage]) -> str:
    """The HTML of the page for `runs` (one or more)."""
    models = " vs ".join(str(run.result.model.get("name")) for run in runs)
    title = f"Evaluation report: {models}"
    body = [f"<h1>{_html.escape(title)}</h1>", _header(runs)]
    body += [_group_section(runs, group, tasks) for group, tasks in _groups(runs).items()]
    for lines_of, kind in (
        (calibration_lines, "calibration"),
        (robustness_lines, "robustness"),
        (spread_lines, "spread"),
    ):
        body += [_lines_section(run, len(runs) > 1, lines_of, kind) for run in runs if lines_of(run.result)]
    body += [_samples_section(runs), _environment(runs), _html.json_script("report-data", _sample_data(runs))]
    return _html.page(title, "\n".join(body), _asset("report.css"), _asset("report.js"))


def _header(runs: Sequence[RunPage]) -> str:
    rows = [[name, *(value(run.result) for run in runs)] for name, value in HEADER_ROWS]
    header = ["", *(f"run {run.label}" for run in runs)] if len(runs) > 1 else []
    return '<section id="run-header">' + _html.table(header, rows, "header") + "</section>"


def _git(result: RunResult) -> str:
    commit = (result.git.get("commit") or "unknown")[:12]
    return commit + (" (uncommitted changes)" if result.git.get("dirty") else "")


def _parameters(result: RunResult) -> str:
    count = result.model.get("num_parameters")
    return f"{count:,}" if isinstance(count, int) else "–"


def _settings(result: RunResult) -> str:
    settings = result.settings
    return (
        f"seed {settings.get('seed')}, limit {settings.get('limit')}, {settings.get('bootstrap_iters')} "
        f"bootstrap resamples ({settings.get('confidence', 0.95):.0%} intervals), batch size "
        f"{settings.get('batch_size')}"
    )


def _requests(result: RunResult) -> str:
    counts = result.counts
    return f"{counts.get('requests')} ({counts.get('from_cache')} from cache), {result.timing.get('total_s', 0):.1f} s"


def _versions(result: RunResult) -> str:
    names = ("variformer", "transformers", "torch", "python")
    return ", ".join(f"{name} {result.versions[name]}" for name in names if result.versions.get(name))


HEADER_ROWS = (
    ("model", lambda r: str(r.model.get("name"))),
    ("class", lambda r: f"{r.model.get('class')} ({r.model.get('architecture')})"),
    ("parameters", _parameters),
    ("run", lambda r: r.run_id),
    ("time", lambda r: r.created_at),
    ("commit", _git),
    ("versions", _versions),
    (
        "device, dtype",
        lambda r: (
            f"{r.environment.get('device')}, {r.environment.get('dtype')}, "
            f"{r.environment.get('world_size')} process(es)"
        ),
    ),
    ("settings", _settings),
    ("requests", _requests),
)


# ---------------------------------------------------------------------------------------------- metric tables
def _groups(runs: Sequence[RunPage]) -> dict[str, list[str]]:
    """group -> task names, in the order of the runs (a task's group is that of the first run that has it)."""
    groups: dict[str, list[str]] = {}
    for run in runs:
        for name, task in run.result.tasks.items():
            if not any(name in members for members in groups.values()):
                groups.setdefault(task.group, []).append(name)
    return dict(sorted(groups.items(), key=lambda item: (item[0] != "", item[0])))


def _group_section(runs: Sequence[RunPage], group: str, names: list[str]) -> str:
    section = group_section(group)
    parts = [f'<section class="group"><h2>{_html.escape(section.title)}</h2>', _metric_table(runs, names)]
    parts += [_run_figures(run, group, names, section, open_=len(runs) == 1) for run in runs]
    return "\n".join(parts) + "</section>"


def _metric_table(runs: Sequence[RunPage], names: list[str]) -> str:
    """task | metric | per run: value, ± stderr, 95 % interval | Δ per later run | n | better | also (when any)."""
    multi = len(runs) > 1
    header = ["task", "metric"]
    for run in runs:
        prefix = f"{run.label} " if multi else ""
        header += [f"{prefix}value", f"{prefix}± stderr", f"{prefix}95% interval"]
    header += [f"Δ {run.label}−A" for run in runs[1:]] + ["n", "better", "also"]
    rows = []
    for name in names:
        tasks = [run.result.tasks.get(name) for run in runs]
        metric_names = list(dict.fromkeys(m for task in tasks if task for m in task.metrics))
        rows += [_metric_row(name, metric, tasks) for metric in metric_names]
    if not any(cells[-1] for _, _, cells in rows):
        header, rows = header[:-1], [(task, metric, cells[:-1]) for task, metric, cells in rows]
    head = "<thead><tr>" + "".join(f"<th>{_html.escape(cell)}</th>" for cell in header) + "</tr></thead>"
    body = "".join(
        f'<tr data-task="{_html.escape(task)}" data-metric="{_html.escape(metric)}">'
        + "".join(f"<td>{_html.escape(cell)}</td>" for cell in cells)
        + "</tr>"
        for task, metric, cells in rows
    )
    return f'<table class="metrics">{head}<tbody>{body}</tbody></table>'


def _metric_row(task_name: str, metric_name: str, tasks: list[TaskResult | None]) -> tuple[str, str, list[str]]:
    metrics = [task.metrics.get(metric_name) if task else None for task in tasks]
    cells = [task_name, metric_name]
    for metric in metrics:
        cells += [_fmt(metric.value if metric else None), _fmt(metric.stderr if metric else None), _interval(metric)]
    first = metrics[0]
    for metric in metrics[1:]:
        both = first is not None and metric is not None and _finite(first.value) and _finite(metric.value)
        cells.append(_fmt(metric.value - first.value, signed=True) if both else "–")
    counts = list(dict.fromkeys(str(task.num_samples) for task in tasks if task))
    known = next(m for m in metrics if m is not None)
    cells += [" / ".join(counts), "higher" if known.higher_is_better else "lower", _also(metrics, tasks)]
    return task_name, metric_name, cells


def _also(metrics: list[MetricResult | None], tasks: list[TaskResult | None]) -> str:
    """Fields a metric carries beyond the base schema (e.g. calibration or spread, once a run records them),
    and a note when the runs' task versions or data differ."""
    parts = []
    for metric in metrics:
        extra = (
            {key: value for key, value in vars(metric).items() if key not in _METRIC_FIELDS and value is not None}
            if metric is not None
            else {}
        )
        parts += [f"{key} {_plain(value)}" for key, value in extra.items()]
    present = [task for task in tasks if task is not None]
    if len({(task.version, json.dumps(task.spec.get("data"), sort_keys=True)) for task in present}) > 1:
        parts.append("task version or data differ between runs")
    return "; ".join(parts) or ""


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _fmt(value, signed: bool = False) -> str:
    if not _finite(value):
        return "–"
    text = f"{value:+.2f}" if abs(value) >= 10 else f"{value:+.4f}"
    return text if signed else text.lstrip("+")


def _interval(metric: MetricResult | None) -> str:
    if metric is None or metric.ci_low is None:
        return "–"
    return f"[{_fmt(metric.ci_low)}, {_fmt(metric.ci_high)}]"


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return _fmt(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


# ---------------------------------------------------------------------------------------------- figures
def _run_figures(run: RunPage, group: str, names: list[str], section, open_: bool) -> str:
    """The group's extra tables, overview plot, per-task plots and extra task fields of one run (foldable)."""
    tasks = [run.result.tasks[name] for name in names if name in run.result.tasks]
    lines = _markdown_block(section.lines(tasks)) if section.lines is not None and tasks else ""
    figures = (
        [_html.figure(run.plots.groups[group].png, f"group {group or 'main'}")] if group in run.plots.groups else []
    )
    extras = []
    for task in tasks:
        figures += [
            _html.figure(plot.png, Path(plot.path).stem, _task_caption(task))
            for plot in run.plots.tasks.get(task.name, [])
        ]
        rows = _task_extra(task)
        if rows:
            extras.append(f"<h4>{_html.escape(task.name)}: more</h4>" + _html.table(["field", "value"], rows))
    summary = "Plots" if open_ else f"Plots of run {run.label} ({run.result.model.get('name')})"
    return (
        f'<details class="plots"{" open" if open_ else ""}><summary>{_html.escape(summary)}</summary>{lines}'
        f'<div class="figures">{"".join(figures)}</div>{"".join(extras)}</details>'
    )


def _lines_section(run: RunPage, multi: bool, lines_of, kind: str) -> str:
    """A section of report.md (`calibration_lines`, `robustness_lines`) as HTML; its plots (reliability diagrams,
    robustness bars) are among each task's plots."""
    lines = lines_of(run.result)
    if multi:
        lines[0] += f" (run {run.label})"
    return f'<section class="group {kind}">{_markdown_block(lines)}</section>'


def _task_caption(task: TaskResult) -> str:
    mode = task.scoring_mode.get("mode")
    signatures = "; ".join(f"{n} signature {m.signature}" for n, m in task.metrics.items() if m.signature)
    text = f"{task.name} (v{task.version}, {mode}, {task.num_samples} of {task.num_rows} rows)"
    return text + (f"; {signatures}" if signatures else "")


def _task_extra(task: TaskResult) -> list[list[str]]:
    """Fields a task result carries beyond the base schema, as (field, value) rows."""
    return [[key, _plain(value)] for key, value in vars(task).items() if key not in _TASK_FIELDS and value is not None]


def _markdown_block(lines: list[str]) -> str:
    """The Markdown a group section adds (headings, pipe tables, paragraphs) as escaped HTML."""
    parts, table_rows = [], []
    for line in [*lines, ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= set("-:") for cell in cells):
                table_rows.append(cells)
            continue
        if table_rows:
            parts.append(_html.table(table_rows[0], table_rows[1:]))
            table_rows = []
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 1, 6)
            parts.append(f"<h{level}>{_html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.strip():
            parts.append(f"<p>{_html.escape(line.strip())}</p>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------- samples
def _samples_section(runs: Sequence[RunPage]) -> str:
    compare = (
        (
            '<label id="compare-controls"><input type="checkbox" id="disagree"> only where run '
            '<select id="run-b"></select> disagrees</label>'
        )
        if len(runs) > 1
        else ""
    )
    run_select = (
        '<label>run <select id="run"></select></label>' if len(runs) > 1 else '<select id="run" hidden></select>'
    )
    return f"""<section id="samples"><h2>Samples</h2>
<div class="controls"><label>task <select id="task"></select></label> {run_select}
<label>search <input type="search" id="search" placeholder="id, prompt, prediction or target"></label>
<label><input type="checkbox" id="wrong"> wrong answers only</label>
<label>sort <select id="sort"></select></label> {compare}</div>
<p id="count" aria-live="polite"></p>
<table id="sample-table" data-fold="{FOLD_AT}"><thead></thead><tbody></tbody></table>
<div class="pager"><button type="button" id="previous">‹ previous</button> <span id="page"></span>
<button type="button" id="next">next ›</button></div>
<noscript><p>The sample browser needs JavaScript; the samples are in samples/&lt;task&gt;.jsonl.</p></noscript>
</section>"""


def _sample_data(runs: Sequence[RunPage]) -> dict:
    """What the script shows: per task, the score names and each run's rows
    [id, prompt, prediction, target, correct (true / false / null), [scores in score-name order]]."""
    names = list(dict.fromkeys(name for run in runs for name in run.result.tasks))
    tasks = []
    for name in names:
        present = [run for run in runs if name in run.result.tasks]
        scores = list(
            dict.fromkeys(
                key for run in present for record in run.samples.get(name, []) for key in record.get("scores") or {}
            )
        )
        rows = [
            _rows(run.result.tasks[name], run.samples.get(name, []), scores) if name in run.result.tasks else None
            for run in runs
        ]
        tasks.append({"name": name, "scores": scores, "runs": rows})
    return {"runs": [{"label": run.label, "model": str(run.result.model.get("name"))} for run in runs], "tasks": tasks}


def _rows(task: TaskResult, records: list[dict], scores: list[str]) -> list[list]:
    fixed = task.spec.get("choices")
    labels = fixed["choices"] if isinstance(fixed, dict) and fixed.get("type") == "FixedChoices" else None
    rows = []
    for record in records:
        choices = [choice.strip() for choice in record["choices"]] if record.get("choices") else labels
        values = record.get("scores") or {}
        prompt = record.get("prompt")
        rows.append(
            [
                str(record.get("id")),
                "" if prompt is None else prompt.replace("\x1f", "\n␟\n"),
                _display(record.get("prediction"), choices),
                _display(record.get("target"), choices),
                is_correct(record),
                [_score(values.get(key)) for key in scores],
            ]
        )
    return rows


def _display(value: Any, labels: list[str] | None) -> str:
    """A prediction or target as text: a label index as its label, references one per line."""
    if labels and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(labels):
        return labels[value]
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n".join(value)
    return "" if value is None else json.dumps(value, ensure_ascii=False, default=str)


def is_correct(record: dict) -> bool | None:
    """True / False when a sample's answer can be judged right or wrong (see the module docstring), else None."""
    accuracy = (record.get("scores") or {}).get("accuracy")
    if _finite(accuracy):
        return accuracy == 1
    prediction, target = record.get("prediction"), record.get("target")
    if isinstance(prediction, int) and isinstance(target, int):
        return prediction == target
    if isinstance(prediction, str) and isinstance(target, (str, list)):
        references = [target] if isinstance(target, str) else target
        if all(isinstance(reference, str) for reference in references):
            return prediction.strip() in {reference.strip() for reference in references}
    return None


def _score(value) -> float | None:
    return float(value) if _finite(value) else None


def _environment(runs: Sequence[RunPage]) -> str:
    rows = []
    for run in runs:
        versions = ", ".join(f"{k} {v}" for k, v in run.result.versions.items() if v)
        rows.append([run.label, versions, str(run.result.environment.get("platform"))])
    return (
        '<section id="environment"><h2>Environment</h2>'
        + _html.table(["run", "versions", "platform"], rows)
        + "</section>"
    )


__all__ = ["PAGE_NAME", "RunPage", "is_correct", "load_run", "render_page", "write_html_report", "write_runs_page"]
