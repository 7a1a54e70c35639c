"""Data for recipes: read sources into `datasets.Dataset`s with standard columns, tokenize, collate.

Standard columns per objective: causal_lm / masked_lm `text`; seq2seq `source`, `target`; sequence_classification
`text`, `label` (and optional `text_pair`). A source's `columns` maps them to the field names of its records.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from .recipe import OBJECTIVE_COLUMNS, Recipe, SourceSpec

SPLITS = ("train", "validation", "test")


# ---------------------------------------------------------------------------------------------- reading
def read_jsonl(path: str | Path) -> list[dict]:
    """All records of a JSON-lines file (.jsonl, or gzip-compressed .jsonl.gz)."""
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_source(recipe: Recipe, source: SourceSpec, seed: int | None = None):
    """One source as a `datasets.Dataset` holding only the objective's standard columns."""
    from datasets import Dataset

    required, optional = OBJECTIVE_COLUMNS[recipe.objective]
    wanted = list(required) + [c for c in optional if c in source.columns]
    fields = {column: source.columns.get(column, column) for column in wanted}
    records = _hub_records(source) if source.hub is not None else read_jsonl(recipe.resolve(source.path))
    if source.max_samples is not None and source.max_samples < len(records):
        rng = random.Random(recipe.seed if seed is None else seed)
        records = [records[i] for i in sorted(rng.sample(range(len(records)), source.max_samples))]
    columns = {column: [record[name] for record in records] for column, name in fields.items()}
    if "label" in columns:
        columns["label"] = [_label_id(value, recipe) for value in columns["label"]]
    return Dataset.from_dict(columns)


def _hub_records(source: SourceSpec) -> list[dict]:
    from datasets import load_dataset

    try:
        dataset = load_dataset(source.hub, source.hub_config, split=source.split)
    except Exception as error:  # noqa: BLE001 - any failure to reach or read the Hub gets one clear message
        raise RuntimeError(
            f"could not load Hub data set {source.hub!r} (config {source.hub_config!r}, split {source.split!r}): "
            f"{type(error).__name__}: {error}. Offline? Point the source's `path` at a local .jsonl file."
        ) from error
    return list(dataset)


def _label_id(value, recipe: Recipe) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"label {value!r} is neither an integer nor a name in model.label_names")
    if isinstance(value, str):
        names = recipe.model.label_names or []
        if value not in names:
            raise ValueError(f"label {value!r} is not in model.label_names {names}")
        return names.index(value)
    if not 0 <= value < recipe.model.num_labels:
        raise ValueError(f"label {value} is outside [0, model.num_labels={recipe.model.num_labels})")
    return value


def load_raw_splits(recipe: Recipe) -> dict:
    """{"train": Dataset, "validation": Dataset?, "test": Dataset?}: the sources of each split concatenated."""
    from datasets import concatenate_datasets

    splits = {}
    for split in SPLITS:
        sources = getattr(recipe.data, split)
        if sources:
            parts = [load_source(recipe, source, seed=recipe.seed + i) for i, source in enumerate(sources)]
            splits[split] = parts[0] if len(parts) == 1 else concatenate_datasets(parts)
    return splits


def training_texts(dataset, objective: str, prompt: str | None = None) -> list[str]:
    """The texts a tokenizer is trained on: every text column of the training split."""
    if objective == "seq2seq":
        return list(dataset["source"]) + list(dataset["target"])
    texts = [_prompted(text, prompt) for text in dataset["text"]]
    if "text_pair" in dataset.column_names:
        texts += list(dataset["text_pair"])
    return texts


def _prompted(text: str, prompt: str | None) -> str:
    return prompt.replace("{text}", text) if prompt else text


# ---------------------------------------------------------------------------------------------- tokenizing
def tokenize_splits(raw: dict, tokenizer, recipe: Recipe) -> dict:
    """Token ids per split, ready for the objective's collator."""
    return {split: tokenize_dataset(dataset, tokenizer, recipe) for split, dataset in raw.items()}


def tokenize_dataset(dataset, tokenizer, recipe: Recipe):
    data, objective = recipe.data, recipe.objective
    if objective == "seq2seq":
        target_length = data.max_target_length or data.max_length

        def encode(batch):
            encoded = tokenizer(batch["source"], truncation=True, max_length=data.max_length)
            encoded["labels"] = tokenizer(text_target=batch["target"], truncation=True, max_length=target_length)[
                "input_ids"
            ]
            return encoded
    elif objective == "sequence_classification":

        def encode(batch):
            texts = [_prompted(text, data.prompt) for text in batch["text"]]
            pairs = batch.get("text_pair")
            encoded = tokenizer(texts, pairs, truncation=True, max_length=data.max_length)
            encoded["labels"] = batch["label"]
            return encoded
    else:

        def encode(batch):
            texts = [_prompted(text, data.prompt) for text in batch["text"]]
            if data.pack:  # whole texts, cut into blocks below; no warning about texts longer than the model
                return tokenizer(texts, truncation=False, verbose=False)
            return tokenizer(texts, truncation=True, max_length=data.max_length)

    encoded = dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc="tokenize")
    if data.pack:
        encoded = encoded.map(_packer(data.max_length), batched=True, remove_columns=encoded.column_names, desc="pack")
    return encoded


def _packer(block_size: int):
    """Concatenate a batch of token lists and cut it into full blocks of `block_size` (the remainder is dropped)."""

    def pack(batch):
        ids = [token for row in batch["input_ids"] for token in row]
        usable = len(ids) - len(ids) % block_size
        blocks = [ids[i : i + block_size] for i in range(0, usable, block_size)]
        return {"input_ids": blocks, "attention_mask": [[1] * block_size for _ in blocks]}

    return pack


# ---------------------------------------------------------------------------------------------- collating
def data_collator(recipe: Recipe, tokenizer, model=None):
    """The transformers collator of the objective (padding, label masking, MLM masking, decoder inputs)."""
    from transformers import DataCollatorForLanguageModeling, DataCollatorForSeq2Seq, DataCollatorWithPadding

    objective = recipe.objective
    if objective == "causal_lm":
        return DataCollatorForLanguageModeling(tokenizer, mlm=False)
    if objective == "masked_lm":
        return DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=recipe.data.mlm_probability)
    if objective == "seq2seq":
        return DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)
    return DataCollatorWithPadding(tokenizer)


__all__ = [
    "data_collator",
    "load_raw_splits",
    "load_source",
    "read_jsonl",
    "tokenize_dataset",
    "tokenize_splits",
    "training_texts",
]
