"""Peak memory of one training step on the CPU: the peak RSS of a fresh subprocess per model.

Each measurement runs in its own Python process (`python -m benchmarks.memory ...`, started by
`measure_peak_rss`), so no allocation of another model or of the parent stays in the figure:

1. build the model (random weights, fp32) and a fused AdamW optimizer, as `benchmarks.training` does;
2. one warm-up step on a 1 x 8-token batch, so the optimizer state exists (as in steady-state training) while
   costing almost nothing;
3. one step (forward with labels, backward, optimizer step, zero_grad) on the measured batch.

The child prints one JSON line: the peak RSS of the whole process (`ru_maxrss`), the RSS before the measured step
(weights, gradients freed, optimizer state) and their difference (what the step itself added), plus the loss.
The models are the target shapes (GPT-2 small, BERT-base, T5-base) with a smaller batch, which fits a CPU
machine; the logits' share of the step grows with the number of tokens, while the weights, gradients and optimizer
state do not, so the full GPU batch shows a larger saving than this. Dropout is off in both models: on the CPU,
attention dropout sends PyTorch's SDPA to its math kernel, which stores the (batch, heads, seq, seq) attention
weights of every layer (gigabytes at seq 1024, the same for both models), a cost the GPU kernels do not have.

Legend: batch, seq = sequence length.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def measure_peak_rss(
    side: str, workload: str, preset_shapes: str, batch: int, threads: int, timeout_s: float = 1800
) -> dict:
    """Run the child process for one model and return its JSON report (peak RSS in bytes and more), plus the
    child's wall time in seconds (`wall_s`)."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.memory",
        "--side",
        side,
        "--workload",
        workload,
        "--shapes",
        preset_shapes,
        "--batch",
        str(batch),
        "--threads",
        str(threads),
    ]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"memory child for {side} {workload} exited {completed.returncode}: "
            f"{completed.stderr.strip().splitlines()[-1:]}"
        )
    return {**json.loads(completed.stdout.strip().splitlines()[-1]), "wall_s": time.perf_counter() - started}


def _rss_bytes() -> int:
    """Current resident set size (Linux /proc; 0 where it is unavailable)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _child(args: argparse.Namespace) -> dict:
    import torch

    from . import shapes as shape_sets
    from . import training
    from .models import build_model
    from .settings import Settings

    torch.set_num_threads(args.threads)
    shapes = {"target": shape_sets.TARGET, "tiny": shape_sets.TINY}[args.shapes]
    shapes = shape_sets.with_batch(shapes, args.workload, args.batch)
    settings = Settings(
        device=torch.device("cpu"),
        shapes=shapes,
        quick=True,
        warmup=0,
        repeats=0,
        attn_implementation="sdpa",
        harness_questions=None,
        truthfulqa_path=Path("."),
    )
    config = shape_sets.CONFIG_BUILDERS[args.workload](shapes)
    config.hidden_dropout_prob = config.attention_dropout = 0.0  # both models: see the module docstring
    model = build_model(args.side, args.workload, config, "sdpa", "cpu").train()
    optimizer = training.make_optimizer(model)

    def step(batch: dict) -> float:
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    warmup = replace(settings, shapes=shape_sets.with_tokens(shapes, batch=1, length=8))
    step(training.make_batch(args.workload, warmup, config.vocab_size)[0])
    before = _rss_bytes()
    batch, tokens = training.make_batch(args.workload, settings, config.vocab_size)
    loss = step(batch)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return {
        "peak_rss_bytes": peak,
        "rss_before_step_bytes": before,
        "step_rss_bytes": max(peak - before, 0),
        "tokens": tokens,
        "loss": loss,
        "label": f"{type(model).__name__}",
        "batch": args.batch,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one training step's peak RSS (a child of benchmarks/run.py)")
    parser.add_argument("--side", choices=("variformer", "stock"), required=True)
    parser.add_argument("--workload", choices=("decoder", "encoder", "encoder-decoder"), required=True)
    parser.add_argument("--shapes", choices=("target", "tiny"), default="target")
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    print(json.dumps(_child(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
