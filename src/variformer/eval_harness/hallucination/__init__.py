"""Hallucination probes: TruthfulQA MC1/MC2 and generation, HaluEval recognition, summary faithfulness.

The scorers in this package are pure functions of log-likelihoods / texts (no model, no harness), so they can be
tested and reused alone; `tasks.py` wires them into the evaluation harness as ordinary tasks.
"""

from .entities import SampleReport, aggregate, check_output, check_outputs, extract_entities, extract_numbers
from .faithfulness import SummaryPair, parse_pair_row, preference, preference_summary
from .halueval import Judgment, judge_by_loglikelihood, parse_halueval_row, recognition_metrics
from .prompts import (
    TRUTHFULQA_QA_PRIMER,
    faithfulness_prompt,
    halueval_instruction,
    halueval_prompt,
    mc_continuation,
    truthfulqa_gen_prompt,
    truthfulqa_mc_prompt,
)
from .rows import MalformedRowError
from .truthfulqa import generation_scores, mc1_score, mc2_score, parse_generation_row, parse_mc_row

__all__ = [
    "TRUTHFULQA_QA_PRIMER",
    "truthfulqa_mc_prompt",
    "truthfulqa_gen_prompt",
    "mc_continuation",
    "halueval_instruction",
    "halueval_prompt",
    "faithfulness_prompt",
    "MalformedRowError",
    "parse_mc_row",
    "mc1_score",
    "mc2_score",
    "parse_generation_row",
    "generation_scores",
    "Judgment",
    "parse_halueval_row",
    "judge_by_loglikelihood",
    "recognition_metrics",
    "SummaryPair",
    "parse_pair_row",
    "preference",
    "preference_summary",
    "SampleReport",
    "check_output",
    "check_outputs",
    "aggregate",
    "extract_entities",
    "extract_numbers",
]
