"""Accuracy (fraction of predictions equal to the reference), as scikit-learn's `accuracy_score`, with a
bootstrap standard error. Load offline with `evaluate.load(<path to this file>)`."""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import accuracy_score

from variformer.eval_harness.metrics import bootstrap

_DESCRIPTION = "Accuracy: the fraction of predictions equal to their reference (scikit-learn accuracy_score)."
_KWARGS = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): reference labels.
    bootstrap_iters (int): bootstrap resamples for stderr / confidence interval (0 disables). Default 1000.
    seed (int): bootstrap seed. Default 0.
    confidence (float): confidence level of the interval. Default 0.95.
    return_per_sample (bool): also return the per-sample 0/1 scores under "per_sample". Default False.
Returns:
    {"accuracy": float, "stderr": {"accuracy": float}, "confidence_interval": {"accuracy": [low, high]}}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.accuracy_score.html"],
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
        correct = (np.asarray(predictions) == np.asarray(references)).astype(np.float64)
        value = float(accuracy_score(references, predictions))
        output = bootstrap.as_output(
            "accuracy", value, bootstrap.bootstrap_mean(correct, bootstrap_iters, seed, confidence)
        )
        if return_per_sample:
            output["per_sample"] = {"accuracy": correct.tolist()}
        return output
