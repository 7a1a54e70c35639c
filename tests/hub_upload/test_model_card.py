"""Model card: YAML front matter that parses, a model-index equal to the results JSON, a readable body."""

from __future__ import annotations

import json

import pytest
import yaml
from huggingface_hub import ModelCard

from variformer import VariformerConfig, VariformerForConditionalGeneration
from variformer.hub_upload import CardOptions, ModelCardError, build_model_card, load_eval_results
from variformer.hub_upload.export import served_auto_classes

from .conftest import harness_run, harness_task, tiny_config

SECRET = "hf_recipe_secret_value"
RESULTS = harness_run(
    harness_task(
        "multi30k_de_en",
        {"bleu": (31.25, 0.8, True), "chrf": (55.1, 0.9, True)},
        num_samples=1000,
        data={"hub_id": "bentrevett/multi30k", "hub_config": "de-en", "split": "test", "revision": None},
    ),
    harness_task("xsum", {"rougeL": (0.2134, 0.01, True)}, {"hub_id": "EdinburghNLP/xsum"}),
    harness_task(
        "halueval_qa",
        {"hallucination_rate": (0.37, 0.02, False)},
        group="hallucination",
        data={"path": "../shared/data/halueval/qa.jsonl", "sha256": "00"},
        num_samples=480,
    ),
)
RECIPE = {
    "name": "mt-de-en",
    "description": "A tiny German-English translator.",
    "objective": "seq2seq",
    "model": {"preset": "tiny-encoder-decoder"},
    "data": {"train": [{"path": "../shared/data/multi30k/train.jsonl"}, {"hub": "bentrevett/multi30k"}]},
    "training": {"learning_rate": 0.0005, "num_train_epochs": 3, "hub_token": SECRET},
}
TRAINER_STATE = {
    "global_step": 120,
    "epoch": 3.0,
    "num_train_epochs": 3,
    "train_batch_size": 16,
    "best_metric": 1.9,
    "best_model_checkpoint": "/home/someone/private/runs/checkpoint-120",
    "log_history": [
        {"loss": 4.1, "learning_rate": 0.0005, "step": 40},
        {"loss": 2.2, "step": 80},
        {"eval_loss": 1.9, "step": 120},
    ],
}


def _card(tmp_path, results=RESULTS, **options) -> str:
    checkpoint = tmp_path / "run" / "checkpoint-120"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text(json.dumps(TRAINER_STATE))
    (tmp_path / "run" / "recipe.yaml").write_text(yaml.safe_dump(RECIPE))
    results_file = tmp_path / "results.json"
    results_file.write_text(json.dumps(results))
    config = tiny_config("encoder-decoder")
    return build_model_card(
        config,
        checkpoint=checkpoint,
        served=served_auto_classes(config),
        model_class=VariformerForConditionalGeneration,
        num_parameters=123_456,
        has_tokenizer=True,
        options=CardOptions(repo_id="alice/variformer-mt-de-en", eval_results=results_file, **options),
    )


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n", 2)[1])


def test_front_matter_and_model_index_match_the_results(tmp_path):
    card = _card(tmp_path, datasets=("bentrevett/multi30k",), language=("de", "en"), base_model="google/t5-small")
    meta = _front_matter(card)
    assert meta["license"] == "apache-2.0" and meta["library_name"] == "transformers"
    assert meta["pipeline_tag"] == "text2text-generation"
    assert {"variformer", "custom_code", "variformer-encoder-decoder"} <= set(meta["tags"])
    assert meta["base_model"] == "google/t5-small" and meta["language"] == ["de", "en"]
    assert meta["datasets"] == ["bentrevett/multi30k"]  # from the option and the recipe, once

    (index,) = meta["model-index"]
    assert index["name"] == "variformer-mt-de-en"
    found = {
        (r["task"]["name"], r["task"]["type"], r["dataset"]["type"], m["type"], m["value"])
        for r in index["results"]
        for m in r["metrics"]
    }
    assert found == {
        ("multi30k_de_en", "translation", "bentrevett/multi30k", "bleu", 31.25),
        ("multi30k_de_en", "translation", "bentrevett/multi30k", "chrf", 55.1),
        ("xsum", "summarization", "EdinburghNLP/xsum", "rougeL", 0.2134),
        ("halueval_qa", "text2text-generation", "halueval/qa", "hallucination_rate", 0.37),
    }
    multi30k = next(r for r in index["results"] if r["task"]["name"] == "multi30k_de_en")
    assert multi30k["dataset"] == {
        "name": "bentrevett/multi30k",
        "type": "bentrevett/multi30k",
        "config": "de-en",
        "split": "test",
    }
    assert len(ModelCard(card).data.eval_results) == len(found)  # huggingface_hub reads it back


def test_body_sections(tmp_path):
    card = _card(tmp_path)
    body = card.split("---\n", 2)[2]
    for section in (
        "## Architecture",
        "## Training",
        "## Evaluation",
        "## Hallucination probes",
        "## Limitations",
        "## How to load",
    ):
        assert section in body
    evaluation = body.split("## Evaluation")[1].split("## Hallucination probes")[0]
    probes = body.split("## Hallucination probes")[1].split("## Limitations")[0]
    assert "| multi30k_de_en | bentrevett/multi30k (de-en) [test] | bleu ↑ | 31.25 | ± 0.8 | 1000 |" in evaluation
    assert "halueval_qa" not in evaluation
    assert "| halueval_qa | halueval/qa | hallucination_rate ↓ | 0.37 | ± 0.02 | 480 |" in probes
    assert "run_id: run-7" in evaluation and "git commit: abc123" in evaluation
    assert "| hidden_size | 32 |" in body and "| parameters | 123,456 |" in body
    assert "A tiny German-English translator." in body and "| global_step | 120 |" in body
    assert "| last evaluation loss | 1.9 |" in body and "multi30k/train.jsonl" in body
    assert SECRET not in card and "<redacted>" in card
    assert "/home/someone" not in card
    assert 'AutoModelForSeq2SeqLM.from_pretrained("alice/variformer-mt-de-en", trust_remote_code=True)' in body
    assert "import variformer" in body


def test_card_without_results_or_training_record(tmp_path):
    config = VariformerConfig.from_preset("tiny-decoder")
    from variformer import VariformerForCausalLM

    card = build_model_card(
        config,
        checkpoint=tmp_path,
        options=CardOptions(),
        served=served_auto_classes(config),
        model_class=VariformerForCausalLM,
    )
    meta = _front_matter(card)
    assert "model-index" not in meta and meta["pipeline_tag"] == "text-generation"
    assert "No evaluation results were provided" in card and "No training record was found" in card


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not readable JSON"),
        ('["a"]', "not a results.json of `variformer eval`"),
        ('{"tasks": {"t": {"metrics": {"acc": 1}}}}', "results schema None is not"),
        (json.dumps({**RESULTS, "tasks": {"t": {"metrics": {}}}}), "not a results.json of `variformer eval`"),
    ],
)
def test_invalid_results_are_rejected_naming_the_file(tmp_path, content, message):
    path = tmp_path / "results.json"
    path.write_text(content)
    with pytest.raises(ModelCardError, match=message) as caught:
        load_eval_results(path)
    assert str(path) in str(caught.value)


def test_results_written_by_the_harness(tmp_path):
    run = harness_run(
        harness_task(
            "multi30k_de_en",
            {"bleu": (28.5, 0.01, True), "chrf": (51.0, 0.01, True)},
            {"hub_id": "bentrevett/multi30k", "hub_config": None, "split": "test", "revision": None},
        ),
        harness_task(
            "halueval_qa",
            {"accuracy": (0.62, 0.01, True), "abstention_rate": (float("nan"), 0.01, False)},
            {"path": "../shared/data/halueval/qa.jsonl", "sha256": "00"},
            group="hallucination",
        ),
    )
    path = tmp_path / "results.json"
    path.write_text(json.dumps(run))  # NaN as the harness writes it (allow_nan)
    assert list(load_eval_results(tmp_path).tasks) == ["multi30k_de_en", "halueval_qa"]  # the run folder works too
    card = _card(tmp_path / "card", results=run)
    index = _front_matter(card)["model-index"][0]["results"]
    assert {(r["task"]["name"], m["type"], m["value"]) for r in index for m in r["metrics"]} == {
        ("multi30k_de_en", "bleu", 28.5),
        ("multi30k_de_en", "chrf", 51.0),
        ("halueval_qa", "accuracy", 0.62),
    }
    probes = card.split("## Hallucination probes")[1].split("## Limitations")[0]
    assert "| halueval_qa | halueval/qa | abstention_rate ↓ | n/a | ± 0.01 | 50 |" in probes
    assert "run_id: run-7" in card and "git commit: abc123" in card


def test_missing_results_file(tmp_path):
    with pytest.raises(ModelCardError, match="does not exist"):
        load_eval_results(tmp_path / "nope.json")
