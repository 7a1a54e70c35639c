"""Summarization tasks: XSum (one-sentence BBC summaries), generated and scored with ROUGE (stemming)."""

from __future__ import annotations

from ..records import GenerationSettings
from . import register_task
from .data import DataSource, packaged
from .formatting import FieldText, FieldValue
from .task import Task

XSUM = register_task(
    Task(
        name="xsum",
        version="1.0",
        data=DataSource(path=packaged("xsum/test.jsonl")),
        fields=("document", "summary"),
        prompt=FieldText("document", prefix="Article: ", suffix="\nOne-sentence summary:"),
        seq2seq_prompt=FieldText("document", prefix="summarize: "),  # T5 convention
        target=FieldValue("summary"),
        scoring=("generation",),
        metrics=("rouge1", "rouge2", "rougeL", "rougeLsum"),
        generation=GenerationSettings(max_new_tokens=64, num_beams=1, stop=("\n",)),
        id_field="id",
    )
)
