"""Timing and memory helpers: warm-up excluded, median of timed iterations, CUDA synchronized around each."""

from __future__ import annotations

import contextlib
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass
class Timing:
    """Wall-clock seconds of each timed iteration (warm-up iterations excluded) and of the first warm-up one;
    `cpu_times_s`: the process CPU seconds of each timed iteration, when measured."""

    times_s: list[float]
    first_call_s: float | None
    cpu_times_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(step: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> Timing:
    """Run `step` `warmup` times untimed (the first one is timed apart, e.g. to report compile time), then
    `repeats` times timed."""
    first_call_s = None
    for index in range(warmup):
        start = time.perf_counter()
        step()
        synchronize(device)
        if index == 0:
            first_call_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return Timing(times_s=times, first_call_s=first_call_s)


def measure_alternating(
    steps: dict[str, Callable[[], object]], device: torch.device, warmup: int, repeats: int
) -> dict[str, Timing]:
    """Time several `steps` in turns, the order reversed every round (a, b, b, a, ...), so that load on a shared
    machine falls on all of them alike. Wall and process CPU seconds per timed call; `warmup` untimed rounds."""
    for _ in range(warmup):
        for step in steps.values():
            step()
    timings = {name: Timing(times_s=[], first_call_s=None) for name in steps}
    names = list(steps)
    for round_index in range(repeats):
        for name in names if round_index % 2 == 0 else reversed(names):
            synchronize(device)
            cpu_start, start = time.process_time(), time.perf_counter()
            steps[name]()
            synchronize(device)
            timings[name].times_s.append(time.perf_counter() - start)
            timings[name].cpu_times_s.append(time.process_time() - cpu_start)
    return timings


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device) -> int | None:
    """Peak allocated CUDA memory since the last reset; None off CUDA (not comparable there)."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return None


def release_memory(device: torch.device) -> None:
    """Free what the previous measurement left (models, compiled graphs), so each model starts alike."""
    torch._dynamo.reset()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when `enabled`; nothing (fp32) otherwise."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


__all__ = [
    "Timing",
    "measure",
    "measure_alternating",
    "synchronize",
    "reset_peak_memory",
    "peak_memory_bytes",
    "release_memory",
    "autocast",
]
