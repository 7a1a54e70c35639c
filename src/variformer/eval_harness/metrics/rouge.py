"""ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum F-measures (Google's rouge-score, Porter stemming on), averaged
over samples, with bootstrap standard errors. ROUGE-Lsum splits summaries into sentences at newlines.
With several references a sample takes the best-scoring one (rouge-score's `score_multi`).
Load offline with `evaluate.load(<path to this file>)`."""

import datasets
import evaluate
import numpy as np
from rouge_score import rouge_scorer

from variformer.eval_harness.metrics import bootstrap

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_DESCRIPTION = "ROUGE (Lin, 2004) F-measures in [0, 1] from rouge-score, mean over samples (no bootstrap 'mid')."
_CITATION = """@inproceedings{lin-2004-rouge, title = "{ROUGE}: A Package for Automatic Evaluation of Summaries",
author = "Lin, Chin-Yew", booktitle = "Text Summarization Branches Out", year = "2004"}"""
_KWARGS = """
Args:
    predictions (list of str): generated summaries.
    references (list of list of str): one or more reference summaries per prediction.
    rouge_types (list of str): subset of rouge1, rouge2, rougeL, rougeLsum. Default all four.
    use_stemmer (bool): Porter stemming. Default True.
    bootstrap_iters, seed, confidence: bootstrap settings (0 iterations disables). Defaults 1000, 0, 0.95.
    return_per_sample (bool): add per-sample F-measures under "per_sample". Default False.
Returns:
    {"rouge1": float, ..., "stderr": {"rouge1": float, ...}, "confidence_interval": {"rouge1": [low, high], ...}}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class Rouge(evaluate.Metric):
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
            reference_urls=["https://github.com/google-research/google-research/tree/master/rouge"],
        )

    def _compute(
        self,
        predictions,
        references,
        rouge_types=ROUGE_TYPES,
        use_stemmer=True,
        bootstrap_iters=bootstrap.DEFAULT_ITERS,
        seed=0,
        confidence=bootstrap.DEFAULT_CONFIDENCE,
        return_per_sample=False,
    ):
        rouge_types = list(rouge_types)
        scorer = rouge_scorer.RougeScorer(rouge_types, use_stemmer=use_stemmer)
        per_sample = {name: [] for name in rouge_types}
        for prediction, refs in zip(predictions, references):
            refs = [refs] if isinstance(refs, str) else list(refs)
            scores = scorer.score(refs[0], prediction) if len(refs) == 1 else scorer.score_multi(refs, prediction)
            for name in rouge_types:
                per_sample[name].append(float(scores[name].fmeasure))
        outputs = []
        for name in rouge_types:
            values = np.asarray(per_sample[name], dtype=np.float64)
            summary = bootstrap.bootstrap_mean(values, bootstrap_iters, seed, confidence)
            outputs.append(bootstrap.as_output(name, float(values.mean()) if values.size else 0.0, summary))
        output = bootstrap.merge_outputs(*outputs)
        if return_per_sample:
            output["per_sample"] = per_sample
        return output
