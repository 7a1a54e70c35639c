"""Macro-averaged F1 over the labels present in references or predictions, as scikit-learn's
`f1_score(average="macro")`, with a bootstrap standard error. Load offline with `evaluate.load(<this file>)`."""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import f1_score

from variformer.eval_harness.metrics import bootstrap

_DESCRIPTION = "Macro-F1: the unweighted mean of per-label F1 (scikit-learn f1_score, average='macro')."
_KWARGS = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): reference labels.
    bootstrap_iters (int): bootstrap resamples (0 disables). Default 1000.
    seed (int): bootstrap seed. Default 0.
    confidence (float): confidence level of the interval. Default 0.95.
Returns:
    {"macro_f1": float, "stderr": {"macro_f1": float}, "confidence_interval": {"macro_f1": [low, high]}}
"""


def macro_f1_from_confusion(matrices: np.ndarray) -> np.ndarray:
    """(..., k, k) confusion matrices -> (...,) macro-F1 over the labels that occur (as scikit-learn)."""
    true_positive = np.diagonal(matrices, axis1=-2, axis2=-1).astype(np.float64)  # (..., k)
    support = matrices.sum(-1) + matrices.sum(-2)  # (..., k) = 2 tp + fp + fn
    present = support > 0
    f1 = np.where(present, 2 * true_positive / np.maximum(support, 1), 0.0)
    return f1.sum(-1) / np.maximum(present.sum(-1), 1)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class MacroF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.f1_score.html"],
        )

    def _compute(
        self,
        predictions,
        references,
        bootstrap_iters=bootstrap.DEFAULT_ITERS,
        seed=0,
        confidence=bootstrap.DEFAULT_CONFIDENCE,
        return_per_sample=False,
    ):
        value = float(f1_score(references, predictions, average="macro", zero_division=0.0))
        summary = bootstrap.bootstrap_confusion(
            references, predictions, macro_f1_from_confusion, bootstrap_iters, seed, confidence
        )
        return bootstrap.as_output("macro_f1", value, summary)
