"""Calibration of multiple-choice and classifier-head predictions: is a model right as often as it is confident?

Per sample the inputs are the probabilities of the answer choices (a softmax over the per-choice log-likelihoods,
or the classifier head's softmax), the predicted choice and the target choice. The *confidence* of a sample is the
probability of its predicted choice; it is *correct* when the prediction equals the target. From those:

- `ece_equal_mass`: expected calibration error with equal-mass bins (each bin holds about n / 10 samples; bin edges
  halfway between neighbouring sorted confidences). HELM's `ece_10_bin`, which calls `calibration.get_ece_em`
  of the uncertainty-calibration package (Kumar et al., 2019).
- `ece_equal_width`: the same with bins [0, .1), [.1, .2), ..., [.9, 1.0) and a confidence of exactly 1.0 in a bin of
  its own, as torchmetrics' `MulticlassCalibrationError(n_bins=10, norm="l1")` bins (Guo et al., 2017).
  Both are sum over bins of (bin size / n) * |mean confidence - accuracy| in the bin.
- `brier`: the multi-class Brier score (Brier, 1950): per sample the sum over choices of (p_k - [k == target])^2,
  averaged over samples; 0 is perfect, 2 the worst. (Not the binary "confidence vs correct" variant.)
- `selective_stats`: accuracy of the 10 % most confident samples and the area under the accuracy / coverage curve
  (selective prediction: El-Yaniv & Wiener, 2010; Geifman & El-Yaniv, 2017), as HELM's `selective_acc@10` and
  `selective_cov_acc_area` (`calibration.get_selective_stats`). Ties in confidence keep sample order.

`calibration_summary` computes all of them with seeded bootstrap standard errors and the reliability-diagram bins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import bootstrap

NUM_BINS = 10
MIN_SAMPLES = 300  # below this HELM cautions that calibration estimates are noisy
# name -> higher_is_better
CALIBRATION_METRICS = {
    "ece_10_bin": False,
    "ece_10_bin_equal_width": False,
    "brier": False,
    "selective_acc_at_10": True,
    "selective_cov_acc_area": True,
}


def softmax(logprobs: Sequence[float]) -> np.ndarray:
    """Probabilities from (unnormalized) log-probabilities, computed stably."""
    values = np.asarray(logprobs, dtype=np.float64)
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()


def equal_width_edges(num_bins: int = NUM_BINS) -> np.ndarray:
    return np.linspace(0.0, 1.0, num_bins + 1)


def equal_mass_edges(confidences, num_bins: int = NUM_BINS) -> np.ndarray:
    """Upper bin edges (the last is 1.0) splitting the sorted confidences into `num_bins` near-equal parts; edges
    sit halfway between the last confidence of a part and the first of the next; equal edges merge."""
    ordered = np.sort(np.asarray(confidences, dtype=np.float64))
    parts = np.array_split(ordered, min(num_bins, ordered.size))
    edges = [(left[-1] + right[0]) / 2.0 for left, right in zip(parts[:-1], parts[1:])]
    return np.array(sorted(set(edges) | {1.0}))


def _bin_error(confidences: np.ndarray, correct: np.ndarray, bins: np.ndarray, num_slots: int) -> float:
    counts = np.bincount(bins, minlength=num_slots)
    gaps = np.bincount(bins, weights=confidences - correct, minlength=num_slots)  # sum of (confidence - correct)
    return float(np.abs(gaps).sum() / counts.sum())  # = sum_b (n_b / n) |mean conf_b - acc_b|


def equal_width_bins(confidences: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """Bin of each confidence: [k/num_bins, (k+1)/num_bins); exactly 1.0 gets bin `num_bins` (torchmetrics)."""
    return np.searchsorted(equal_width_edges(num_bins), confidences, side="right") - 1


def ece_equal_width(confidences, correct, num_bins: int = NUM_BINS) -> float:
    confidences, correct = np.asarray(confidences, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    return _bin_error(confidences, correct, equal_width_bins(confidences, num_bins), num_bins + 1)


def ece_equal_mass(confidences, correct, num_bins: int = NUM_BINS) -> float:
    confidences, correct = np.asarray(confidences, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    edges = equal_mass_edges(confidences, num_bins)
    return _bin_error(confidences, correct, np.searchsorted(edges, confidences, side="left"), edges.size)


def brier_per_sample(probabilities: Sequence[Sequence[float]], targets: Sequence[int]) -> np.ndarray:
    """Per sample: sum over choices of (p_k - onehot_k)^2 (samples may have different numbers of choices)."""
    values = []
    for probs, target in zip(probabilities, targets):
        onehot = np.zeros(len(probs))
        onehot[int(target)] = 1.0
        values.append(float(np.sum((np.asarray(probs, dtype=np.float64) - onehot) ** 2)))
    return np.asarray(values)


def selective_stats(confidences, correct, coverage: float = 0.1) -> tuple[float, float]:
    """(accuracy at `coverage`, area under the accuracy / coverage curve). Samples sorted by confidence, highest
    first (stable); the accuracy of the first k for k = 1..n is the curve; its mean is the area; the value at
    k = int(coverage * n) + 1 is the accuracy at that coverage (HELM's index)."""
    confidences, correct = np.asarray(confidences, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    order = np.argsort(-confidences, kind="stable")
    accuracies = np.cumsum(correct[order]) / np.arange(1, correct.size + 1)  # (n,) accuracy of the top k
    return float(accuracies[int(coverage * correct.size)]), float(accuracies.mean())


def reliability_bins(confidences, correct, edges: np.ndarray, bins: np.ndarray) -> list[dict]:
    """Per bin (lower, upper, count, mean confidence, accuracy) for the reliability diagram; empty bins omitted."""
    rows = []
    for b in range(edges.size):
        members = bins == b
        if members.any():
            lower = float(edges[b - 1]) if b > 0 else 0.0
            rows.append(
                {
                    "lower": lower,
                    "upper": float(edges[b]),
                    "count": int(members.sum()),
                    "mean_confidence": float(confidences[members].mean()),
                    "accuracy": float(correct[members].mean()),
                }
            )
    return rows


def calibration_summary(
    probabilities: Sequence[Sequence[float]],
    predictions: Sequence[int],
    targets: Sequence[int],
    iters: int = bootstrap.DEFAULT_ITERS,
    seed: int = 0,
    confidence: float = bootstrap.DEFAULT_CONFIDENCE,
) -> dict:
    """Every calibration number of one task, with bootstrap stderr / interval (same resamples for each), plus
    accuracy, mean confidence and the reliability bins (equal width and equal mass)."""
    conf = np.array([probs[int(p)] for probs, p in zip(probabilities, predictions)], dtype=np.float64)
    correct = (np.asarray(predictions) == np.asarray(targets)).astype(np.float64)
    brier = brier_per_sample(probabilities, targets)
    statistics = {
        "ece_10_bin": lambda i: ece_equal_mass(conf[i], correct[i]),
        "ece_10_bin_equal_width": lambda i: ece_equal_width(conf[i], correct[i]),
        "brier": lambda i: float(brier[i].mean()),
        "selective_acc_at_10": lambda i: selective_stats(conf[i], correct[i])[0],
        "selective_cov_acc_area": lambda i: selective_stats(conf[i], correct[i])[1],
    }
    everything = np.arange(conf.size)
    metrics = {}
    for name, statistic in statistics.items():
        summary = bootstrap.bootstrap_statistic(conf.size, statistic, iters, seed, confidence)
        metrics[name] = {"value": statistic(everything), **summary}
    width_edges = np.append(equal_width_edges()[1:], 1.0)  # upper edges, and the bin of confidences equal to 1.0
    mass_edges = equal_mass_edges(conf)
    reliability = {
        "equal_width": reliability_bins(conf, correct, width_edges, equal_width_bins(conf)),
        "equal_mass": reliability_bins(conf, correct, mass_edges, np.searchsorted(mass_edges, conf, side="left")),
    }
    return {
        "metrics": metrics,
        "confidences": conf.tolist(),
        "accuracy": float(correct.mean()),
        "mean_confidence": float(conf.mean()),
        "reliability": reliability,
    }


__all__ = [
    "NUM_BINS",
    "MIN_SAMPLES",
    "CALIBRATION_METRICS",
    "softmax",
    "equal_width_edges",
    "equal_mass_edges",
    "equal_width_bins",
    "ece_equal_width",
    "ece_equal_mass",
    "brier_per_sample",
    "selective_stats",
    "reliability_bins",
    "calibration_summary",
]
