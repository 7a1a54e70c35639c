"""Recipes load into typed dataclasses; bad recipes fail before training with a message naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from variformer.training.recipe import RecipeError, load_recipe, recipe_from_dict

from .conftest import REPO_ROOT

SHIPPED = sorted((REPO_ROOT / "recipes").glob("*.yaml")) + sorted((REPO_ROOT / "recipes" / "tiny").glob("*.yaml"))
# recipes that start from another recipe's output folder (checked without file checks)
CHAINED = {"sst2-decoder-lora-prompt.yaml", "sst2-from-mlm.yaml"}


def minimal(tmp_path: Path, shared_data: Path, **changes) -> dict:
    """A valid tiny causal-LM recipe as a dict; `changes` replace top-level keys."""
    recipe = {
        "name": "unit",
        "objective": "causal_lm",
        "output_dir": str(tmp_path / "out"),
        "model": {"preset": "tiny-decoder"},
        "tokenizer": {"train": {"vocab_size": 300}},
        "data": {"train": {"path": str(shared_data / "multi30k" / "validation.jsonl"), "columns": {"text": "en"}}},
        "training": {"max_steps": 2},
    }
    recipe.update(changes)
    return recipe


def error_of(raw: dict, **kwargs) -> str:
    with pytest.raises(RecipeError) as caught:
        recipe_from_dict(raw, **kwargs)
    return str(caught.value)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_recipes_load(path: Path, shared_data):
    recipe = load_recipe(path, base_dir=REPO_ROOT, check_files=path.name not in CHAINED)
    assert recipe.objective in ("causal_lm", "masked_lm", "seq2seq", "sequence_classification")
    args = recipe.training_arguments()
    assert args.output_dir == str(recipe.output_path)


def test_minimal_recipe_is_valid(tmp_path, shared_data):
    recipe = recipe_from_dict(minimal(tmp_path, shared_data))
    assert recipe.model.preset == "tiny-decoder" and recipe.data.train[0].columns == {"text": "en"}
    assert recipe.training_arguments().max_steps == 2


@pytest.mark.parametrize(
    "change, key",
    [
        ({"epochs": 3}, "epochs: unknown key"),
        ({"model": {"preset": "tiny-decoder", "preset_name": "x"}}, "model.preset_name: unknown key"),
        (
            {"training": {"learnig_rate": 1e-3}},
            "training.learnig_rate: not a TrainingArguments field; did you mean 'learning_rate'",
        ),
        ({"training": {"learning_rate": "fast"}}, "training.learning_rate: expected float"),
        ({"training": {"max_steps": 2.5}}, "training.max_steps: expected int"),
        ({"training": {"eval_strategy": False}}, "training.eval_strategy: got the boolean false"),
        ({"training": {"output_dir": "x"}}, "training.output_dir: not allowed here"),
        ({"seed": "one"}, "seed: expected int"),
        ({"objective": "causal"}, "objective: 'causal' is not allowed"),
        ({"objective": "masked_lm"}, "objective: 'masked_lm' needs a model with architecture in ['encoder']"),
        (
            {"model": {"preset": "tiny-decodr"}},
            "model.preset: unknown preset 'tiny-decodr'; did you mean 'tiny-decoder'",
        ),
        (
            {"model": {"preset": "tiny-decoder", "config": {"hiden_size": 8}}},
            "model.config.hiden_size: not a VariformerConfig field",
        ),
        ({"model": {"preset": "tiny-decoder", "checkpoint": "x"}}, "model: set exactly one of"),
        ({"tokenizer": {"train": {"kind": "wordpiece"}}}, "tokenizer.train.kind: 'wordpiece' is not allowed"),
        ({"lora": {"enabled": True, "rank": 4}}, "lora.rank: unknown key"),
        ({"early_stopping": {"patience": 2}}, "early_stopping: needs data.validation"),
        ({"base_dir": "/"}, "base_dir: unknown key"),
        ({"average_checkpoints": 3, "training": {"save_total_limit": 2}}, "training.save_total_limit: 2 keeps fewer"),
        # values TrainingArguments accepts but training cannot use: key, value and valid range
        (
            {"training": {"per_device_train_batch_size": 0}},
            "training.per_device_train_batch_size: 0 is out of range; it must be an integer >= 1",
        ),
        (
            {"training": {"max_steps": 2, "per_device_eval_batch_size": -1}},
            "training.per_device_eval_batch_size: -1 is out of range",
        ),
        ({"training": {"max_steps": 2, "gradient_accumulation_steps": 0}}, "training.gradient_accumulation_steps: 0"),
        (
            {"training": {"max_steps": 0}},
            "training.max_steps: 0 is out of range; it must be -1 (train for num_train_epochs) or an integer >= 1",
        ),
        (
            {"training": {"num_train_epochs": 0}},
            "training.num_train_epochs: 0.0 is out of range; it must be a number > 0",
        ),
        (
            {"training": {"max_steps": 2, "learning_rate": 0}},
            "training.learning_rate: 0.0 is out of range; it must be a number > 0",
        ),
        ({"training": {"max_steps": 2, "learning_rate": -1e-3}}, "training.learning_rate: -0.001 is out of range"),
        ({"training": {"max_steps": 2, "logging_steps": 0}}, "training.logging_steps: 0.0 is out of range"),
        ({"training": {"max_steps": 2, "save_steps": 0}}, "training.save_steps: 0.0 is out of range"),
        ({"training": {"max_steps": 2, "warmup_steps": -1}}, "training.warmup_steps: -1.0 is out of range"),
        ({"training": {"max_steps": 2, "weight_decay": -0.1}}, "training.weight_decay: -0.1 is out of range"),
        (
            {"training": {"max_steps": 2, "label_smoothing_factor": 1.0}},
            "training.label_smoothing_factor: 1.0 is out of range; it must be a number in [0, 1)",
        ),
        ({"training": {"max_steps": 2, "save_total_limit": 0}}, "training.save_total_limit: 0 is out of range"),
        ({"generation": {"num_beams": 0}}, "generation.num_beams: 0 is out of range; it must be an integer >= 1"),
        ({"generation": {"batch_size": 0}}, "generation.batch_size: 0 is out of range"),
        ({"tokenizer": {"train": {"vocab_size": 300, "max_texts": 0}}}, "tokenizer.train.max_texts: 0 is out of range"),
        (
            {"model": {"preset": "tiny-decoder", "config": {"hidden_size": 33}}},
            "model.config: VariformerConfig.hidden_size=33",
        ),
    ],
)
def test_bad_recipe_names_the_key(tmp_path, shared_data, change, key):
    message = error_of(minimal(tmp_path, shared_data, **change))
    assert key in message, message


def test_missing_data_file_and_column(tmp_path, shared_data):
    missing = minimal(tmp_path, shared_data, data={"train": {"path": str(tmp_path / "nope.jsonl")}})
    assert error_of(missing).startswith("data.train[0].path: ")
    wrong_field = minimal(tmp_path, shared_data)
    wrong_field["data"]["train"]["columns"] = {"text": "english"}
    message = error_of(wrong_field)
    assert message.startswith("data.train[0].columns.text: field 'english' is not in") and "'en'" in message


def test_missing_checkpoint(tmp_path, shared_data):
    raw = minimal(tmp_path, shared_data, model={"checkpoint": str(tmp_path / "no-such-model")})
    assert error_of(raw).startswith("model.checkpoint: ")


def test_hub_dataset_fails_fast_offline(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    raw = minimal(tmp_path, shared_data, data={"train": {"hub": "stanfordnlp/sst2", "columns": {"text": "sentence"}}})
    message = error_of(raw)
    assert message.startswith("data.train[0].hub: 'stanfordnlp/sst2' is a Hub data set") and "offline" in message


def test_unreachable_hub_fails_fast(tmp_path, shared_data, monkeypatch):
    import huggingface_hub

    def unreachable(self, repo_id, **kwargs):
        raise ConnectionError("Failed to resolve 'huggingface.co'")

    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", unreachable)
    raw = minimal(tmp_path, shared_data, data={"train": {"hub": "stanfordnlp/sst2", "columns": {"text": "sentence"}}})
    message = error_of(raw)
    assert message.startswith("data.train[0].hub: cannot use Hub data set 'stanfordnlp/sst2' (ConnectionError")


def test_early_stopping_needs_periodic_evaluation(tmp_path, shared_data):
    raw = minimal(tmp_path, shared_data, early_stopping={"patience": 2})
    raw["data"]["validation"] = raw["data"]["train"]
    message = error_of(raw)
    assert "eval_strategy" in message


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU refusal of QLoRA")
def test_qlora_refused_on_cpu_before_training(tmp_path, shared_data):
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps({"model_type": "variformer", "architecture": "decoder"}))
    raw = minimal(
        tmp_path,
        shared_data,
        model={"checkpoint": str(checkpoint)},
        tokenizer=None,
        lora={"enabled": True, "quantize_4bit": True},
    )
    message = error_of(raw)
    assert message.startswith("lora.quantize_4bit: QLoRA (bitsandbytes 4-bit) needs a CUDA GPU"), message


def test_yaml_extends_and_overrides(tmp_path, shared_data):
    parent = tmp_path / "parent.yaml"
    parent.write_text(yaml.safe_dump(minimal(tmp_path, shared_data)))
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent.yaml\nname: child\ntraining: {learning_rate: 1e-4}\nlora: true\n")
    recipe = load_recipe(child, overrides=["training.max_steps=7", "lora.r=4"])
    assert recipe.name == "child" and recipe.training == {"max_steps": 7, "learning_rate": 1e-4}
    assert recipe.lora.enabled and recipe.lora.r == 4
    path = shared_data / "multi30k" / "validation.jsonl"
    sources = f"data.train=[{{path: {path}, columns: {{text: en}}}}, {{path: {path}, columns: {{text: de}}}}]"
    two_sources = load_recipe(child, overrides=[sources, "data.train.1.max_samples=5"])
    assert [source.max_samples for source in two_sources.data.train] == [None, 5]
    with pytest.raises(RecipeError, match=r"^--set 'data.train.2.max_samples=5': data.train.2 is not an index"):
        load_recipe(child, overrides=[sources, "data.train.2.max_samples=5"])
    with pytest.raises(RecipeError, match=r"^training\.max_step: not a TrainingArguments field; did you mean"):
        load_recipe(child, overrides=["training.max_step=7"])


def test_cli_rejects_bad_recipe_before_training(tmp_path, shared_data, capsys):
    from variformer.cli import main

    raw = minimal(tmp_path, shared_data, training={"max_steps": 2, "warmup_step": 1})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["train", str(path)]) == 2
    assert "training.warmup_step: not a TrainingArguments field; did you mean 'warmup_steps'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing started


def test_cli_check_accepts_good_recipe(tmp_path, shared_data, capsys):
    from variformer.cli import main

    path = tmp_path / "good.yaml"
    path.write_text(json.dumps(minimal(tmp_path, shared_data)))
    assert main(["train", str(path), "--check", "--max-steps", "3"]) == 0
    assert "is valid" in capsys.readouterr().out
