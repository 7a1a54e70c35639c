"""The runner, the only loop of the harness: task -> requests -> adapter -> answer extraction -> metrics ->
records.

1. Plan: load and validate every task's rows, pick each task's scoring mode, build prompts and requests. Any
   data or capability error surfaces here, before the model runs or anything is written.
2. Resolve: deduplicate requests across samples and tasks, take what the per-request cache already has, and
   compute the rest in chunks (longest first; log-likelihood requests by context, so the choices of a question
   meet in one chunk and the adapter computes their shared prefix once), appending each finished chunk to the
   cache. Under `accelerate launch` chunk j goes to process j mod world_size and the responses are gathered,
   so every process sees the same responses as a single process would (same chunks, same batches).
3. Score: each sample's responses -> `Outcome` (the mode's extraction or the task's `process_results`) ->
   metrics with bootstrap stderr -> `TaskResult` and per-sample `SampleRecord`s; for multiple-choice and
   classifier-head tasks also the choice probabilities, each sample's confidence and the task's calibration
   (`metrics/calibration.py`).
4. Robustness (`robustness.py`): each task with input fields is planned again under every perturbation; those
   requests join the same resolve step (a perturbation that changes nothing costs nothing: the request is the
   same), and each sample's worst score over {clean, perturbations} gives the task's worst case.
5. Spread: each task whose scoring reads the prompt is planned again in each of its other prompt formats
   (`Task.formats`) and, with few-shot examples, with other few-shot seeds; the scores per format / seed and their
   range and standard deviation sit beside the bootstrap stderr.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from transformers import set_seed

from . import provenance
from .adapters.base import ModelAdapter
from .cache import RequestCache
from .errors import HarnessError, SettingError, TaskDefinitionError
from .metrics import MetricDef, bootstrap, calibration, compute_module
from .records import (
    ClassificationResult,
    LoglikelihoodResult,
    Outcome,
    Request,
    Response,
    response_from_json,
    response_to_json,
    stable_hash,
)
from .results import (
    CalibrationResult,
    MetricResult,
    RobustnessResult,
    RunResult,
    SampleRecord,
    SpreadResult,
    TaskResult,
    staged_folder,
    write_json,
    write_jsonl,
)
from .robustness import parse_robustness, perturb_row
from .tasks import Sample, Task
from .tasks.formatting import FixedChoices
from .tasks.scoring import ClassifierHead, MultipleChoice, ScoringMode, label_order, select_mode

logger = logging.getLogger(__name__)


class Processes:
    """This process's place among data-parallel workers (one process unless started by `accelerate launch`)."""

    def __init__(self, rank: int = 0, world_size: int = 1, state=None):
        self.rank, self.world_size, self.state = rank, world_size, state

    @classmethod
    def detect(cls) -> Processes:
        state = distributed_state()
        return cls(state.process_index, state.num_processes, state) if state is not None else cls()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.state is not None:
            self.state.wait_for_everyone()

    def gather(self, items: list) -> list:
        if self.world_size == 1:
            return items
        from accelerate.utils import gather_object

        return gather_object(items)


def distributed_state():
    """accelerate's PartialState when launched with several processes (`accelerate launch`, torchrun), else None.
    Without CUDA the processes talk over gloo (accelerate's multi-CPU mode)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


@dataclass
class TaskPlan:
    task: Task
    mode: ScoringMode
    samples: list[Sample]
    requests: list[list[Request]]  # per sample
    num_rows: int


class Runner:
    """Evaluate tasks with one adapter.

    seed: seeds Python, NumPy and torch, few-shot draws and bootstrap resampling.
    limit: evaluate only the first `limit` rows of each task.
    bootstrap_iters / confidence: bootstrap resamples (0 disables stderr) and interval level.
    cache_dir: folder of the per-request cache (None: no cache).
    chunk_size: requests sent to the adapter at a time (the unit of caching, progress and sharding).
    calibration: compute confidences and calibration (ECE, Brier, selective accuracy) for multiple-choice and
        classifier-head tasks (default True).
    robustness: perturbation names (`robustness.MILD`, ...) to score every task with input fields under, or a
        string ("none", "mild", "lowercase,whitespace"); default none.
    prompt_spread: also score every prompt format of each task (default False here; `evaluate` and the CLI turn
        it on). fewshot_seeds: few-shot draws scored for tasks with few-shot examples (the run's own plus
        fewshot_seeds - 1 others) when prompt_spread is on.
    """

    def __init__(
        self,
        adapter: ModelAdapter,
        *,
        seed: int = 0,
        limit: int | None = None,
        bootstrap_iters: int = bootstrap.DEFAULT_ITERS,
        confidence: float = bootstrap.DEFAULT_CONFIDENCE,
        cache_dir: str | Path | None = None,
        chunk_size: int = 64,
        progress: bool = True,
        processes: Processes | None = None,
        calibration: bool = True,
        robustness: str | Sequence[str] | None = (),
        prompt_spread: bool = False,
        fewshot_seeds: int = 3,
    ):
        _check_int("limit", limit, 1, allow_none=True)
        _check_int("bootstrap_iters", bootstrap_iters, 0)
        _check_int("chunk_size", chunk_size, 1)
        self.adapter, self.seed, self.limit = adapter, seed, limit
        self.bootstrap_iters, self.confidence = bootstrap_iters, confidence
        self.cache_dir, self.chunk_size, self.progress = cache_dir, chunk_size, progress
        self.processes = processes or Processes.detect()
        self.calibration = calibration
        self.robustness = parse_robustness(robustness)
        _check_int("fewshot_seeds", fewshot_seeds, 1)
        self.prompt_spread, self.fewshot_seeds = prompt_spread, fewshot_seeds

    # -- the loop ------------------------------------------------------------------------------------------------
    def run(self, tasks: Sequence[Task]) -> RunResult:
        if not tasks:
            raise TaskDefinitionError("no tasks to evaluate")
        started = time.perf_counter()
        set_seed(self.seed % 2**32)  # Python, NumPy (which takes 32 bits) and torch
        plans = [self.plan(task) for task in tasks]
        perturbed = {
            plan.task.name: {name: self.plan(plan.task, perturbation=name) for name in self.robustness}
            for plan in plans
            if self.robustness and plan.task.perturbed_fields
        }
        spread = {plan.task.name: self._spread_plans(plan) for plan in plans} if self.prompt_spread else {}
        spread = {name: variants for name, variants in spread.items() if len(variants) > 1}
        planned = time.perf_counter()
        every_plan = plans + [p for variants in perturbed.values() for p in variants.values()]
        every_plan += [p for variants in spread.values() for p in variants.values()]
        unique = {request.key: request for plan in every_plan for requests in plan.requests for request in requests}
        responses, counts = self.resolve(unique)
        resolved = time.perf_counter()
        task_results, samples = {}, {}
        for plan in plans:
            result, records = self.score(plan, responses)
            if plan.task.name in perturbed:
                result.robustness = self._robustness(plan, records, perturbed[plan.task.name], responses)
            if plan.task.name in spread:
                result.spread = self._spread(result, spread[plan.task.name], responses)
            task_results[plan.task.name], samples[plan.task.name] = result, records
        finished = time.perf_counter()
        timing = {
            "plan_s": planned - started,
            "model_s": resolved - planned,
            "metrics_s": finished - resolved,
            "total_s": finished - started,
        }
        return self._result(task_results, samples, counts, timing)

    def plan(self, task: Task, perturbation: str | None = None) -> TaskPlan:
        """Validate `task` against the model and its rows; build samples and requests (no model calls).
        `perturbation`: render the prompts from the rows with that robustness perturbation applied."""
        mode = select_mode(task, self.adapter)
        rows = task.data.load()
        if not rows:
            raise TaskDefinitionError(f"task {task.name!r}: data source {task.data.label} has no rows")
        inputs = {metric.inputs for metric in task.metrics}
        normalize = "labels" if "labels" in inputs else "texts" if "texts" in inputs else None
        perturb = None
        if perturbation is not None:
            fields, seed = task.perturbed_fields, self.seed

            def perturb(row):
                return perturb_row(row.data, fields, perturbation, seed=seed, task=task.name, row=row.index)

        samples = task.build_samples(
            rows,
            seq2seq=self.adapter.is_seq2seq,
            seed=self.seed,
            limit=self.limit,
            normalize_target=normalize,
            perturb=perturb,
        )
        return TaskPlan(task, mode, samples, [mode.requests(task, sample) for sample in samples], len(rows))

    def resolve(self, unique: dict[str, Request]) -> tuple[dict[str, Response], dict]:
        """Responses to every unique request: from the cache, or computed (sharded across processes)."""
        cache = (
            RequestCache(self.cache_dir, self.cache_fingerprint(), self.processes.rank)
            if self.cache_dir is not None
            else None
        )
        known = cache.load() if cache is not None else {}
        self.processes.barrier()  # every process has read the cache before any process appends to it
        # Chunks are cut from every request, cached or not, and a chunk with anything missing is computed whole: a
        # resumed run pads the same batches as an uninterrupted one, so its numbers are the same to the last digit.
        chunks = [chunk for chunk in self._chunks(list(unique.values())) if any(r.key not in known for r in chunk)]
        computing = {request.key for chunk in chunks for request in chunk}
        responses = {key: known[key] for key in unique if key in known and key not in computing}
        mine = [chunk for j, chunk in enumerate(chunks) if j % self.processes.world_size == self.processes.rank]
        computed = []
        with _progress(sum(len(c) for c in mine), self.progress and self.processes.is_main) as bar:
            for chunk in mine:
                bar.set_description(chunk[0].kind)
                answers = self.adapter.serve(chunk)
                if len(answers) != len(chunk):
                    raise HarnessError(
                        f"model adapter {self.adapter.name!r} returned {len(answers)} responses to "
                        f"{len(chunk)} {chunk[0].kind} requests"
                    )
                entries = [(request.key, request.kind, answer) for request, answer in zip(chunk, answers)]
                if cache is not None:
                    cache.add(entries)
                computed += [(key, kind, response_to_json(answer)) for key, kind, answer in entries]
                bar.update(len(chunk))
        counts = {"requests": len(unique), "from_cache": len(responses), "computed": len(computing)}
        for key, kind, data in self.processes.gather(computed):
            responses[key] = response_from_json(kind, data)
        return responses, counts

    def cache_fingerprint(self) -> str:
        """The cache key: the adapter's fingerprint (model, tokenizer, its scoring settings) and the runner's
        chunk size (chunks make the batches, and batch composition changes padded numerics)."""
        return stable_hash([self.adapter.fingerprint(), self.chunk_size])

    def _chunks(self, requests: list[Request]) -> list[list[Request]]:
        chunks = []
        for kind in sorted({request.kind for request in requests}):
            ordered = sorted((r for r in requests if r.kind == kind), key=_chunk_order)
            chunks += [ordered[i : i + self.chunk_size] for i in range(0, len(ordered), self.chunk_size)]
        return chunks

    def score(
        self, plan: TaskPlan, responses: dict[str, Response], calibrate: bool = True
    ) -> tuple[TaskResult, list[SampleRecord]]:
        """Extract answers, compute the task's metrics and build its per-sample records (with confidences and the
        task's calibration unless `calibrate` is False or the runner's calibration is off)."""
        task = plan.task
        outcomes = [
            self._outcome(task, plan.mode, sample, [responses[r.key] for r in requests])
            for sample, requests in zip(plan.samples, plan.requests)
        ]
        metrics, per_sample = compute_metrics(
            task, plan.samples, outcomes, self.bootstrap_iters, self.seed, self.confidence
        )
        probabilities = (
            [
                choice_probabilities(plan.mode, sample, [responses[r.key] for r in requests])
                for sample, requests in zip(plan.samples, plan.requests)
            ]
            if self.calibration and calibrate
            else None
        )
        task_calibration = self._calibration(plan, outcomes, probabilities)
        if task_calibration is None:
            probabilities = [None] * len(plan.samples)
        records = [
            SampleRecord(
                task=task.name,
                index=sample.index,
                id=sample.id,
                prompt_hash=_prompt_hash(requests),
                output=outcome.output
                if outcome.output is not None
                else [response_to_json(responses[r.key]) for r in requests],
                prediction=outcome.prediction,
                target=sample.target,
                scores={**scores, **outcome.scores},
                prompt=_prompt_text(requests),
                choices=_choices(requests),
                confidence=None if probs is None else probs[int(outcome.prediction)],
                probabilities=probs,
            )
            for sample, requests, outcome, scores, probs in zip(
                plan.samples, plan.requests, outcomes, per_sample, probabilities
            )
        ]
        result = TaskResult(
            name=task.name,
            version=task.version,
            group=task.group,
            scoring_mode=plan.mode.to_json(),
            spec=task.to_json(),
            num_samples=len(plan.samples),
            num_rows=plan.num_rows,
            limit=self.limit,
            metrics=metrics,
            confusion_matrix=confusion_matrix(task, plan.samples, outcomes),
            samples_file=f"samples/{task.name}.jsonl",
            calibration=task_calibration,
        )
        return result, records

    def _robustness(
        self, plan: TaskPlan, records: list[SampleRecord], variants: dict[str, TaskPlan], responses: dict
    ) -> RobustnessResult:
        """Each perturbation's metrics, each sample's perturbed predictions and scores (into `records`), and the
        worst case per sample of every per-sample metric."""
        scores, changed, perturbed_records = {}, {}, {}
        for name, variant in variants.items():
            result, perturbed_records[name] = self.score(variant, responses, calibrate=False)
            scores[name] = result.metrics
            changed[name] = float(
                np.mean([p.prompt_hash != r.prompt_hash for p, r in zip(perturbed_records[name], records)])
            )
        for i, record in enumerate(records):
            record.perturbed = {
                name: {"prompt_hash": rs[i].prompt_hash, "prediction": rs[i].prediction, "scores": rs[i].scores}
                for name, rs in perturbed_records.items()
            }
        worst_case = {}
        for metric in plan.task.metrics:
            name = metric.name
            if metric.aggregation != "mean" or not all(name in r.scores for r in records):
                continue  # a corpus metric: no per-sample worst case
            pick = min if metric.higher_is_better else max
            values = [
                pick([record.scores[name], *(rs[i].scores[name] for rs in perturbed_records.values())])
                for i, record in enumerate(records)
            ]
            summary = bootstrap.bootstrap_mean(values, self.bootstrap_iters, self.seed, self.confidence)
            worst_case[name] = MetricResult(
                float(np.mean(values)),
                summary["stderr"],
                summary["ci_low"],
                summary["ci_high"],
                metric.higher_is_better,
                "mean",
            )
        return RobustnessResult(list(variants), list(plan.task.perturbed_fields), scores, worst_case, changed)

    def _spread_plans(self, plan: TaskPlan) -> dict[tuple[str, str], TaskPlan]:
        """The plans of the task's other prompt formats and few-shot seeds, keyed ("formats" | "few_shot_seeds",
        name), with the task's own plan under both kinds' default key; none where the scoring ignores the prompt
        (a classifier head reads the classifier input)."""
        task = plan.task
        if isinstance(plan.mode, ClassifierHead):
            return {}
        variants = {("formats", "default"): plan}
        for fmt in task.formats:
            formatted = task.with_format(fmt.name, seq2seq=self.adapter.is_seq2seq)
            if formatted is not None:
                variants[("formats", fmt.name)] = self.plan(formatted)
        if task.few_shot.num > 0 and self.fewshot_seeds > 1:
            variants[("few_shot_seeds", str(task.few_shot.seed))] = plan
            for k in range(1, self.fewshot_seeds):
                seed = task.few_shot.seed + k
                variants[("few_shot_seeds", str(seed))] = self.plan(
                    replace(task, few_shot=replace(task.few_shot, seed=seed))
                )
        return variants

    def _spread(self, result: TaskResult, variants: dict[tuple[str, str], TaskPlan], responses: dict) -> SpreadResult:
        """Each format's / seed's metrics and, per metric, their range and standard deviation."""
        groups: dict[str, dict[str, dict[str, MetricResult]]] = {"formats": {}, "few_shot_seeds": {}}
        for (kind, name), plan in variants.items():
            metrics = result.metrics if plan.task is variants[("formats", "default")].task else None
            groups[kind][name] = metrics or self.score(plan, responses, calibrate=False)[0].metrics
        summary = {}
        for metric in result.metrics:
            summary[metric] = {}
            for kind, members in groups.items():
                values = [m[metric].value for m in members.values()]
                if len(values) > 1:
                    summary[metric][kind] = {
                        "min": float(min(values)),
                        "max": float(max(values)),
                        "range": float(max(values) - min(values)),
                        "std": float(np.std(values, ddof=1)),
                        "n": len(values),
                    }
        if len(groups["formats"]) < 2:
            groups["formats"] = {}
        return SpreadResult(groups["formats"], groups["few_shot_seeds"], summary)

    def _calibration(self, plan: TaskPlan, outcomes: list[Outcome], probabilities) -> CalibrationResult | None:
        """The task's calibration, or None (turned off, not a choice task, or a prediction / target that is not
        a choice index)."""
        if probabilities is None or any(p is None for p in probabilities):
            return None
        predictions = [outcome.prediction for outcome in outcomes]
        targets = [sample.target for sample in plan.samples]
        if not all(
            _is_index(p, len(probs)) and _is_index(t, len(probs))
            for p, t, probs in zip(predictions, targets, probabilities)
        ):
            logger.info("task %r: predictions or targets are not choice indices; no calibration", plan.task.name)
            return None
        summary = calibration.calibration_summary(
            probabilities, predictions, targets, self.bootstrap_iters, self.seed, self.confidence
        )
        metrics = {
            name: MetricResult(
                item["value"],
                item["stderr"],
                item["ci_low"],
                item["ci_high"],
                higher,
                "corpus" if name.startswith(("ece", "selective")) else "mean",
            )
            for (name, item), higher in zip(summary["metrics"].items(), calibration.CALIBRATION_METRICS.values())
        }
        warning = None
        if len(plan.samples) < calibration.MIN_SAMPLES:
            warning = (
                f"only {len(plan.samples)} samples (fewer than {calibration.MIN_SAMPLES}): binned calibration "
                "errors are noisy at this size (HELM's caveat); evaluate more rows for stable numbers"
            )
            logger.warning("task %r: calibration from %s", plan.task.name, warning)
        return CalibrationResult(
            num_samples=len(plan.samples),
            confidence_source=_confidence_source(plan.mode),
            metrics=metrics,
            accuracy=summary["accuracy"],
            mean_confidence=summary["mean_confidence"],
            reliability=summary["reliability"],
            warning=warning,
        )

    @staticmethod
    def _outcome(task: Task, mode: ScoringMode, sample: Sample, responses: list) -> Outcome:
        outcome = (
            task.process_results(sample.row, responses) if task.process_results else mode.score(task, sample, responses)
        )
        if not isinstance(outcome, Outcome):
            raise TaskDefinitionError(
                f"task {task.name!r}: process_results must return an Outcome, got "
                f"{type(outcome).__name__} for {sample.where}"
            )
        return outcome

    def _result(self, tasks: dict[str, TaskResult], samples: dict, counts: dict, timing: dict) -> RunResult:
        model = self.adapter.describe()
        now = datetime.now(timezone.utc)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(model.get("name") or "model")).strip("_")[-60:] or "model"
        return RunResult(
            run_id=f"{slug}-{now.strftime('%Y%m%d-%H%M%S-%f')[:-3]}",
            created_at=now.isoformat(timespec="seconds"),
            git=provenance.git_state(),
            versions=provenance.versions(),
            environment={
                "device": model.get("device"),
                "dtype": model.get("dtype"),
                "world_size": self.processes.world_size,
                **provenance.platform_info(),
            },
            model=model,
            settings={
                "seed": self.seed,
                "limit": self.limit,
                "bootstrap_iters": self.bootstrap_iters,
                "confidence": self.confidence,
                "chunk_size": self.chunk_size,
                "calibration": self.calibration,
                "robustness": list(self.robustness),
                "prompt_spread": self.prompt_spread,
                "fewshot_seeds": self.fewshot_seeds if self.prompt_spread else None,
                "batch_size": model.get("batch_size"),
                "cache_dir": str(self.cache_dir) if self.cache_dir else None,
                "cache_fingerprint": self.cache_fingerprint(),
            },
            tasks=tasks,
            counts=counts,
            timing=timing,
            samples=samples,
        )


# -- metrics -------------------------------------------------------------------------------------------------------
def compute_metrics(
    task: Task, samples: list[Sample], outcomes: list[Outcome], iters: int, seed: int, confidence: float
) -> tuple[dict[str, MetricResult], list[dict]]:
    """Every metric of `task` (each module computed once) and the per-sample scores the modules return."""
    per_sample: list[dict] = [{} for _ in samples]
    results: dict[str, MetricResult] = {}
    module_outputs: dict[tuple, dict] = {}
    for metric in task.metrics:
        if metric.inputs == "scores":
            values = _scores(task, samples, outcomes, metric.name)
            summary = bootstrap.bootstrap_mean(values, iters, seed, confidence)
            results[metric.name] = MetricResult(
                float(np.mean(values)),
                summary["stderr"],
                summary["ci_low"],
                summary["ci_high"],
                metric.higher_is_better,
                metric.aggregation,
            )
            continue
        key = (metric.module, metric.inputs, metric.options)
        if key not in module_outputs:
            predictions, references = _pairs(task, samples, outcomes, metric)
            module_outputs[key] = compute_module(
                metric.module,
                predictions,
                references,
                bootstrap_iters=iters,
                seed=seed,
                confidence=confidence,
                return_per_sample=True,
                **dict(metric.options),
            )
            for name, values in module_outputs[key].get("per_sample", {}).items():
                for scores, value in zip(per_sample, values):
                    scores[name] = value
        output = module_outputs[key]
        interval = output["confidence_interval"].get(metric.name) or [None, None]
        results[metric.name] = MetricResult(
            float(output[metric.name]),
            output["stderr"].get(metric.name),
            interval[0],
            interval[1],
            metric.higher_is_better,
            metric.aggregation,
            output.get("signature"),
        )
    return results, per_sample


def _scores(task: Task, samples: list[Sample], outcomes: list[Outcome], name: str) -> np.ndarray:
    values = []
    for sample, outcome in zip(samples, outcomes):
        value = outcome.scores.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise TaskDefinitionError(
                f"task {task.name!r}: metric {name!r} needs a numeric per-sample score "
                f"{name!r} in every Outcome, got {value!r} for {sample.where}"
            )
        values.append(float(value))
    return np.asarray(values)


def _pairs(task: Task, samples: list[Sample], outcomes: list[Outcome], metric: MetricDef) -> tuple[list, list]:
    predictions, references = [], []
    for sample, outcome in zip(samples, outcomes):
        prediction = outcome.prediction
        is_label = isinstance(prediction, (int, np.integer)) and not isinstance(prediction, bool)
        if metric.inputs == "labels" and not is_label:
            raise TaskDefinitionError(
                f"task {task.name!r}: metric {metric.name!r} needs an integer prediction, got "
                f"{prediction!r} for {sample.where}"
            )
        if metric.inputs == "texts" and not isinstance(prediction, str):
            raise TaskDefinitionError(
                f"task {task.name!r}: metric {metric.name!r} needs a text prediction, got "
                f"{type(prediction).__name__} for {sample.where}"
            )
        predictions.append(int(prediction) if metric.inputs == "labels" else prediction)
        references.append(sample.target)
    return predictions, references


def confusion_matrix(task: Task, samples: list[Sample], outcomes: list[Outcome]) -> dict | None:
    """Counts (rows: reference, columns: prediction) for tasks with fixed labels and integer predictions."""
    if not isinstance(task.choices, FixedChoices):
        return None
    labels = list(task.choices.choices)
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for sample, outcome in zip(samples, outcomes):
        prediction, target = outcome.prediction, sample.target
        if not all(isinstance(v, (int, np.integer)) and 0 <= v < len(labels) for v in (prediction, target)):
            return None
        matrix[int(target), int(prediction)] += 1
    return {"labels": labels, "matrix": matrix.tolist()}


# -- calibration ---------------------------------------------------------------------------------------------------
def choice_probabilities(mode: ScoringMode, sample: Sample, responses: list) -> list[float] | None:
    """Probability of every choice of a sample: the classifier head's softmax (its labels in the task's choice
    order), or a softmax over the per-choice log-likelihoods after the mode's normalization; None for
    generation (and for responses of another shape)."""
    if isinstance(mode, ClassifierHead) and len(responses) == 1 and isinstance(responses[0], ClassificationResult):
        result = responses[0]
        order = (
            label_order(sample.choices, result.labels, sample.task, "the model")
            if sample.choices
            else range(len(result.labels))
        )
        return calibration.softmax([result.logprobs[i] for i in order]).tolist()
    if isinstance(mode, MultipleChoice) and responses and all(isinstance(r, LoglikelihoodResult) for r in responses):
        if mode.normalization == "chars" and len(sample.choices or ()) != len(responses):
            return None  # a task's own requests, not one per choice: no per-character normalization to apply
        return calibration.softmax(mode.normalized(sample, responses)).tolist()
    return None


def _confidence_source(mode: ScoringMode) -> str:
    if isinstance(mode, ClassifierHead):
        return "classifier softmax"
    return f"softmax over per-choice log-likelihoods (normalization: {mode.normalization})"


def _is_index(value, size: int) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value < size


# -- helpers -------------------------------------------------------------------------------------------------------
def _check_int(name: str, value, minimum: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        none = " or None" if allow_none else ""
        raise SettingError(f"{name} must be an int >= {minimum}{none}, got {value!r}")


def _chunk_order(request: Request) -> tuple:
    if request.kind == "loglikelihood":
        return request.context, request.continuation
    return -request.length_hint, request.key


def _prompt_text(requests: list[Request]) -> str:
    """What the model was shown: the context, or the classifier text (a second segment after U+001F)."""
    first = requests[0]
    text = getattr(first, "context", None)
    if text is None:
        text = first.text + ("" if first.text_pair is None else "\x1f" + first.text_pair)
    return text


def _prompt_hash(requests: list[Request]) -> str:
    """sha256 of what the model was shown (`_prompt_text`), for joining samples across runs."""
    return hashlib.sha256(_prompt_text(requests).encode("utf-8")).hexdigest()


def _choices(requests: list[Request]) -> list[str] | None:
    """The continuations a log-likelihood sample scored (its answer choices); None for other kinds."""
    if all(request.kind == "loglikelihood" for request in requests):
        return [request.continuation for request in requests]
    return None


LOG_PROGRESS_INTERVAL_S = 30.0  # a progress line this often when stderr is a file or pipe, not a terminal


def _progress(total: int, enabled: bool):
    """A tqdm bar of `total` requests. Redrawn in place on a terminal; written to a log file or pipe, each redraw
    is a new line, so there it updates every `LOG_PROGRESS_INTERVAL_S` seconds instead of ten times a second."""
    from tqdm.auto import tqdm

    interval = 0.1 if sys.stderr.isatty() else LOG_PROGRESS_INTERVAL_S
    return tqdm(total=total, unit="req", dynamic_ncols=True, mininterval=interval, disable=not enabled or total == 0)


def save_run(result: RunResult, output_dir: str | Path, report: bool = True) -> Path:
    """Write the run into `output_dir`: samples/<task>.jsonl, report.md, report.html and plots/ (when `report`)
    and results.json. Everything is written into a temporary folder beside `output_dir` and moved into place at the
    end (`staged_folder`), so a kill while saving leaves no samples/ without their results.json."""
    output_dir = Path(output_dir)
    with staged_folder(output_dir, last="results.json") as staging:
        for name, records in result.samples.items():
            write_jsonl(staging / result.tasks[name].samples_file, records)
        if report:
            from .html_report import write_html_report
            from .report import render_plots, write_report

            plots = render_plots(result)
            write_report(result, staging, plots)
            write_html_report(result, staging, plots)
        write_json(staging / "results.json", result.to_dict())
    return output_dir / "results.json"


def with_overrides(
    tasks: Sequence[Task], *, num_fewshot: int | None = None, task_data: dict[str, str] | None = None
) -> list[Task]:
    """Tasks with `num_fewshot` examples and/or their data read from {task name: JSON-lines path}."""
    task_data = dict(task_data or {})
    unknown = sorted(set(task_data) - {task.name for task in tasks})
    if unknown:
        raise TaskDefinitionError(f"data given for task(s) {unknown} that are not being evaluated")
    updated = []
    for task in tasks:
        if task.name in task_data:
            task = task.with_data(task_data[task.name])
        if num_fewshot is not None:
            task = replace(task, few_shot=replace(task.few_shot, num=num_fewshot))
        updated.append(task)
    return updated


__all__ = [
    "Runner",
    "Processes",
    "distributed_state",
    "TaskPlan",
    "compute_metrics",
    "confusion_matrix",
    "save_run",
    "with_overrides",
    "choice_probabilities",
]
