"""Classification tasks: SST-2 sentiment (GLUE), by classifier head or by label-verbalizer log-likelihood."""

from __future__ import annotations

from . import register_task
from .data import DataSource, packaged
from .formatting import FieldText, FieldValue
from .task import FewShot, PromptFormat, Task

QUESTION = "Is this sentence positive or negative?"

SST2 = register_task(
    Task(
        name="sst2",
        version="1.0",
        data=DataSource(path=packaged("sst2/validation.jsonl")),
        fields=("sentence", "label"),
        # the lm-evaluation-harness prompt and verbalizers
        prompt=FieldText("sentence", suffix="\nQuestion: Is this sentence positive or negative?\nAnswer:"),
        classifier_input=FieldText("sentence"),
        target=FieldValue("label"),
        choices=("negative", "positive"),
        scoring=("classifier_head", "multiple_choice"),
        metrics=("accuracy", "macro_f1", "mcc"),
        few_shot=FewShot(num=0, seed=1234, source=DataSource(path=packaged("sst2/train.jsonl"))),
        id_field="idx",
        formats=(  # FormatSpread's axes: field names, casing, separators (the choices stay " negative" / " positive")
            PromptFormat("review_sentiment", FieldText("sentence", prefix="Review: ", suffix="\nSentiment:")),
            PromptFormat("upper_case_labels", FieldText("sentence", suffix=f"\nQUESTION: {QUESTION}\nANSWER:")),
            PromptFormat("one_line", FieldText("sentence", suffix=f" Question: {QUESTION} Answer:")),
        ),
    )
)
