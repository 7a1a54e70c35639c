"""Evaluation harness: score any transformers model (causal LM, seq2seq LM, sequence classifier) on tasks.

    from variformer.eval_harness import evaluate
    result = evaluate(model, tokenizer, tasks=["sst2", "multi30k_de_en", "xsum"], limit=50, output_dir="runs/x")
    result.tasks["sst2"].metrics["accuracy"].value

Parts (STYLE section 8): tasks (`tasks/`: the `Task` dataclass, registry, YAML loader, scoring modes), metrics
(`metrics/`: evaluate modules loaded offline, bootstrap), model adapters (`adapters/`), the runner
(`runner.py`), the results schema (`results.py`) and the reports (`report.py`, `html_report.py`).
`variformer eval` is `cli.py`, `variformer report` is `report_cli.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .adapters import FakeAdapter, HFAdapter, ModelAdapter, load_adapter
from .compare import Comparison, compare_runs
from .errors import CapabilityError, DataError, HarnessError, SettingError, TaskDefinitionError, UnknownTaskError
from .metrics import MetricDef, mean_of
from .quantization import PrecisionComparison, compare_precision
from .records import (
    ClassificationRequest,
    ClassificationResult,
    GenerationRequest,
    GenerationSettings,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Outcome,
)
from .results import MetricResult, RunResult, SampleRecord, TaskResult, check_writable_folder, read_results
from .runner import Runner, save_run, with_overrides
from .tasks import DataSource, FewShot, Task, get_task, list_tasks, load_task_yaml, register_task, resolve_tasks


def evaluate(
    model,
    tokenizer=None,
    tasks: Sequence[str | Path | Task] | None = None,
    *,
    limit: int | None = None,
    output_dir: str | Path | None = None,
    batch_size: int | str = "auto",
    seed: int = 0,
    num_fewshot: int | None = None,
    task_data: Mapping[str, str] | None = None,
    cache_dir: str | Path | None = "auto",
    bootstrap_iters: int = 1000,
    progress: bool = True,
    architecture: str = "auto",
    padding_side: str = "right",
    max_length: int | None = None,
    report: bool = True,
    allow_code: bool = False,
    calibration: bool = True,
    robustness: str | Sequence[str] | None = "mild",
    prompt_spread: bool = True,
    fewshot_seeds: int = 3,
    quantize: str | None = None,
    dtype: str = "auto",
    device: str | None = None,
) -> RunResult:
    """Evaluate `model` on `tasks` and return the `RunResult` (per-sample records in `result.samples`).

    model: a transformers model (with `tokenizer`), a local folder / Hub id, or a `ModelAdapter`.
    tasks: registered task names, YAML task files or `Task` objects.
    allow_code: let YAML task files use functions from .py files beside them (this runs those files; the CLI's
        --allow-task-code). Without it a YAML file names only registered functions.
    limit: first `limit` rows per task. num_fewshot: override every task's few-shot count.
    task_data: {task name: JSON-lines path} to read a task's rows from another file.
    output_dir: when given, write results.json, samples/<task>.jsonl, report.md, report.html and plots/ there.
    cache_dir: per-request cache folder; "auto" = `<output_dir>/cache` when output_dir is given, else none;
        None disables it.
    calibration: confidences and calibration of multiple-choice and classifier-head tasks (the CLI's
        --no-calibration turns it off).
    robustness: seeded input perturbations every task with input fields is also scored under ("mild": lowercase,
        contractions, misspellings, whitespace; "none"; or a list of names, `robustness.PERTURBATIONS`); each
        perturbation's scores and the worst case per sample land in `TaskResult.robustness`.
    prompt_spread: also score each task in its other prompt formats (`Task.formats`) and, for few-shot tasks,
        with `fewshot_seeds` - 1 other few-shot draws; per-format / per-seed scores, their range and standard
        deviation land in `TaskResult.spread`.
    quantize: "int8" (CPU: torchao; CUDA: bitsandbytes) or "int4" (CUDA, bitsandbytes NF4); a model object is
        quantized as a copy. `compare_precision` runs both precisions side by side.
    dtype, device: for a model loaded from a folder or Hub id.
    """
    if not tasks:
        raise TaskDefinitionError(f"give tasks=[...]; registered tasks: {', '.join(list_tasks())}")
    if isinstance(tasks, (str, Path, Task)):
        tasks = [tasks]
    resolved = with_overrides(
        resolve_tasks(tasks, allow_code=allow_code), num_fewshot=num_fewshot, task_data=dict(task_data or {})
    )
    if cache_dir == "auto":
        cache_dir = Path(output_dir) / "cache" if output_dir is not None else None
    for folder, option in ((output_dir, "output_dir"), (cache_dir, "cache_dir")):
        if folder is not None:
            check_writable_folder(folder, option)
    adapter = load_adapter(
        model,
        tokenizer,
        architecture=architecture,
        quantize=quantize,
        dtype=dtype,
        device=device,
        batch_size=batch_size,
        padding_side=padding_side,
        max_length=max_length,
    )
    runner = Runner(
        adapter,
        seed=seed,
        limit=limit,
        bootstrap_iters=bootstrap_iters,
        cache_dir=cache_dir,
        progress=progress,
        calibration=calibration,
        robustness=robustness,
        prompt_spread=prompt_spread,
        fewshot_seeds=fewshot_seeds,
    )
    result = runner.run(resolved)
    if output_dir is not None and runner.processes.is_main:
        save_run(result, output_dir, report=report)
    return result


__all__ = [
    "evaluate",
    "Runner",
    "save_run",
    "compare_runs",
    "compare_precision",
    "PrecisionComparison",
    "Comparison",
    "Task",
    "DataSource",
    "FewShot",
    "GenerationSettings",
    "register_task",
    "get_task",
    "list_tasks",
    "load_task_yaml",
    "resolve_tasks",
    "MetricDef",
    "mean_of",
    "ModelAdapter",
    "HFAdapter",
    "FakeAdapter",
    "load_adapter",
    "LoglikelihoodRequest",
    "GenerationRequest",
    "ClassificationRequest",
    "LoglikelihoodResult",
    "ClassificationResult",
    "Outcome",
    "RunResult",
    "TaskResult",
    "MetricResult",
    "SampleRecord",
    "read_results",
    "HarnessError",
    "TaskDefinitionError",
    "UnknownTaskError",
    "DataError",
    "CapabilityError",
    "SettingError",
]
