"""Matthews correlation coefficient (multi-class form), as scikit-learn's `matthews_corrcoef`, with a bootstrap
standard error. Load offline with `evaluate.load(<path to this file>)`."""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import matthews_corrcoef

from variformer.eval_harness.metrics import bootstrap

_DESCRIPTION = "Matthews correlation coefficient in [-1, 1] (scikit-learn matthews_corrcoef); 0 is chance level."
_KWARGS = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): reference labels.
    bootstrap_iters (int): bootstrap resamples (0 disables). Default 1000.
    seed (int): bootstrap seed. Default 0.
    confidence (float): confidence level of the interval. Default 0.95.
Returns:
    {"mcc": float, "stderr": {"mcc": float}, "confidence_interval": {"mcc": [low, high]}}
"""


def mcc_from_confusion(matrices: np.ndarray) -> np.ndarray:
    """(..., k, k) confusion matrices -> (...,) MCC; 0 where it is undefined (as scikit-learn)."""
    matrices = matrices.astype(np.float64)
    true_counts, predicted_counts = matrices.sum(-1), matrices.sum(-2)  # (..., k)
    correct = np.trace(matrices, axis1=-2, axis2=-1)  # (...,)
    total = matrices.sum((-2, -1))  # (...,)
    covariance_yp = correct * total - (true_counts * predicted_counts).sum(-1)
    covariance_pp = total**2 - (predicted_counts**2).sum(-1)
    covariance_yy = total**2 - (true_counts**2).sum(-1)
    denominator = np.sqrt(covariance_pp * covariance_yy)
    return np.where(denominator > 0, covariance_yp / np.where(denominator > 0, denominator, 1.0), 0.0)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class MatthewsCorrelation(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.matthews_corrcoef.html"],
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
        value = float(matthews_corrcoef(references, predictions))
        summary = bootstrap.bootstrap_confusion(
            references, predictions, mcc_from_confusion, bootstrap_iters, seed, confidence
        )
        return bootstrap.as_output("mcc", value, summary)
