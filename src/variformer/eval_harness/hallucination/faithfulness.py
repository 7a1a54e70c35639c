"""Summary faithfulness, preference probe: does the model prefer the faithful summary of a source?

For each row (source, faithful, unfaithful) both summaries are scored as the continuation " " + summary after
`faithfulness_prompt(source)`, and each log-likelihood is divided by the summary's length in characters
(lm-evaluation-harness's `acc_norm` convention, independent of the tokenizer). The row counts 1 when the faithful
summary's normalized log-likelihood is higher, 0 when lower, 0.5 on an exact tie, so a model that cannot tell them
apart scores the 50 % chance level. We report that accuracy, its margin over chance and an exact two-sided binomial
test of "accuracy = 0.5" over the untied rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .rows import require_mapping, require_str, row_id


@dataclass(frozen=True)
class SummaryPair:
    id: str
    source: str
    faithful: str
    unfaithful: str


def parse_pair_row(row: object, index: int, source: str = "summary_faithfulness") -> SummaryPair:
    """Validate one factual_summary_pairs row (`source`, `faithful`, `unfaithful`)."""
    row = require_mapping(row, source, index)
    return SummaryPair(
        row_id(row, index),
        require_str(row, "source", source, index),
        require_str(row, "faithful", source, index),
        require_str(row, "unfaithful", source, index),
    )


def normalized_loglikelihood(loglikelihood: float, summary: str) -> float:
    """Log-likelihood per character of `summary`."""
    if not summary:
        raise ValueError("cannot length-normalize the log-likelihood of an empty summary")
    return loglikelihood / len(summary)


def preference(ll_faithful: float, faithful: str, ll_unfaithful: float, unfaithful: str) -> float:
    """1.0 if the faithful summary wins on normalized log-likelihood, 0.0 if it loses, 0.5 on a tie."""
    score_f = normalized_loglikelihood(ll_faithful, faithful)
    score_u = normalized_loglikelihood(ll_unfaithful, unfaithful)
    return 1.0 if score_f > score_u else 0.0 if score_f < score_u else 0.5


def preference_summary(preferences: Sequence[float]) -> dict[str, float]:
    """Accuracy, its margin over 50 % chance, and the two-sided exact binomial p-value (ties left out)."""
    if not preferences:
        raise ValueError("no preferences to summarize")
    from scipy.stats import binomtest

    wins = sum(1 for value in preferences if value == 1.0)
    decided = sum(1 for value in preferences if value != 0.5)
    accuracy = sum(preferences) / len(preferences)
    p_value = binomtest(wins, decided, 0.5).pvalue if decided else 1.0
    return {
        "accuracy": accuracy,
        "above_chance": accuracy - 0.5,
        "p_value_vs_chance": float(p_value),
        "ties": float(len(preferences) - decided),
    }
