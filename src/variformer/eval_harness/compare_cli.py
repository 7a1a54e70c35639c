"""`variformer compare RUN_A RUN_B [--output DIR]`: per task and metric, B − A with a paired bootstrap interval and
p-value over the samples both runs evaluated; writes comparison.md, comparison.json and comparison.png.

    variformer compare runs/gpt2-20261202-101500-123 runs/gpt2-lora-20261203-091200-456 --output runs/cmp

See `variformer.eval_harness.compare`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", type=Path, metavar="RUN_A", help="run folder (or its results.json): the baseline")
    parser.add_argument("run_b", type=Path, metavar="RUN_B", help="run folder (or its results.json) compared to A")
    parser.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="folder for comparison.md / .json / .png (default: compare_<A>_vs_<B> beside RUN_B)",
    )
    parser.add_argument("--bootstrap-iters", type=int, default=1000, help="paired bootstrap resamples (1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resamples (0)")
    parser.add_argument("--confidence", type=float, default=0.95, help="interval level (0.95)")


def run(args: argparse.Namespace) -> int:
    from .compare import compare_runs, render_markdown
    from .errors import HarnessError
    from .results import check_writable_folder

    run_a, run_b = _folder(args.run_a), _folder(args.run_b)
    output = args.output or run_b.parent / f"compare_{run_a.name}_vs_{run_b.name}"
    try:
        check_writable_folder(output, "--output")
        comparison = compare_runs(
            args.run_a,
            args.run_b,
            output_dir=output,
            bootstrap_iters=args.bootstrap_iters,
            seed=args.seed,
            confidence=args.confidence,
        )
    except HarnessError as error:
        print(f"variformer compare: error: {error}", file=sys.stderr)
        return 2
    print(render_markdown(comparison, plot=None))
    print(f"wrote {output / 'comparison.md'}, comparison.json and comparison.png")
    return 0


def _folder(path: Path) -> Path:
    return path.parent if path.name == "results.json" else path


__all__ = ["add_arguments", "run"]
