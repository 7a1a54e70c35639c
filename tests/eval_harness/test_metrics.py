"""Metric parity: our evaluate modules equal the reference implementations (sacrebleu CLI, rouge-score,
scikit-learn), load offline by path, and give deterministic bootstrap errors."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from variformer.eval_harness.metrics import compute_module, module_path
from variformer.eval_harness.metrics.macro_f1 import macro_f1_from_confusion
from variformer.eval_harness.metrics.mcc import mcc_from_confusion


def _perturb(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    kept = [w for w in words if rng.random() > 0.25] or words[:1]
    if rng.random() < 0.3:
        kept.append("somewhere")
    return " ".join(kept)


@pytest.fixture(scope="module")
def translation_files(shared_data, tmp_path_factory):
    rows = [json.loads(line) for line in (shared_data / "multi30k" / "test2016.jsonl").read_text().splitlines()[:150]]
    rng = random.Random(0)
    folder = tmp_path_factory.mktemp("mt")
    references = [row["en"] for row in rows]
    second = [_perturb(row["en"], random.Random(i)) for i, row in enumerate(rows)]
    hypotheses = [_perturb(ref, rng) for ref in references]
    (folder / "ref.txt").write_text("\n".join(references) + "\n")
    (folder / "ref2.txt").write_text("\n".join(second) + "\n")
    (folder / "hyp.txt").write_text("\n".join(hypotheses) + "\n")
    return folder, hypotheses, references, second


def _sacrebleu_cli(*args: str) -> dict:
    executable = shutil.which("sacrebleu") or str(Path(sys.executable).parent / "sacrebleu")
    done = subprocess.run(
        [executable, *args, "-m", "bleu", "chrf", "-w", "6"], capture_output=True, text=True, check=True
    )
    return {entry["name"]: entry for entry in json.loads(done.stdout)}


def test_bleu_and_chrf_equal_the_sacrebleu_cli(translation_files):
    folder, hypotheses, references, _ = translation_files
    cli = _sacrebleu_cli(str(folder / "ref.txt"), "-i", str(folder / "hyp.txt"))
    refs = [[r] for r in references]
    bleu = compute_module("bleu", hypotheses, refs, bootstrap_iters=0)
    chrf = compute_module("chrf", hypotheses, refs, bootstrap_iters=0)
    assert round(bleu["bleu"], 6) == pytest.approx(cli["BLEU"]["score"], abs=1e-6)
    assert round(chrf["chrf"], 6) == pytest.approx(cli["chrF2"]["score"], abs=1e-6)
    assert bleu["signature"] == cli["BLEU"]["signature"]
    assert chrf["signature"] == cli["chrF2"]["signature"]


def test_multi_reference_bleu_equals_the_cli(translation_files):
    folder, hypotheses, references, second = translation_files
    cli = _sacrebleu_cli(str(folder / "ref.txt"), str(folder / "ref2.txt"), "-i", str(folder / "hyp.txt"))
    output = compute_module("bleu", hypotheses, [[a, b] for a, b in zip(references, second)], bootstrap_iters=0)
    assert round(output["bleu"], 6) == pytest.approx(cli["BLEU"]["score"], abs=1e-6)
    assert output["signature"].startswith("nrefs:2|")


def test_rouge_equals_rouge_score(shared_data):
    from rouge_score import rouge_scorer

    rows = [json.loads(line) for line in (shared_data / "xsum" / "test.jsonl").read_text().splitlines()[:60]]
    references = [row["summary"] for row in rows]
    predictions = [" ".join(row["document"].split()[:30]) for row in rows]
    output = compute_module("rouge", predictions, [[r] for r in references], bootstrap_iters=0, return_per_sample=True)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    direct = [scorer.score(ref, pred) for ref, pred in zip(references, predictions)]
    for name in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        expected = [scores[name].fmeasure for scores in direct]
        assert output[name] == pytest.approx(float(np.mean(expected)), abs=1e-12)
        assert output["per_sample"][name] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("num_labels", [2, 3])
def test_label_metrics_equal_scikit_learn(num_labels):
    rng = np.random.default_rng(num_labels)
    references = rng.integers(0, num_labels, 300).tolist()
    predictions = [r if rng.random() < 0.6 else int(rng.integers(0, num_labels)) for r in references]
    assert compute_module("accuracy", predictions, references, bootstrap_iters=0)["accuracy"] == pytest.approx(
        accuracy_score(references, predictions), abs=1e-12
    )
    assert compute_module("macro_f1", predictions, references, bootstrap_iters=0)["macro_f1"] == pytest.approx(
        f1_score(references, predictions, average="macro"), abs=1e-12
    )
    assert compute_module("mcc", predictions, references, bootstrap_iters=0)["mcc"] == pytest.approx(
        matthews_corrcoef(references, predictions), abs=1e-12
    )


def test_confusion_matrix_bootstrap_statistics_equal_scikit_learn():
    """The vectorized per-resample F1 / MCC (used for the bootstrap) equal scikit-learn on resamples."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        references = rng.integers(0, 3, 40)
        predictions = np.where(rng.random(40) < 0.5, references, rng.integers(0, 3, 40))
        labels = np.unique(np.concatenate([references, predictions]))
        matrix = np.array([[np.sum((references == a) & (predictions == b)) for b in labels] for a in labels])
        assert macro_f1_from_confusion(matrix) == pytest.approx(f1_score(references, predictions, average="macro"))
        assert mcc_from_confusion(matrix) == pytest.approx(matthews_corrcoef(references, predictions))
    constant = np.array([[5, 0], [0, 0]])
    assert mcc_from_confusion(constant) == 0.0  # undefined -> 0, as scikit-learn


def test_modules_load_offline_by_path_and_bootstrap_is_seeded():
    import evaluate

    accuracy = evaluate.load(str(module_path("accuracy")))
    first = accuracy.compute(predictions=[1, 0, 1, 1, 0, 1], references=[1, 1, 1, 0, 0, 1], seed=3)
    second = accuracy.compute(predictions=[1, 0, 1, 1, 0, 1], references=[1, 1, 1, 0, 0, 1], seed=3)
    assert first == second
    assert first["accuracy"] == pytest.approx(4 / 6)
    assert 0 < first["stderr"]["accuracy"] < 0.5
    low, high = first["confidence_interval"]["accuracy"]
    assert low <= first["accuracy"] <= high
    bleu = evaluate.load(str(module_path("bleu")))
    assert bleu.compute(predictions=["a b c d e"], references=[["a b c d e"]])["bleu"] == pytest.approx(100.0)
