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


def corpus_output(name: str, metric, sentence_metric, predictions: Sequence[str],
                  references: Sequence[Sequence[str]], bootstrap_iters: int, seed: int, confidence: float,
                  return_per_sample: bool) -> dict:
    """Corpus score of sacrebleu `metric` (0-100), its signature, bootstrap stderr / interval, and optionally
    sentence-level scores of `sentence_metric`."""
    predictions = list(predictions)
    references = [[refs] if isinstance(refs, str) else list(refs) for refs in references]
    streams = reference_streams(references)
    score = metric.corpus_score(predictions, streams)
    signature = str(metric.get_signature())
    stats = np.asarray(metric._extract_corpus_statistics(predictions, streams), dtype=np.int64)  # (n, stats)

    def statistic(indices: np.ndarray) -> float:
        return metric._compute_score_from_stats(stats[indices].sum(axis=0).tolist()).score

    summary = bootstrap.bootstrap_statistic(len(predictions), statistic, bootstrap_iters, seed, confidence)
    output = bootstrap.as_output(name, float(score.score), summary)
    output["signature"] = signature
    if return_per_sample:
        output["per_sample"] = {
            f"sentence_{name}": [float(sentence_metric.sentence_score(hyp, refs).score)
                                 for hyp, refs in zip(predictions, references)]
        }
    return output
