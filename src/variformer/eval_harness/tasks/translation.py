"""Translation tasks: Multi30k German -> English (test2016), generated and scored with sacreBLEU and chrF."""

from __future__ import annotations

from ..records import GenerationSettings
from . import register_task
from .data import DataSource, packaged
from .formatting import FieldText, FieldValue
from .task import PromptFormat, Task

MULTI30K_DE_EN = register_task(
    Task(
        name="multi30k_de_en",
        version="1.0",
        data=DataSource(path=packaged("multi30k/test2016.jsonl")),
        fields=("de", "en"),
        prompt=FieldText("de", prefix="Translate German to English.\nGerman: ", suffix="\nEnglish:"),
        seq2seq_prompt=FieldText("de"),  # encoder-decoder translators read the raw source sentence
        target=FieldValue("en"),
        scoring=("generation",),
        metrics=("bleu", "chrf"),
        generation=GenerationSettings(max_new_tokens=64, num_beams=1, stop=("\n",)),
        id_field="id",
        formats=(  # field names, casing, separators; the encoder input of seq2seq models varies alike
            PromptFormat(
                "short_fields",
                FieldText("de", prefix="German: ", suffix="\nEnglish:"),
                seq2seq_prompt=FieldText("de", prefix="German: "),
            ),
            PromptFormat(
                "upper_case",
                FieldText("de", prefix="TRANSLATE GERMAN TO ENGLISH.\nGERMAN: ", suffix="\nENGLISH:"),
                seq2seq_prompt=FieldText("de", prefix="translate German to English: "),  # T5's task prefix
            ),
            PromptFormat(
                "one_line",
                FieldText("de", prefix="Translate German to English. German: ", suffix=" English:"),
                seq2seq_prompt=FieldText("de", suffix="\nEnglish:"),
            ),
        ),
    )
)
