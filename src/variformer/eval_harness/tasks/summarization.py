"""Summarization tasks: XSum (one-sentence BBC summaries), generated and scored with ROUGE (stemming)."""

from __future__ import annotations

from ..records import GenerationSettings
from . import register_task
from .data import DataSource, packaged
from .formatting import FieldText, FieldValue
from .task import PromptFormat, Task

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
        formats=(
            PromptFormat(
                "document_summary",
                FieldText("document", prefix="Document: ", suffix="\nSummary:"),
                seq2seq_prompt=FieldText("document", prefix="Summarize: "),
            ),
            PromptFormat(
                "upper_case",
                FieldText("document", prefix="ARTICLE: ", suffix="\nONE-SENTENCE SUMMARY:"),
                seq2seq_prompt=FieldText("document", prefix="SUMMARIZE: "),
            ),
            PromptFormat(
                "tl_dr",
                FieldText("document", suffix="\nTL;DR:"),
                seq2seq_prompt=FieldText("document", suffix="\nsummary:"),
            ),
        ),
    )
)
