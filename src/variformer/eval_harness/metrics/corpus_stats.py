"""Shared code of the sacreBLEU-based metric modules (BLEU, chrF): reference layout, corpus score with signature,
bootstrap from per-sentence sufficient statistics, and sentence-level scores for the per-sample records."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import bootstrap


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-sample reference lists -> sacrebleu's reference streams (one stream per reference position),
    padded with None where samples have fewer references."""
    width = max((len(refs) for refs in references), default=0)
    if width == 0:
        raise ValueError("every prediction needs at least one reference")
    return [[refs[i] if i < len(refs) else None for refs in references] for i in range(width)]


def sufficient_statistics(metric, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
    """(n, stats) per-sentence sufficient statistics of sacrebleu `metric` (n-gram matches and totals, lengths);
    a corpus score is a function of their column sums."""
    references = [[refs] if isinstance(refs, str) else list(refs) for refs in references]
    streams = reference_streams(references)
    return np.asarray(metric._extract_corpus_statistics(list(predictions), streams), dtype=np.int64)


def score_from_statistics(metric, stats: np.ndarray) -> float:
    """The corpus score of the sentences whose statistics are the rows of `stats` (rows may repeat)."""
    return float(metric._compute_score_from_stats(stats.sum(axis=0).tolist()).score)


def sacrebleu_metric(stem: str, options: dict):
    """The sacrebleu metric object that our module `stem` ("bleu" or "chrf") scores with, given its options."""
    from sacrebleu.metrics import BLEU, CHRF

    if stem == "bleu":
        return BLEU(**options)
    if stem == "chrf":
        return CHRF(**options)
    raise ValueError(f"no sacrebleu metric for module {stem!r}; expected 'bleu' or 'chrf'")


def corpus_output(
    name: str,
    metric,
    sentence_metric,
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    bootstrap_iters: int,
    seed: int,
    confidence: float,
    return_per_sample: bool,
) -> dict:
    """Corpus score of sacrebleu `metric` (0-100), its signature, bootstrap stderr / interval, and optionally
    sentence-level scores of `sentence_metric`."""
    predictions = list(predictions)
    references = [[refs] if isinstance(refs, str) else list(refs) for refs in references]
    score = metric.corpus_score(predictions, reference_streams(references))
    signature = str(metric.get_signature())
    stats = sufficient_statistics(metric, predictions, references)  # (n, stats)

    def statistic(indices: np.ndarray) -> float:
        return score_from_statistics(metric, stats[indices])

    summary = bootstrap.bootstrap_statistic(len(predictions), statistic, bootstrap_iters, seed, confidence)
    output = bootstrap.as_output(name, float(score.score), summary)
    output["signature"] = signature
    if return_per_sample:
        output["per_sample"] = {
            f"sentence_{name}": [
                float(sentence_metric.sentence_score(hyp, refs).score) for hyp, refs in zip(predictions, references)
            ]
        }
    return output
