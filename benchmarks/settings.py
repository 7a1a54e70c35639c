"""Run-wide settings of a benchmark run, resolved once from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .shapes import FULL_LEVERS, LeverSizes, Shapes

# bf16 dense peak of an H100 SXM (and of an H200, which has the same compute), in FLOP/s.
H100_BF16_DENSE_PEAK_FLOPS = 989e12


@dataclass(frozen=True)
class Settings:
    device: torch.device
    shapes: Shapes
    quick: bool
    warmup: int
    repeats: int
    attn_implementation: str
    harness_questions: int | None  # None: every question of the file
    truthfulqa_path: Path
    seed: int = 0
    levers: LeverSizes = FULL_LEVERS  # sizes of the decoding-overhead and memory rows

    @property
    def on_gpu(self) -> bool:
        return self.device.type == "cuda"

    @property
    def call_warmup(self) -> int:
        """Untimed `generate()` calls per decoding measurement: at most 2 (one absorbs a static-cache compile)."""
        return min(self.warmup, 2)

    @property
    def call_repeats(self) -> int:
        """Timed `generate()` calls per decoding measurement: at most 5 (each call is hundreds of steps)."""
        return min(self.repeats, 5)

    @property
    def harness_passes(self) -> int:
        """Timed passes over all harness requests: at most 3 (the one-at-a-time pass is long)."""
        return max(1, min(self.repeats, 3))

    @property
    def inference_dtype(self) -> torch.dtype:
        """Weights dtype of the decoding and harness rows: bf16 on GPU, fp32 on CPU."""
        return torch.bfloat16 if self.on_gpu else torch.float32

    @property
    def training_dtype(self) -> str:
        return "fp32 weights + bf16 autocast" if self.on_gpu else "fp32"


__all__ = ["Settings", "H100_BF16_DENSE_PEAK_FLOPS"]
