"""The harness step of `variformer quickstart`: evaluate the saved quickstart models on every task family they
can serve and write one report per model plus a combined summary."""

from __future__ import annotations

from pathlib import Path

from .results import RunResult, atomic_write_bytes

# quickstart model folder -> tasks of every family the model can serve (classification, translation,
# summarization, hallucination probes); sst2 runs by classifier head or by label log-likelihood as the model allows
HALLUCINATION_PROBES = (
    "truthfulqa_mc1",
    "truthfulqa_mc2",
    "halueval_qa",
    "summary_faithfulness",
    "multi30k_de_en_unsupported",
)
QUICKSTART_TASKS = {
    "decoder": ("sst2", "multi30k_de_en", "xsum", *HALLUCINATION_PROBES),
    "encoder": ("sst2",),
    "encoder-decoder": ("sst2", "multi30k_de_en", "xsum", *HALLUCINATION_PROBES),
}


def evaluate_quickstart_models(
    output: str | Path, limit: int | None = 100, seed: int = 0, progress: bool = True
) -> dict:
    """Evaluate `<output>/<variant>` for each quickstart variant present; reports go to `<output>/eval/<variant>/`,
    a combined table to `<output>/eval/summary.md` and the runs side by side to `<output>/eval/summary.html`.
    Returns {variant: {task: {metric: {value, stderr}}}}."""
    from . import evaluate
    from .html_report import write_runs_page

    output = Path(output)
    runs: dict[str, RunResult] = {}
    for variant, tasks in QUICKSTART_TASKS.items():
        folder = output / variant
        if not (folder / "config.json").is_file():
            continue
        runs[variant] = evaluate(
            str(folder),
            tasks=list(tasks),
            limit=limit,
            seed=seed,
            output_dir=output / "eval" / variant,
            cache_dir=output / "eval" / "cache",
            progress=progress,
        )
    atomic_write_bytes(output / "eval" / "summary.md", _summary(runs).encode("utf-8"))
    if runs:
        write_runs_page([output / "eval" / variant for variant in runs], output / "eval" / "summary.html")
    return {
        variant: {
            name: {
                metric_name: {"value": metric.value, "stderr": metric.stderr}
                for metric_name, metric in task.metrics.items()
            }
            for name, task in run.tasks.items()
        }
        for variant, run in runs.items()
    }


def _summary(runs: dict[str, RunResult]) -> str:
    from .report import spread_cell

    lines = [
        "# Quickstart evaluation",
        "",
        "Worst case: per sample, the worst score over the clean input and each robustness perturbation. Prompt "
        "spread: range and standard deviation over the task's prompt formats. ECE: expected calibration error, 10 "
        "equal-mass bins. Details in each model's report.",
        "",
        "| model | task | scoring | metric | value | ± stderr | worst case | prompt spread | ECE | n |",
        "|---|---|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for variant, run in runs.items():
        for name, task in run.tasks.items():
            for metric_name, metric in task.metrics.items():
                stderr = "–" if metric.stderr is None else f"{metric.stderr:.4f}"
                worst = task.robustness.worst_case.get(metric_name) if task.robustness else None
                ece = task.calibration.metrics.get("ece_10_bin") if task.calibration else None
                lines.append(
                    f"| {variant} | {name} | {task.scoring_mode['mode']} | {metric_name} | "
                    f"{metric.value:.4f} | {stderr} | {'–' if worst is None else f'{worst.value:.4f}'} | "
                    f"{spread_cell(task, metric_name)} | {'–' if ece is None else f'{ece.value:.4f}'} | "
                    f"{task.num_samples} |"
                )
    lines += [""] + [f"- {variant}: [report]({variant}/report.md), [page]({variant}/report.html)" for variant in runs]
    lines += ["- all runs side by side, with their samples: [summary.html](summary.html)", ""]
    return "\n".join(lines)


__all__ = ["evaluate_quickstart_models", "QUICKSTART_TASKS"]
