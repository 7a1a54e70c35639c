"""The hallucination section of the run report: one headline number per probe (with its chance level where one
exists), the ratios that are not means of per-sample scores, and an overview plot on a common 0-1 scale.

Only reads `TaskResult`s, so it works on any run (also one read back with `read_results`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..results import MetricResult, TaskResult

# task-name prefix -> (headline metric, what it says, chance level or None)
HEADLINES: dict[str, tuple[str, str, float | None]] = {
    "truthfulqa_mc1": ("mc1", "P(top choice is true)", None),
    "truthfulqa_mc2": ("mc2", "probability mass on true answers", None),
    "truthfulqa_gen": ("bleu_acc", "answers closer (BLEU) to a true than a false reference", None),
    "halueval_": ("accuracy", "hallucination judged right", 0.5),
    "summary_faithfulness": ("faithful_preference", "faithful summary preferred", 0.5),
}


def derived_metrics(task_name: str, metrics: Mapping[str, float | None]) -> dict[str, float | None]:
    """Ratios of mean per-sample counts: HaluEval precision / recall / F1 of "Yes"; pooled unsupported rates."""
    value = metrics.get
    ratio = lambda a, b: (a / b) if a is not None and b else None  # noqa: E731 (local helper)
    if task_name.startswith("halueval_") and value("true_yes") is not None:
        precision = ratio(value("true_yes"), value("predicted_yes")) or 0.0
        recall = ratio(value("true_yes"), value("gold_yes")) or 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision_yes": precision, "recall_yes": recall, "f1_yes": f1}
    if value("items") is not None:
        return {
            "unsupported_rate": ratio(value("unsupported_items"), value("items")),
            "unsupported_entity_rate": ratio(value("unsupported_entities"), value("entities")),
            "unsupported_number_rate": ratio(value("unsupported_numbers"), value("numbers")),
        }
    return {}


def headline(task: TaskResult) -> tuple[str, str, MetricResult | None, float | None]:
    """(metric name, meaning, the metric, chance level) of a hallucination task."""
    if "items" in task.metrics:
        return (
            "has_unsupported",
            "outputs with an unsupported entity / number (lower is better)",
            task.metrics.get("has_unsupported"),
            None,
        )
    for prefix, (name, meaning, chance) in HEADLINES.items():
        if task.name.startswith(prefix) and name in task.metrics:
            return name, meaning, task.metrics[name], chance
    name, metric = next(iter(task.metrics.items()))
    return name, name, metric, None


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.4f}"


def section_lines(tasks: Sequence[TaskResult]) -> list[str]:
    """Markdown: the headline table and the derived ratios of the hallucination tasks."""
    lines = [
        "### Headline numbers",
        "",
        "| probe | headline | value | ± stderr | chance | also |",
        "|---|---|---:|---:|---:|---|",
    ]
    for task in tasks:
        name, meaning, metric, chance = headline(task)
        values = {key: m.value for key, m in task.metrics.items()}
        extra = ", ".join(f"{key} {_fmt(v)}" for key, v in derived_metrics(task.name, values).items())
        lines.append(
            f"| {task.name} | {name}: {meaning} | {_fmt(metric.value if metric else None)} | "
            f"{_fmt(metric.stderr if metric else None)} | {_fmt(chance)} | {extra or '–'} |"
        )
    note = (
        'HaluEval precision / recall are those of the "Yes, hallucinated" class; unsupported rates pool all '
        "entities and numbers of all outputs (see docs/hallucination.md)."
    )
    lines += ["", note, ""]
    return lines


def headline_figure(tasks: Sequence[TaskResult]):
    """Horizontal bars of each probe's headline number (0-1) with 95 % intervals and chance marks."""
    from matplotlib.figure import Figure

    rows = [(task.name, *headline(task)) for task in tasks]
    rows = [row for row in rows if row[3] is not None]
    figure = Figure(figsize=(6.4, 0.45 * len(rows) + 1.4), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    labels = [f"{task} ({name})" for task, name, _, _, _ in rows]
    values = [metric.value for _, _, _, metric, _ in rows]
    errors = [
        [max(m.value - m.ci_low, 0.0) if m.ci_low is not None else 0.0 for _, _, _, m, _ in rows],
        [max(m.ci_high - m.value, 0.0) if m.ci_high is not None else 0.0 for _, _, _, m, _ in rows],
    ]
    positions = list(range(len(rows)))
    axes.barh(positions, values, xerr=errors, capsize=4, color="#C44E52")
    for position, (_, _, _, _, chance) in zip(positions, rows):
        if chance is not None:
            axes.plot([chance, chance], [position - 0.4, position + 0.4], color="black", linestyle="--", linewidth=1)
    axes.set_yticks(positions, labels, fontsize=7)
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_title("Hallucination probes (95% bootstrap intervals; dashes: chance)", fontsize=9)
    return figure


__all__ = ["HEADLINES", "derived_metrics", "headline", "section_lines", "headline_figure"]
