"""Corpus-level chrF (sacrebleu; character 6-grams, beta 2; word_order=2 gives chrF++), with its signature and
a bootstrap standard error. Equals `sacrebleu REF -i HYP -m chrf`.
Load offline with `evaluate.load(<path to this file>)`."""

import datasets
import evaluate
from sacrebleu.metrics import CHRF

from variformer.eval_harness.metrics import bootstrap, corpus_stats

_DESCRIPTION = "chrF (Popovic, 2015) as computed by sacrebleu: character n-gram F-score (0-100), with a signature."
_CITATION = """@inproceedings{popovic-2015-chrf, title = "chr{F}: character n-gram {F}-score for automatic {MT}
evaluation", author = "Popovi{\\'c}, Maja", booktitle = "Proceedings of the Tenth Workshop on Statistical Machine
Translation", year = "2015"}"""
_KWARGS = """
Args:
    predictions (list of str): detokenized system outputs.
    references (list of list of str): one or more references per prediction.
    char_order (int): character n-gram order. Default 6.
    word_order (int): word n-gram order (2 = chrF++). Default 0.
    beta (int): recall weight. Default 2.
    lowercase (bool): lowercase before scoring. Default False.
    bootstrap_iters, seed, confidence: bootstrap settings (0 iterations disables). Defaults 1000, 0, 0.95.
    return_per_sample (bool): add sentence-level chrF under "per_sample". Default False.
Returns:
    {"chrf": float, "signature": str, "stderr": {"chrf": float}, "confidence_interval": {"chrf": [low, high]}}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class ChrF(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS,
            features=[
                datasets.Features(
                    {"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}
                ),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
            reference_urls=["https://github.com/mjpost/sacrebleu"],
        )

    def _compute(
        self,
        predictions,
        references,
        char_order=6,
        word_order=0,
        beta=2,
        lowercase=False,
        bootstrap_iters=bootstrap.DEFAULT_ITERS,
        seed=0,
        confidence=bootstrap.DEFAULT_CONFIDENCE,
        return_per_sample=False,
    ):
        options = dict(char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase)
        return corpus_stats.corpus_output(
            "chrf",
            CHRF(**options),
            CHRF(**options),
            predictions,
            references,
            bootstrap_iters,
            seed,
            confidence,
            return_per_sample,
        )
