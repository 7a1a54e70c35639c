"""Corpus-level sacreBLEU on detokenized text (default 13a tokenization, exponential smoothing), with its
signature and a bootstrap standard error. Equals `sacrebleu REF -i HYP -m bleu`.
Load offline with `evaluate.load(<path to this file>)`."""

import datasets
import evaluate
from sacrebleu.metrics import BLEU

from variformer.eval_harness.metrics import bootstrap, corpus_stats

_DESCRIPTION = "sacreBLEU (Post, 2018): corpus BLEU (0-100) on detokenized text, with a reproducibility signature."
_CITATION = """@inproceedings{post-2018-call, title = "A Call for Clarity in Reporting {BLEU} Scores",
author = "Post, Matt", booktitle = "Proceedings of the Third Conference on Machine Translation", year = "2018"}"""
_KWARGS = """
Args:
    predictions (list of str): detokenized system outputs.
    references (list of list of str): one or more detokenized references per prediction.
    tokenize (str): sacrebleu tokenizer. Default "13a".
    lowercase (bool): lowercase before scoring. Default False.
    smooth_method (str): "exp", "floor", "add-k" or "none". Default "exp".
    bootstrap_iters, seed, confidence: bootstrap settings (0 iterations disables). Defaults 1000, 0, 0.95.
    return_per_sample (bool): add sentence-level BLEU (effective order) under "per_sample". Default False.
Returns:
    {"bleu": float, "signature": str, "stderr": {"bleu": float}, "confidence_interval": {"bleu": [low, high]}}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class SacreBleu(evaluate.Metric):
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
        tokenize="13a",
        lowercase=False,
        smooth_method="exp",
        bootstrap_iters=bootstrap.DEFAULT_ITERS,
        seed=0,
        confidence=bootstrap.DEFAULT_CONFIDENCE,
        return_per_sample=False,
    ):
        options = dict(tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method)
        return corpus_stats.corpus_output(
            "bleu",
            BLEU(**options),
            BLEU(**options, effective_order=True),
            predictions,
            references,
            bootstrap_iters,
            seed,
            confidence,
            return_per_sample,
        )
