"""The Markdown report of a run, with PNG plots: per-task metric bars with 95 % bootstrap intervals as error
bars, a confusion matrix for classification tasks, a reliability diagram and a calibration table for
multiple-choice and classifier-head tasks, and for each named task group (e.g. "hallucination") its own section
with an overview plot of all its tasks."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._files import png_bytes
from .results import CalibrationResult, MetricResult, RunResult, TaskResult, atomic_write_bytes


@dataclass(frozen=True)
class GroupSection:
    """How the report shows a task group (`Task.group`): the section title, extra Markdown lines after the
    group's table, and the group's overview figure (a matplotlib `Figure`; default: bars of every metric)."""

    title: str
    lines: Callable[[Sequence[TaskResult]], list[str]] | None = None
    figure: Callable[[Sequence[TaskResult]], object] | None = None


GROUP_SECTIONS: dict[str, GroupSection] = {"": GroupSection("Results")}
# groups whose section lives in a module of this package, imported only when a run has such tasks:
# group -> (module, title, lines function, figure function)
LAZY_GROUP_SECTIONS = {
    "hallucination": (".hallucination.report", "Hallucination", "section_lines", "headline_figure"),
}


def register_group_section(group: str, title: str | None = None, lines=None, figure=None) -> GroupSection:
    """Give task group `group` its own report section (title, extra Markdown lines, overview figure)."""
    GROUP_SECTIONS[group] = GroupSection(title or group.replace("_", " ").title(), lines, figure)
    return GROUP_SECTIONS[group]


def group_section(group: str) -> GroupSection:
    if group not in GROUP_SECTIONS and group in LAZY_GROUP_SECTIONS:
        module_name, title, lines, figure = LAZY_GROUP_SECTIONS[group]
        module = importlib.import_module(module_name, __package__)
        register_group_section(group, title, getattr(module, lines), getattr(module, figure))
    return GROUP_SECTIONS.get(group) or GroupSection(group.replace("_", " ").title())


@dataclass(frozen=True)
class Plot:
    """A rendered report figure: where it goes in the run folder and its PNG bytes."""

    path: str  # "plots/<name>.png", relative to the run folder
    png: bytes


@dataclass(frozen=True)
class Plots:
    """Every figure of a run's report: per task (metric bars, confusion matrix) and per task group (overview)."""

    tasks: dict[str, list[Plot]]
    groups: dict[str, Plot]

    def all(self) -> list[Plot]:
        return [plot for plots in self.tasks.values() for plot in plots] + list(self.groups.values())


def render_plots(result: RunResult) -> Plots:
    """Draw every figure of the report of `result` as PNG (shared by report.md and report.html)."""
    tasks: dict[str, list[Plot]] = {}
    for name, task in result.tasks.items():
        tasks[name] = [_render(f"plots/{name}.png", _metric_figure(task))]
        if task.confusion_matrix:
            tasks[name].append(_render(f"plots/{name}_confusion.png", _confusion_figure(task)))
        if task.calibration is not None:
            tasks[name].append(_render(f"plots/{name}_reliability.png", _reliability_figure(task)))
        if task.robustness is not None:
            tasks[name].append(_render(f"plots/{name}_robustness.png", _robustness_figure(task)))
    groups = {}
    for group, members in _groups(result).items():
        section = group_section(group)
        if group or section.figure:  # the main group mixes scales (BLEU 0-100, accuracy 0-1): per-task plots
            figure = section.figure(members) if section.figure else _group_figure(group, members)
            groups[group] = _render(f"plots/group_{group or 'main'}.png", figure)
    return Plots(tasks, groups)


def write_report(result: RunResult, output_dir: str | Path, plots: Plots | None = None) -> Path:
    """Write report.md and plots/*.png into `output_dir` (atomically, file by file); returns the report path.
    `plots`: the figures when already drawn (`render_plots`)."""
    output_dir = Path(output_dir)
    plots = plots if plots is not None else render_plots(result)
    for plot in plots.all():
        atomic_write_bytes(output_dir / plot.path, plot.png)
    task_paths = {name: [plot.path for plot in task_plots] for name, task_plots in plots.tasks.items()}
    text = render_markdown(result, task_paths, {group: plot.path for group, plot in plots.groups.items()})
    return atomic_write_bytes(output_dir / "report.md", text.encode("utf-8"))


def render_markdown(
    result: RunResult, plots: dict[str, list[str]] | None = None, group_plots: dict[str, str] | None = None
) -> str:
    plots, group_plots = plots or {}, group_plots or {}
    model, settings = result.model, result.settings
    git = (result.git.get("commit") or "unknown")[:12] + (" (dirty)" if result.git.get("dirty") else "")
    lines = [
        f"# Evaluation report: {model.get('name')}",
        "",
        f"- run `{result.run_id}`, {result.created_at}, git `{git}`",
        f"- model `{model.get('class')}` ({model.get('architecture')}), {model.get('num_parameters'):,} parameters, "
        f"dtype {model.get('dtype')}, device {model.get('device')}, {result.environment.get('world_size')} process(es)",
        f"- seed {settings.get('seed')}, limit {settings.get('limit')}, {settings.get('bootstrap_iters')} bootstrap "
        f"resamples ({settings.get('confidence', 0.95):.0%} intervals)",
        f"- requests {result.counts.get('requests')} ({result.counts.get('from_cache')} from cache), "
        f"{result.timing.get('total_s', 0):.1f} s",
        "",
    ]
    for group, tasks in _groups(result).items():
        section = group_section(group)
        lines += [
            f"## {section.title}",
            "",
            "| task | metric | value | ± stderr | 95% interval | prompt spread | n | better |",
            "|---|---|---:|---:|---|---|---:|---|",
        ]
        for task in tasks:
            for metric_name, metric in task.metrics.items():
                better = "higher" if metric.higher_is_better else "lower"
                lines.append(
                    f"| {task.name} | {metric_name} | {_fmt(metric.value)} | {_fmt(metric.stderr)} | "
                    f"{_interval(metric)} | {spread_cell(task, metric_name)} | {task.num_samples} | {better} |"
                )
        lines.append("")
        if section.lines is not None:
            lines += section.lines(tasks)
        if group in group_plots:
            lines += [f"![{group or 'results'}]({group_plots[group]})", ""]
        for task in tasks:
            mode = task.scoring_mode.get("mode")
            lines.append(f"### {task.name} (v{task.version}, {mode}, {task.num_samples} of {task.num_rows} rows)")
            lines.append("")
            lines += [f"![{Path(p).stem}]({p})" for p in plots.get(task.name, [])]
            signatures = {n: m.signature for n, m in task.metrics.items() if m.signature}
            lines += [f"- {n} signature: `{s}`" for n, s in signatures.items()]
            lines.append("")
    lines += calibration_lines(result)
    lines += robustness_lines(result)
    lines += spread_lines(result)
    versions = ", ".join(f"{k} {v}" for k, v in result.versions.items() if v)
    lines += ["## Environment", "", f"- {versions}", f"- {result.environment.get('platform')}", ""]
    return "\n".join(lines)


CALIBRATION_COLUMNS = {
    "ece_10_bin": "ECE (10 equal-mass bins)",
    "ece_10_bin_equal_width": "ECE (10 equal-width bins)",
    "brier": "Brier",
    "selective_acc_at_10": "accuracy of the 10% most confident",
    "selective_cov_acc_area": "area under accuracy-coverage",
}


def calibration_lines(result: RunResult) -> list[str]:
    """The "Calibration" section: one row per calibrated task (value ± bootstrap stderr), then the notes."""
    tasks = [task for task in result.tasks.values() if task.calibration is not None]
    if not tasks:
        return []
    lines = [
        "## Calibration",
        "",
        "Confidence = probability of the predicted choice. ECE and Brier: lower is better; selective accuracy "
        'and its area: higher is better. Definitions: docs/evaluation.md, "Calibration".',
        "",
        "| task | n | accuracy | mean confidence | " + " | ".join(CALIBRATION_COLUMNS.values()) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(CALIBRATION_COLUMNS),
    ]
    for task in tasks:
        calibration: CalibrationResult = task.calibration
        cells = [_with_stderr(calibration.metrics[name]) for name in CALIBRATION_COLUMNS if name in calibration.metrics]
        lines.append(
            f"| {task.name} | {calibration.num_samples} | {_fmt(calibration.accuracy)} | "
            f"{_fmt(calibration.mean_confidence)} | " + " | ".join(cells) + " |"
        )
    lines.append("")
    lines += [f"- {task.name}: confidence from the {task.calibration.confidence_source}" for task in tasks]
    lines += [f"- Note, {task.name}: {task.calibration.warning}" for task in tasks if task.calibration.warning]
    return lines + [""]


def robustness_lines(result: RunResult) -> list[str]:
    """The "Robustness" section: per task and metric, the clean score, each perturbation's, and the worst case per
    sample (value ± bootstrap stderr), then which fields were perturbed and how many inputs each one changed."""
    tasks = [task for task in result.tasks.values() if task.robustness is not None]
    if not tasks:
        return []
    lines = [
        "## Robustness",
        "",
        "Seeded perturbations of the task input only (never the target); worst case = per sample, the worst score "
        "over the clean input and every perturbation (HELM), averaged. Corpus metrics (BLEU, chrF) have no "
        "per-sample worst case.",
        "",
    ]
    for task in tasks:
        robustness = task.robustness
        names = robustness.perturbations
        lines += [
            f"### {task.name}",
            "",
            "| metric | clean | " + " | ".join(names) + " | worst case |",
            "|---|---:|" + "---:|" * len(names) + "---:|",
        ]
        for metric_name, metric in task.metrics.items():
            cells = [_with_stderr(robustness.scores[name][metric_name]) for name in names]
            worst = robustness.worst_case.get(metric_name)
            lines.append(
                f"| {metric_name} | {_with_stderr(metric)} | "
                + " | ".join(cells)
                + f" | {_with_stderr(worst) if worst else '–'} |"
            )
        changed = ", ".join(f"{name} {robustness.changed[name]:.0%}" for name in names)
        lines += ["", f"- fields perturbed: {', '.join(robustness.fields)}; inputs changed: {changed}", ""]
    return lines


def spread_cell(task: TaskResult, metric: str) -> str:
    """'range 0.0500, std 0.0210 over 4 formats; ...' for the results table ('–' without a spread)."""
    if task.spread is None:
        return "–"
    parts = []
    for kind, label in (("formats", "formats"), ("few_shot_seeds", "few-shot seeds")):
        item = task.spread.summary.get(metric, {}).get(kind)
        if item:
            parts.append(f"range {_fmt(item['range'])}, std {_fmt(item['std'])} over {item['n']} {label}")
    return "; ".join(parts) or "–"


def spread_lines(result: RunResult) -> list[str]:
    """The "Prompt and few-shot spread" section: every format's (and few-shot seed's) value of every metric."""
    tasks = [task for task in result.tasks.values() if task.spread is not None]
    if not tasks:
        return []
    lines = [
        "## Prompt and few-shot spread",
        "",
        "The same samples scored with each prompt format of the task (and, for few-shot tasks, each few-shot draw). "
        "A difference between two models smaller than this spread is within the prompt noise.",
        "",
    ]
    for task in tasks:
        for kind, label in (("formats", "format"), ("few_shot_seeds", "few-shot seed")):
            members = getattr(task.spread, kind)
            if not members:
                continue
            metrics = list(task.metrics)
            lines += [
                f"### {task.name}: by {label}",
                "",
                f"| {label} | " + " | ".join(metrics) + " |",
                "|---|" + "---:|" * len(metrics),
            ]
            for name, values in members.items():
                lines.append(f"| {name} | " + " | ".join(_with_stderr(values[m]) for m in metrics) + " |")
            lines.append("")
    return lines


def _robustness_figure(task: TaskResult):
    """Clean, each perturbation and the worst case, per metric that has a worst case (else every metric)."""
    robustness = task.robustness
    metrics = [name for name in task.metrics if name in robustness.worst_case] or list(task.metrics)
    columns = ["clean", *robustness.perturbations, "worst case"]
    figure = _figure(max(4.0, 0.9 * len(columns) * len(metrics) + 1.5), 3.2)
    axes = figure.add_subplot()
    width = 0.8 / len(columns)
    for j, column in enumerate(columns):
        values = []
        for name in metrics:
            if column == "clean":
                values.append(task.metrics[name])
            elif column == "worst case":
                values.append(robustness.worst_case.get(name))
            else:
                values.append(robustness.scores[column][name])
        present = [(i, m) for i, m in enumerate(values) if m is not None]
        axes.bar(
            [i + (j - (len(columns) - 1) / 2) * width for i, _ in present],
            [m.value for _, m in present],
            width,
            yerr=_error_bars([m for _, m in present]),
            capsize=3,
            label=column,
        )
    axes.set_xticks(range(len(metrics)), metrics)
    axes.set_title(f"{task.name}: robustness (n={task.num_samples}; bars: 95% bootstrap interval)", fontsize=9)
    axes.legend(fontsize=7, ncols=min(len(columns), 3))
    return figure


def _with_stderr(metric: MetricResult) -> str:
    return _fmt(metric.value) + ("" if metric.stderr is None else f" ± {_fmt(metric.stderr)}")


def _groups(result: RunResult) -> dict[str, list[TaskResult]]:
    groups: dict[str, list[TaskResult]] = {}
    for task in result.tasks.values():
        groups.setdefault(task.group, []).append(task)
    return dict(sorted(groups.items(), key=lambda item: (item[0] != "", item[0])))


def _fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.4f}"


def _interval(metric: MetricResult) -> str:
    if metric.ci_low is None:
        return "–"
    return f"[{_fmt(metric.ci_low)}, {_fmt(metric.ci_high)}]"


def _error_bars(metrics: list[MetricResult]):
    low = [m.value - m.ci_low if m.ci_low is not None else 0.0 for m in metrics]
    high = [m.ci_high - m.value if m.ci_high is not None else 0.0 for m in metrics]
    return [[max(v, 0.0) for v in low], [max(v, 0.0) for v in high]]


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _metric_figure(task: TaskResult):
    names, metrics = list(task.metrics), list(task.metrics.values())
    figure = _figure(max(3.5, 1.1 * len(names) + 1.5), 3.2)
    axes = figure.add_subplot()
    axes.bar(names, [m.value for m in metrics], yerr=_error_bars(metrics), capsize=5, color="#4C72B0")
    axes.set_title(f"{task.name} (n={task.num_samples}; bars: 95% bootstrap interval)", fontsize=9)
    axes.axhline(0, color="black", linewidth=0.6)
    axes.tick_params(axis="x", labelrotation=20)
    return figure


def _confusion_figure(task: TaskResult):
    labels, matrix = task.confusion_matrix["labels"], task.confusion_matrix["matrix"]
    figure = _figure(1.0 + 0.9 * len(labels) + 1.2, 0.9 * len(labels) + 1.4)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=30)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("prediction")
    axes.set_ylabel("reference")
    low, high = min(map(min, matrix)), max(map(max, matrix))
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            dark = high > low and (count - low) / (high - low) > 0.5
            axes.text(j, i, str(count), ha="center", va="center", color="white" if dark else "black")
    axes.set_title(f"{task.name}: confusion matrix", fontsize=9)
    figure.colorbar(image, ax=axes, shrink=0.8)
    return figure


def _reliability_figure(task: TaskResult):
    """Accuracy against confidence: bars per equal-width bin (the diagonal is perfect calibration), dots per
    equal-mass bin (each about a tenth of the samples)."""
    calibration: CalibrationResult = task.calibration
    figure = _figure(4.4, 3.8)
    axes = figure.add_subplot()
    width = [b for b in calibration.reliability["equal_width"] if b["upper"] > b["lower"]]
    axes.bar(
        [b["lower"] for b in width],
        [b["accuracy"] for b in width],
        width=[b["upper"] - b["lower"] for b in width],
        align="edge",
        color="#4C72B0",
        alpha=0.75,
        edgecolor="white",
        label="accuracy (equal-width bins)",
    )
    mass = calibration.reliability["equal_mass"]
    axes.plot(
        [b["mean_confidence"] for b in mass],
        [b["accuracy"] for b in mass],
        "o-",
        color="#DD8452",
        markersize=4,
        label="equal-mass bins",
    )
    axes.plot([0, 1], [0, 1], "--", color="gray", linewidth=1, label="perfect calibration")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("confidence (probability of the predicted choice)")
    axes.set_ylabel("accuracy")
    metrics = calibration.metrics
    axes.set_title(
        f"{task.name}: reliability (n={calibration.num_samples}); ECE equal-mass "
        f"{metrics['ece_10_bin'].value:.3f}, equal-width {metrics['ece_10_bin_equal_width'].value:.3f}",
        fontsize=8,
    )
    axes.legend(fontsize=7, loc="upper left")
    return figure


def _group_figure(group: str, tasks: list[TaskResult]):
    entries = [(f"{t.name}\n{n}", m) for t in tasks for n, m in t.metrics.items()]
    figure = _figure(max(4.0, 1.0 * len(entries) + 1.5), 3.6)
    axes = figure.add_subplot()
    metrics = [m for _, m in entries]
    axes.bar(
        [label for label, _ in entries],
        [m.value for m in metrics],
        yerr=_error_bars(metrics),
        capsize=4,
        color="#DD8452" if group else "#4C72B0",
    )
    axes.set_title(f"{group_section(group).title} (bars: 95% bootstrap interval)", fontsize=9)
    axes.axhline(0, color="black", linewidth=0.6)
    axes.tick_params(axis="x", labelsize=7)
    return figure


def _render(path: str, figure) -> Plot:
    return Plot(path, png_bytes(figure))


__all__ = [
    "write_report",
    "render_markdown",
    "render_plots",
    "calibration_lines",
    "robustness_lines",
    "spread_lines",
    "Plot",
    "Plots",
    "GroupSection",
    "GROUP_SECTIONS",
    "register_group_section",
    "group_section",
]
