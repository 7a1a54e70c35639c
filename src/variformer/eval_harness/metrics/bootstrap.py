"""Bootstrap standard errors and percentile confidence intervals, shared by every metric module.

A metric is recomputed on `iters` resamples (with replacement) of the evaluated samples; the standard error is
the standard deviation of those values and the interval their (1 - confidence) / 2 and (1 + confidence) / 2
percentiles. Resampling is seeded, so the numbers are reproducible. Corpus metrics (BLEU, chrF, F1, MCC) are
recomputed from per-sample sufficient statistics, never by re-running the whole metric.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DEFAULT_ITERS = 1000
DEFAULT_CONFIDENCE = 0.95


def resample_indices(n: int, iters: int, seed: int) -> np.ndarray:
    """(iters, n) sample indices drawn with replacement from a generator seeded with `seed`."""
    return np.random.default_rng(seed).integers(0, n, size=(iters, n))


def summarize(values: np.ndarray, confidence: float = DEFAULT_CONFIDENCE) -> dict:
    """{"stderr", "ci_low", "ci_high"} of bootstrap replicates `values`."""
    values = np.asarray(values, dtype=np.float64)
    low, high = np.percentile(values, [50 * (1 - confidence), 50 * (1 + confidence)])
    return {
        "stderr": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "ci_low": float(low),
        "ci_high": float(high),
    }


def empty() -> dict:
    return {"stderr": None, "ci_low": None, "ci_high": None}


def bootstrap_mean(values, iters: int = DEFAULT_ITERS, seed: int = 0, confidence: float = DEFAULT_CONFIDENCE) -> dict:
    """Bootstrap summary of the mean of per-sample `values`."""
    values = np.asarray(values, dtype=np.float64)
    if iters <= 0 or values.size == 0:
        return empty()
    replicates = values[resample_indices(values.size, iters, seed)].mean(axis=1)  # (iters,)
    return summarize(replicates, confidence)


def bootstrap_statistic(
    n: int,
    statistic: Callable[[np.ndarray], float],
    iters: int = DEFAULT_ITERS,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict:
    """Bootstrap summary of `statistic(indices)`, called once per resample of the n samples."""
    if iters <= 0 or n == 0:
        return empty()
    replicates = np.array([statistic(idx) for idx in resample_indices(n, iters, seed)])
    return summarize(replicates, confidence)


def bootstrap_confusion(
    references,
    predictions,
    statistic: Callable[[np.ndarray], np.ndarray],
    iters: int = DEFAULT_ITERS,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict:
    """Bootstrap summary of a classification statistic computed from confusion matrices.

    `statistic` maps (iters, k, k) confusion matrices (rows: reference, columns: prediction) to (iters,) values.
    """
    references, predictions = np.asarray(references), np.asarray(predictions)
    if iters <= 0 or references.size == 0:
        return empty()
    labels, codes = np.unique(np.concatenate([references, predictions]), return_inverse=True)
    k, n = labels.size, references.size
    pair_codes = codes[:n] * k + codes[n:]  # (n,) reference-major cell of each sample
    idx = resample_indices(n, iters, seed)
    offsets = np.arange(iters)[:, None] * (k * k)  # (iters, 1)
    cells = np.bincount((pair_codes[idx] + offsets).ravel(), minlength=iters * k * k)
    return summarize(statistic(cells.reshape(iters, k, k)), confidence)


def as_output(name: str, value: float, summary: dict) -> dict:
    """The shape every metric module returns: {name: value, "stderr": {name: ..}, "confidence_interval": ..}."""
    interval = None if summary["ci_low"] is None else [summary["ci_low"], summary["ci_high"]]
    return {name: value, "stderr": {name: summary["stderr"]}, "confidence_interval": {name: interval}}


def merge_outputs(*outputs: dict) -> dict:
    """Merge several `as_output` dicts (one per score name) into one."""
    merged: dict = {"stderr": {}, "confidence_interval": {}}
    for output in outputs:
        for key, value in output.items():
            if key in ("stderr", "confidence_interval"):
                merged[key].update(value)
            else:
                merged[key] = value
    return merged
