"""Evaluation metrics of the recipes: accuracy (classification), perplexity (language models), sacreBLEU."""

from __future__ import annotations

import math

import numpy as np


def accuracy_metrics(eval_prediction) -> dict[str, float]:
    """`compute_metrics` for sequence classification: accuracy of the argmax over the logits."""
    logits = eval_prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    predictions = np.asarray(logits).argmax(-1)
    labels = np.asarray(eval_prediction.label_ids)
    return {"accuracy": float((predictions == labels).mean())}


def perplexity(loss: float | None) -> float | None:
    """exp(mean token cross-entropy); None when there is no loss, inf when it overflows."""
    if loss is None:
        return None
    try:
        return math.exp(loss)
    except OverflowError:
        return float("inf")


def corpus_bleu(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Detokenized sacreBLEU (13a tokenization, the default) and chrF of `hypotheses` against one reference each."""
    from sacrebleu.metrics import BLEU, CHRF

    bleu, chrf = BLEU(tokenize="13a"), CHRF()
    return {
        "bleu": float(bleu.corpus_score(hypotheses, [references]).score),
        "chrf": float(chrf.corpus_score(hypotheses, [references]).score),
        "bleu_signature": str(bleu.get_signature()),
    }


__all__ = ["accuracy_metrics", "corpus_bleu", "perplexity"]
