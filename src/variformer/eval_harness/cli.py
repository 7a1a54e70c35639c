"""`variformer eval`: evaluate a model folder / Hub id on harness tasks and write results, samples and report.

variformer eval --model runs/tiny --tasks sst2,multi30k_de_en,xsum --batch-size auto --output runs/
accelerate launch --multi_gpu --num_processes 2 -m variformer.cli eval --model ...
    (data-parallel over GPUs, or over CPU processes when there is no GPU; same results as one process)
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

DEFAULT_TASKS = "sst2,multi30k_de_en,xsum"
DTYPES = ("auto", "float32", "bfloat16", "float16")
# option -> (smallest valid value, what the option means): checked before any work
INT_RANGES = {
    "limit": (1, "N evaluates the first N rows of each task; leave it out for all rows"),
    "num_fewshot": (0, "few-shot examples per prompt"),
    "max_batch_size": (1, "where --batch-size auto starts"),
    "max_length": (1, "longest model input in tokens; leave it out to use the model's own limit"),
    "bootstrap_iters": (0, "bootstrap resamples; 0 turns stderr off"),
    "fewshot_seeds": (1, "few-shot draws per few-shot task; 1 scores the run's own draw only"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="local model folder or Hub id (with --architecture fake: any name)")
    parser.add_argument("--tokenizer", help="folder or Hub id of the tokenizer (default: the model's own)")
    parser.add_argument(
        "--tasks",
        default=DEFAULT_TASKS,
        help=f"comma-separated task names or YAML task files (default: {DEFAULT_TASKS})",
    )
    parser.add_argument(
        "--allow-task-code",
        action="store_true",
        help="let YAML task files use functions from .py files beside them ('FILE:FUNCTION'); "
        "this runs those files, so only for task files you trust",
    )
    parser.add_argument(
        "--task-data",
        action="append",
        default=[],
        metavar="TASK=PATH",
        help="read TASK's rows from the JSON-lines file PATH (repeatable)",
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N rows of each task")
    parser.add_argument("--num-fewshot", type=int, help="few-shot examples per prompt (overrides the tasks)")
    parser.add_argument("--batch-size", default="auto", help="an int, or 'auto': the largest that fits (default)")
    parser.add_argument("--max-batch-size", type=int, default=64, help="where --batch-size auto starts (64)")
    parser.add_argument("--max-length", type=int, help="longest model input in tokens (default: from the model)")
    parser.add_argument("--padding-side", choices=("right", "left"), default="right")
    parser.add_argument(
        "--architecture",
        default="auto",
        choices=("auto", "causal", "seq2seq", "classifier", "fake"),
        help="how to load and score the model (default: from its config); 'fake' = a deterministic "
        "stand-in model to check a pipeline",
    )
    parser.add_argument(
        "--dtype", default="auto", choices=DTYPES, help="weights dtype (default: auto, from the checkpoint)"
    )
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    parser.add_argument("--revision", help="Hub revision of the model")
    parser.add_argument("--output", default="runs", help="folder for run folders (default: runs/)")
    parser.add_argument("--cache-dir", help="per-request cache (default: OUTPUT/cache)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the per-request cache")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap-iters", type=int, default=1000, help="bootstrap resamples for stderr (0: none)")
    parser.add_argument(
        "--no-calibration",
        action="store_true",
        help="skip confidences and calibration (ECE, Brier, selective accuracy) of multiple-choice and "
        "classifier-head tasks",
    )
    parser.add_argument(
        "--robustness",
        default="mild",
        metavar="none|mild|PERTURBATION,...",
        help="also score every task with input fields under seeded input perturbations and report each one and the "
        "worst case per sample: 'mild' (default: lowercase, contractions, misspellings, whitespace), 'none', or a "
        "comma-separated list of those names",
    )
    parser.add_argument(
        "--no-prompt-spread",
        action="store_true",
        help="score each task in its own prompt format only (default: also in its other formats, and few-shot "
        "tasks with --fewshot-seeds draws, reporting the spread beside the stderr)",
    )
    parser.add_argument(
        "--fewshot-seeds", type=int, default=3, help="few-shot draws scored for the spread of few-shot tasks (3)"
    )
    parser.add_argument(
        "--quantize",
        default="none",
        choices=("none", "int8", "int4"),
        help="evaluate quantized weights: int8 (CPU: torchao dynamic int8 of every nn.Linear; CUDA: bitsandbytes "
        "LLM.int8()) or int4 (CUDA: bitsandbytes NF4)",
    )
    parser.add_argument(
        "--compare-precision",
        action="store_true",
        help="run the tasks at full precision and with --quantize (default int8) in one command and write both runs "
        "and one table of the differences with paired intervals, model size and time",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--list-tasks", action="store_true", help="list the registered tasks and exit")


def run(args: argparse.Namespace) -> int:
    from .errors import HarnessError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except HarnessError as error:
        print(f"variformer eval: error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from .adapters import FakeAdapter, HFAdapter, load_pretrained
    from .errors import SettingError, TaskDefinitionError
    from .quantization import describe_quantization, write_precision_comparison
    from .results import check_writable_folder
    from .robustness import parse_robustness
    from .runner import Runner, save_run, with_overrides
    from .tasks import get_task, list_tasks, resolve_tasks

    if args.list_tasks:
        for name in list_tasks():
            task = get_task(name)
            print(
                f"{name:24s} v{task.version}  {', '.join(m.name for m in task.scoring):40s} "
                f"{', '.join(m.name for m in task.metrics)}"
            )
        return 0
    if not args.model:
        raise TaskDefinitionError("--model is required (a model folder or Hub id)")
    _check_ranges(args)
    robustness = parse_robustness(args.robustness)  # before any model loads
    quantize = "int8" if args.compare_precision and args.quantize == "none" else args.quantize
    if args.architecture == "fake" and quantize != "none":
        raise SettingError("--quantize and --compare-precision need a real model, not --architecture fake")
    batch_size = args.batch_size if args.batch_size == "auto" else _positive_int(args.batch_size, "--batch-size")
    task_data = dict(_pair(item) for item in args.task_data)
    tasks = with_overrides(
        resolve_tasks((t.strip() for t in args.tasks.split(",") if t.strip()), allow_code=args.allow_task_code),
        num_fewshot=args.num_fewshot,
        task_data=task_data,
    )
    output = check_writable_folder(args.output, "--output")
    cache_dir = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else output / "cache"
    if cache_dir is not None:
        check_writable_folder(cache_dir, "--cache-dir" if args.cache_dir else "--output (for its cache/)")

    def adapter_for(quantize: str):
        if args.architecture == "fake":
            return FakeAdapter(name=args.model)
        device = _check_device(args.device) if args.device else _default_device()
        model, tokenizer = load_pretrained(
            args.model,
            architecture=args.architecture,
            dtype=args.dtype,
            device=device,
            revision=args.revision,
            tokenizer=args.tokenizer,
            max_length=args.max_length,
            quantize=quantize,
        )
        label = None if quantize == "none" else f"{quantize}: {describe_quantization(quantize, device.split(':')[0])}"
        return HFAdapter(
            model,
            tokenizer,
            batch_size=batch_size,
            max_batch_size=args.max_batch_size,
            max_length=args.max_length,
            padding_side=args.padding_side,
            name=args.model,
            quantization=label,
        )

    def run(adapter):
        runner = Runner(
            adapter,
            seed=args.seed,
            limit=args.limit,
            bootstrap_iters=args.bootstrap_iters,
            cache_dir=cache_dir,
            progress=not args.no_progress,
            calibration=not args.no_calibration,
            robustness=robustness,
            prompt_spread=not args.no_prompt_spread,
            fewshot_seeds=args.fewshot_seeds,
        )
        result = runner.run(tasks)
        if not runner.processes.is_main:
            return result, None
        path = save_run(result, output / result.run_id)
        _print_summary(result, path.parent)
        return result, path.parent

    if not args.compare_precision:
        run(adapter_for(quantize))
        return 0
    full, full_folder = run(adapter_for("none"))
    quantized, quantized_folder = run(adapter_for(quantize))
    if full_folder is not None:
        precision = write_precision_comparison(full, full_folder, quantized, quantized_folder, output)
        print(f"precision: {precision.folder / 'precision.md'}")
    return 0


def _print_summary(result, folder: Path) -> None:
    for name, task in result.tasks.items():
        for metric_name, metric in task.metrics.items():
            stderr = "" if metric.stderr is None else f" ± {metric.stderr:.4f}"
            print(f"{name:20s} {metric_name:12s} {metric.value:.4f}{stderr}  (n={task.num_samples})")
    print(f"results: {folder / 'results.json'}\nreport:  {folder / 'report.md'}\npage:    {folder / 'report.html'}")


def _pair(item: str) -> tuple[str, str]:
    from .errors import TaskDefinitionError

    name, sep, path = item.partition("=")
    if not sep or not name or not path:
        raise TaskDefinitionError(f"--task-data expects TASK=PATH, got {item!r}")
    return name.strip(), path.strip()


def _check_ranges(args: argparse.Namespace) -> None:
    from .errors import SettingError

    for name, (minimum, meaning) in INT_RANGES.items():
        value = getattr(args, name)
        if value is not None and value < minimum:
            raise SettingError(f"--{name.replace('_', '-')} must be an integer >= {minimum}, got {value} ({meaning})")
    for item in args.task_data:
        path = Path(_pair(item)[1])
        if not path.is_file():
            raise SettingError(f"--task-data {item}: there is no file {path}; give TASK=PATH of a JSON-lines file")


def _check_device(device: str) -> str:
    """`device` if torch knows it and this machine has it; SettingError with the devices it has otherwise."""
    import torch

    from .errors import SettingError

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as error:
        raise SettingError(f"--device {device!r} is not a device ({error}); use cpu, cuda or cuda:N") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise SettingError(
                f"--device {device}: CUDA is not available on this machine "
                "(torch.cuda.is_available() is False); use --device cpu or leave --device out"
            )
        if parsed.index is not None and parsed.index >= count:
            raise SettingError(
                f"--device {device}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}"
            )
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise SettingError(f"--device {device}: MPS is not available on this machine; use --device cpu")
    return device


def _positive_int(text: str, option: str) -> int:
    from .errors import TaskDefinitionError

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise TaskDefinitionError(f"{option} must be a positive integer or 'auto', got {text!r}")
    return value


def _default_device() -> str:
    import torch

    from .runner import distributed_state

    state = distributed_state()
    if state is not None:
        return str(state.device)
    return "cuda" if torch.cuda.is_available() else "cpu"


__all__ = ["add_arguments", "run"]
