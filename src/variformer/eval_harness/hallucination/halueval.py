"""HaluEval hallucination recognition (Li et al., EMNLP 2023).

Each judgment shows the model an input (question, dialogue history, document or user query) and a response and
asks whether the response contains hallucinated content. The positive class is "Yes" (hallucinated).

- qa, dialogue, summarization: every record has a right and a hallucinated output for one input. Where the paper
  draws one of the two at random, we judge both (2 x N judgments, deterministic): the right one has label "No",
  the hallucinated one "Yes".
- general: one ChatGPT response per query with a human label `hallucination` ("yes"/"no").

Accepted row formats (HaluEval's original files and ours, see shared/data/halueval/SOURCE.md):
  qa:            knowledge?, question, right_answer, hallucinated_answer
  dialogue:      knowledge?, dialogue_history, right_response, hallucinated_response
  summarization: document, right_summary, hallucinated_summary
  general:       id | ID, user_query, response | chatgpt_response, hallucination | hallucination_label
`knowledge` is not shown to the model, as in the paper's evaluation script.

A language model judges by comparing the log-likelihood of the continuations " Yes" and " No" after
`halueval_prompt(...)` ("Yes" when ll(" Yes") > ll(" No")); a 2-label sequence classifier judges with its head
(label 1 = hallucinated). Metrics: accuracy, and precision / recall / F1 of the "Yes" class (0.0 when undefined).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .prompts import HALUEVAL_TASKS, halueval_prompt
from .rows import MalformedRowError, first_present, require_mapping, require_str, row_id

_PAIRED_FIELDS = {
    "qa": ("question", "right_answer", "hallucinated_answer"),
    "dialogue": ("dialogue_history", "right_response", "hallucinated_response"),
    "summarization": ("document", "right_summary", "hallucinated_summary"),
}


@dataclass(frozen=True)
class Judgment:
    """One response to judge: `hallucinated` is the gold answer to "does it contain hallucination?"."""

    id: str
    task: str
    context: str
    response: str
    hallucinated: bool

    @property
    def prompt(self) -> str:
        return halueval_prompt(self.task, self.context, self.response)


def parse_halueval_row(task: str, row: object, index: int, source: str | None = None) -> list[Judgment]:
    """The judgments of one HaluEval row of `task` (two for paired tasks, one for general)."""
    if task not in HALUEVAL_TASKS:
        raise ValueError(f"unknown HaluEval task {task!r}; expected one of {', '.join(HALUEVAL_TASKS)}")
    source = source or f"halueval_{task}"
    row = require_mapping(row, source, index)
    base_id = row_id(row, index)
    if task == "general":
        return [_general_judgment(row, index, source, base_id)]
    context_field, right_field, hallucinated_field = _PAIRED_FIELDS[task]
    context = require_str(row, context_field, source, index)
    right = require_str(row, right_field, source, index)
    hallucinated = require_str(row, hallucinated_field, source, index)
    return [
        Judgment(f"{base_id}/right", task, context, right, False),
        Judgment(f"{base_id}/hallucinated", task, context, hallucinated, True),
    ]


def _general_judgment(row, index: int, source: str, base_id: str) -> Judgment:
    query = require_str(row, "user_query", source, index)
    response = require_str(row, first_present(row, ("response", "chatgpt_response"), source, index), source, index)
    label_field = first_present(row, ("hallucination", "hallucination_label"), source, index)
    label = row[label_field]
    if not isinstance(label, str) or label.strip().lower() not in ("yes", "no"):
        raise MalformedRowError(source, index, label_field, f'expected "yes" or "no", got {label!r}')
    return Judgment(base_id, "general", query, response, label.strip().lower() == "yes")


def judge_by_loglikelihood(ll_yes: float, ll_no: float) -> bool:
    """The language model's judgment: True ("Yes, hallucinated") when " Yes" is strictly more likely."""
    return ll_yes > ll_no


def recognition_metrics(predicted: Iterable[bool], gold: Iterable[bool]) -> dict[str, float]:
    """Accuracy and precision / recall / F1 of the "Yes" (hallucinated) class; undefined ratios are 0.0."""
    predicted, gold = list(predicted), list(gold)
    if len(predicted) != len(gold) or not gold:
        raise ValueError(f"got {len(predicted)} predictions for {len(gold)} gold labels")
    true_pos = sum(p and g for p, g in zip(predicted, gold))
    pred_pos, gold_pos = sum(predicted), sum(gold)
    precision = true_pos / pred_pos if pred_pos else 0.0
    recall = true_pos / gold_pos if gold_pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(p == g for p, g in zip(predicted, gold)) / len(gold)
    return {
        "accuracy": accuracy,
        "precision_yes": precision,
        "recall_yes": recall,
        "f1_yes": f1,
        "predicted_yes_rate": pred_pos / len(gold),
    }


def flatten(task: str, rows: Sequence[object], source: str | None = None) -> list[Judgment]:
    """All judgments of `rows` in order."""
    return [judgment for index, row in enumerate(rows) for judgment in parse_halueval_row(task, row, index, source)]
