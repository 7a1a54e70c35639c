"""The hallucination probes as ordinary harness tasks (report group "hallucination").

Registered tasks (data: the 100-row slices under `variformer/data/hallucination/`; point a task at the full file
with `--task-data NAME=PATH` or `task.with_data(path)`):

- truthfulqa_mc1, truthfulqa_mc2: one log-likelihood per answer choice after lm-eval's QA-primer prompt;
  per-sample "mc1" / "mc2" (see `truthfulqa.py`), equal to lm-eval's truthfulqa_mc1 / truthfulqa_mc2 `acc`.
- truthfulqa_gen: greedy generation after the primer (stop at a blank line, 256 new tokens, as lm-eval), BLEU and
  ROUGE max / diff / acc against the true and false references.
- halueval_qa, halueval_dialogue, halueval_summarization, halueval_general: hallucination recognition. Paired
  rows (right and hallucinated output) become two judgments. A sequence classifier with 2 labels judges with its
  head (label 1 or a label named "Yes" = hallucinated); a language model compares " Yes" and " No" after the
  paper's instruction. Scores: accuracy, precision / recall / F1 of the "Yes" class.
- summary_faithfulness: length-normalized (per character) log-likelihood of the faithful vs the unfaithful
  summary given the source; "faithful_preference" (chance = 0.5).
- xsum_unsupported, multi30k_de_en_unsupported: the xsum / multi30k_de_en generation tasks plus the rate of
  entities and numbers in the output that the source lacks (`entities.py`). `with_unsupported_entities(task, ...)`
  adds the same scores to any generation task.

Metrics that are ratios over a subset of samples (precision, recall, pooled unsupported rate) are not means of
per-sample values; the tasks record per-sample counts whose means give them (`report.derived_metrics`), and the
report's hallucination section shows the ratios.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources

from ..errors import DataError
from ..metrics import mean_of
from ..records import ClassificationResult, GenerationSettings, Outcome
from ..tasks import DataSource, MultipleChoice, PromptFormat, Row, Task, register_task
from ..tasks.scoring import cut_at_stop, label_order
from ..tasks.summarization import XSUM
from ..tasks.translation import MULTI30K_DE_EN
from .entities import check_output
from .faithfulness import parse_pair_row, preference
from .halueval import parse_halueval_row, recognition_metrics
from .prompts import (
    HALUEVAL_TASKS,
    PROMPT_STYLES,
    faithfulness_prompt,
    halueval_prompt,
    truthfulqa_gen_prompt,
    truthfulqa_mc_prompt,
    truthfulqa_styled_prompt,
)
from .report import derived_metrics
from .rows import MalformedRowError
from .truthfulqa import GEN_METRICS, generation_scores, mc1_score, mc2_score, parse_generation_row, parse_mc_row

GROUP = "hallucination"
DATA_FOLDER = "data/hallucination"


def shipped(name: str) -> str:
    """Absolute path of a probe slice shipped in `variformer/data/hallucination/`."""
    return str(resources.files("variformer").joinpath(DATA_FOLDER, name))


def _checked(parse, *args):
    """Run a row parser inside a row function: the harness adds task, file, line and row to the message."""
    try:
        return parse(*args)
    except MalformedRowError as error:
        raise DataError(f"field {error.field!r}: {error.problem}") from None


def _logprobs(responses: Sequence) -> list[float]:
    return [response.logprob for response in responses]


# ---- TruthfulQA multiple choice ---------------------------------------------------------------------------------
def _mc_task(setting: str, score_name: str, score) -> Task:
    def item(row):
        return _checked(parse_mc_row, row, 0, f"{setting}_targets")

    def process(row, responses) -> Outcome:
        labels, lls = item(row).labels, _logprobs(responses)
        best = max(range(len(lls)), key=lambda i: (lls[i], -i))
        return Outcome(
            prediction=best,
            scores={score_name: score(lls, labels)},
            output={"loglikelihoods": lls, "labels": list(labels)},
        )

    return Task(
        name=f"truthfulqa_{setting}",
        version="1.0",
        data=DataSource(path=shipped("truthfulqa_mc.jsonl")),
        fields=("question", f"{setting}_targets"),
        prompt=lambda row: truthfulqa_mc_prompt(item(row).question),
        formats=tuple(
            PromptFormat(style, lambda row, style=style: truthfulqa_styled_prompt(item(row).question, style, True))
            for style in PROMPT_STYLES
        ),
        choices=lambda row: list(item(row).choices),
        target=lambda row: item(row).labels.index(1),
        scoring=("multiple_choice",),
        process_results=process,
        metrics=(mean_of(score_name),),
        group=GROUP,
        input_fields=("question",),
    )


TRUTHFULQA_MC1 = register_task(_mc_task("mc1", "mc1", mc1_score))
TRUTHFULQA_MC2 = register_task(_mc_task("mc2", "mc2", mc2_score))


# ---- TruthfulQA generation ------------------------------------------------------------------------------------
TRUTHFULQA_GEN_SETTINGS = GenerationSettings(max_new_tokens=256, num_beams=1, stop=("\n\n",))


def _gen_item(row):
    return _checked(parse_generation_row, row, 0)


def _gen_process(row, responses) -> Outcome:
    (text,) = responses
    completion = cut_at_stop(text, TRUTHFULQA_GEN_SETTINGS.stop)
    item = _gen_item(row)
    return Outcome(
        prediction=completion, scores=generation_scores(completion, item.true_refs, item.false_refs), output=text
    )


TRUTHFULQA_GEN = register_task(
    Task(
        name="truthfulqa_gen",
        version="1.0",
        data=DataSource(path=shipped("truthfulqa_gen.jsonl")),
        fields=("question", "correct_answers", "incorrect_answers"),
        prompt=lambda row: truthfulqa_gen_prompt(_gen_item(row).question),
        formats=tuple(
            PromptFormat(
                style, lambda row, style=style: truthfulqa_styled_prompt(_gen_item(row).question, style, False)
            )
            for style in PROMPT_STYLES
        ),
        target=lambda row: list(_gen_item(row).true_refs),
        scoring=("generation",),
        generation=TRUTHFULQA_GEN_SETTINGS,
        process_results=_gen_process,
        metrics=tuple(mean_of(f"{name}_{kind}") for name in GEN_METRICS for kind in ("max", "acc", "diff")),
        group=GROUP,
        input_fields=("question",),
    )
)


# ---- HaluEval ---------------------------------------------------------------------------------------------------
JUDGMENT_CHOICES = ("No", "Yes")  # label 0 = not hallucinated, label 1 = hallucinated


def expand_judgments(split: str, rows: Sequence[Row], task_name: str) -> list[Row]:
    """One row per judgment (two per paired HaluEval row), each with its own `where` for error messages."""
    out: list[Row] = []
    for row in rows:
        judgments = parse_halueval_row(split, row.data, row.index, f"task {task_name!r}: {row.where}")
        for judgment in judgments:
            side = "hallucinated" if judgment.hallucinated else "right"
            where = f"{row.where} ({side} output)" if split != "general" else row.where
            data = {
                "id": judgment.id,
                "context": judgment.context,
                "response": judgment.response,
                "hallucinated": judgment.hallucinated,
            }
            out.append(Row(len(out), data, where))
    return out


@dataclass(frozen=True)
class JudgmentTask(Task):
    """A HaluEval task: its data rows (HaluEval's own formats) become judgments before samples are built."""

    halueval_split: str = "qa"

    def build_samples(self, rows: Sequence[Row], **kwargs):
        return super().build_samples(expand_judgments(self.halueval_split, rows, self.name), **kwargs)

    def to_json(self) -> dict:
        return {**super().to_json(), "halueval_split": self.halueval_split}


def _judgment_process(task_name: str):
    def process(row, responses) -> Outcome:
        (first, *_) = responses
        if isinstance(first, ClassificationResult):
            order = label_order(JUDGMENT_CHOICES, first.labels, task_name, "the model")
            no, yes = (first.logprobs[i] for i in order)
        else:
            no, yes = _logprobs(responses)
        predicted, gold = yes > no, bool(row["hallucinated"])
        return Outcome(
            prediction=int(predicted),
            scores=judgment_scores(predicted, gold),
            output={"logprob_no": no, "logprob_yes": yes},
        )

    return process


def judgment_scores(predicted: bool, gold: bool) -> dict[str, float]:
    """Per-judgment counts whose means give accuracy and the "Yes"-class precision / recall."""
    return {
        "accuracy": float(predicted == gold),
        "predicted_yes": float(predicted),
        "gold_yes": float(gold),
        "true_yes": float(predicted and gold),
    }


def _halueval_task(split: str) -> JudgmentTask:
    name = f"halueval_{split}"
    return JudgmentTask(
        name=name,
        version="1.0",
        data=DataSource(path=shipped(f"{name}.jsonl")),
        fields=(),
        prompt=lambda row: halueval_prompt(split, row["context"], row["response"]),
        formats=tuple(
            PromptFormat(style, lambda row, style=style: halueval_prompt(split, row["context"], row["response"], style))
            for style in PROMPT_STYLES
        ),
        classifier_input=lambda row: (row["context"], row["response"]),
        choices=JUDGMENT_CHOICES,
        target=lambda row: int(row["hallucinated"]),
        scoring=("classifier_head", "multiple_choice"),
        process_results=_judgment_process(name),
        metrics=tuple(mean_of(score) for score in ("accuracy", "predicted_yes", "gold_yes", "true_yes")),
        id_field="id",
        group=GROUP,
        input_fields=("context",),  # the knowledge / question / dialogue; the response is what is judged
        halueval_split=split,
    )


HALUEVAL = {split: register_task(_halueval_task(split)) for split in HALUEVAL_TASKS}


# ---- summary faithfulness (preference) --------------------------------------------------------------------------
def _pair(row):
    return _checked(parse_pair_row, row, 0)


def _faithfulness_process(row, responses) -> Outcome:
    pair = _pair(row)
    ll_faithful, ll_unfaithful = _logprobs(responses)
    won = preference(ll_faithful, pair.faithful, ll_unfaithful, pair.unfaithful)
    return Outcome(
        prediction=0 if won >= 0.5 else 1,
        scores={"faithful_preference": won},
        output={"loglikelihood_faithful": ll_faithful, "loglikelihood_unfaithful": ll_unfaithful},
    )


SUMMARY_FAITHFULNESS = register_task(
    Task(
        name="summary_faithfulness",
        version="1.0",
        data=DataSource(path=shipped("factual_summary_pairs.jsonl")),
        fields=("source", "faithful", "unfaithful"),
        prompt=lambda row: faithfulness_prompt(_pair(row).source),
        seq2seq_prompt=lambda row: "summarize: " + _pair(row).source,
        formats=tuple(
            PromptFormat(
                style,
                lambda row, style=style: faithfulness_prompt(_pair(row).source, style),
                seq2seq_prompt=lambda row, prefix=prefix: prefix + _pair(row).source,
            )
            for style, prefix in zip(PROMPT_STYLES, ("Summarize: ", "SUMMARIZE: ", "summary: "))
        ),
        choices=lambda row: [_pair(row).faithful, _pair(row).unfaithful],
        target=lambda row: 0,
        scoring=(MultipleChoice(normalization="chars"),),
        process_results=_faithfulness_process,
        metrics=(mean_of("faithful_preference"),),
        group=GROUP,
        input_fields=("source",),
    )
)


# ---- unsupported entities and numbers in generated outputs -------------------------------------------------------
ENTITY_SCORES = (
    "unsupported_items",
    "items",
    "has_unsupported",
    "unsupported_entities",
    "entities",
    "unsupported_numbers",
    "numbers",
)


def entity_scores(output: str, source: str, language: str = "en") -> dict[str, float]:
    """Per-sample counts of the output's entities / numbers and of those the source lacks."""
    report = check_output(output, source, language)
    (items, bad), (entities, bad_entities), (numbers, bad_numbers) = (
        report.counts(),
        report.counts("entity"),
        report.counts("number"),
    )
    return {
        "unsupported_items": float(bad),
        "items": float(items),
        "has_unsupported": float(bad > 0),
        "unsupported_entities": float(bad_entities),
        "entities": float(entities),
        "unsupported_numbers": float(bad_numbers),
        "numbers": float(numbers),
    }


def with_unsupported_entities(task: Task, source_field: str, language: str = "en", name: str | None = None) -> Task:
    """`task` (a generation task) that also scores the unsupported entities and numbers of each output against
    `row[source_field]`; `language` is the output's language ("de": numbers only)."""
    previous = task.process_results
    settings = task.generation

    def process(row: Mapping, responses) -> Outcome:
        if previous is not None:
            base = previous(row, responses)
        else:
            (text,) = responses
            base = Outcome(prediction=cut_at_stop(text, settings.stop).strip(), output=text)
        if not isinstance(base.prediction, str):
            raise DataError(f"unsupported-entity scores need a generated text, got {type(base.prediction).__name__}")
        scores = {**base.scores, **entity_scores(base.prediction, row[source_field], language)}
        return Outcome(prediction=base.prediction, scores=scores, output=base.output)

    return replace(
        task,
        name=name or f"{task.name}_unsupported",
        process_results=process,
        fields=tuple(dict.fromkeys([*task.fields, source_field])),
        metrics=(*task.metrics, *(mean_of(score, higher_is_better=False) for score in ENTITY_SCORES)),
        group=GROUP,
    )


XSUM_UNSUPPORTED = register_task(with_unsupported_entities(XSUM, "document", "en"))
MULTI30K_DE_EN_UNSUPPORTED = register_task(with_unsupported_entities(MULTI30K_DE_EN, "de", "en"))


__all__ = [
    "GROUP",
    "shipped",
    "TRUTHFULQA_MC1",
    "TRUTHFULQA_MC2",
    "TRUTHFULQA_GEN",
    "HALUEVAL",
    "JudgmentTask",
    "expand_judgments",
    "judgment_scores",
    "SUMMARY_FAITHFULNESS",
    "entity_scores",
    "with_unsupported_entities",
    "XSUM_UNSUPPORTED",
    "MULTI30K_DE_EN_UNSUPPORTED",
    "derived_metrics",
    "recognition_metrics",
]
