"""Run one harness task on one model and return per-sample outcomes and mean scores.

Uses the harness's own pieces (adapter, mode selection, `Task.build_samples`, the mode's requests, the task's
`process_results`), the same path the runner takes for each sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from variformer.eval_harness.adapters import load_adapter
from variformer.eval_harness.tasks.scoring import select_mode


@dataclass
class TaskRun:
    samples: list
    outcomes: list
    mode: str

    def mean(self, score: str) -> float:
        return float(np.mean([outcome.scores[score] for outcome in self.outcomes]))


def run_task(task, model, tokenizer=None, *, limit=None, batch_size=8) -> TaskRun:
    adapter = load_adapter(model, tokenizer, batch_size=batch_size) if tokenizer is not None else load_adapter(model)
    mode = select_mode(task, adapter)
    normalize = "labels" if mode.prediction_type == "labels" else "texts"
    samples = task.build_samples(
        task.data.load(), seq2seq=adapter.is_seq2seq, seed=0, limit=limit, normalize_target=normalize
    )
    requests = [mode.requests(task, sample) for sample in samples]
    flat = adapter.serve([request for group in requests for request in group])  # one batched call, as the runner
    outcomes, start = [], 0
    for sample, group in zip(samples, requests):
        responses = flat[start : start + len(group)]
        start += len(group)
        score = (
            task.process_results(sample.row, responses) if task.process_results else mode.score(task, sample, responses)
        )
        outcomes.append(score)
    return TaskRun(samples, outcomes, mode.name)
