"""Calibration: each statistic against a hand-computed example, parity with torchmetrics (equal-width ECE) and with
HELM's uncertainty-calibration package (equal-mass ECE, selective accuracy) when installed, and the runner /
results / report wiring."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import numpy as np
import pytest

from variformer.eval_harness import FakeAdapter, Runner, get_task, read_results, save_run
from variformer.eval_harness.metrics import calibration as cal
from variformer.eval_harness.records import LoglikelihoodResult
from variformer.eval_harness.tasks.scoring import MultipleChoice

# Five samples worked by hand (see the numbers in each test).
PROBABILITIES = [[0.92, 0.08], [0.25, 0.75], [0.65, 0.25, 0.10], [0.30, 0.33, 0.37], [0.72, 0.28]]
TARGETS = [0, 0, 0, 1, 0]
PREDICTIONS = [int(np.argmax(p)) for p in PROBABILITIES]  # 0, 1, 0, 2, 0
CONFIDENCES = np.array([0.92, 0.75, 0.65, 0.37, 0.72])
CORRECT = np.array([1, 0, 1, 0, 1])


def test_equal_width_ece_by_hand():
    # bins: 0.92 -> [.9, 1); 0.75 and 0.72 -> [.7, .8); 0.65 -> [.6, .7); 0.37 -> [.3, .4)
    # |gap| x weight: .08/5 + .35/5 + .37/5 + (2/5) |(.75 + .72)/2 - 1/2| = .16 + .4 * .235 = .254
    assert cal.ece_equal_width(CONFIDENCES, CORRECT) == pytest.approx(0.254, abs=1e-12)


def test_equal_width_puts_a_confidence_of_one_in_its_own_bin():
    # [1.0 wrong, 0.95 correct]: own bins -> (|1 - 0| + |.95 - 1|) / 2 = .525; one shared bin would give .475
    assert cal.ece_equal_width([1.0, 0.95], [0, 1]) == pytest.approx(0.525)
    assert list(cal.equal_width_bins(np.array([0.0, 0.1, 0.55, 0.999, 1.0]))) == [0, 1, 5, 9, 10]


def test_equal_mass_ece_by_hand():
    # 2 bins: sorted [.37, .65, .72 | .75, .92], edge (.72 + .75) / 2 = .735
    # bin 1: mean conf .58, accuracy 2/3, weight 3/5; bin 2: mean conf .835, accuracy 1/2, weight 2/5
    expected = 0.6 * abs(0.58 - 2 / 3) + 0.4 * abs(0.835 - 0.5)
    assert cal.ece_equal_mass(CONFIDENCES, CORRECT, num_bins=2) == pytest.approx(expected, abs=1e-12)
    assert list(cal.equal_mass_edges(CONFIDENCES, num_bins=2)) == pytest.approx([0.735, 1.0])
    # 10 bins but 5 samples: one bin per sample, so ECE = mean |confidence - correct| = 1.83 / 5
    assert cal.ece_equal_mass(CONFIDENCES, CORRECT) == pytest.approx(1.83 / 5, abs=1e-12)
    # tied confidences share an edge: the bins merge instead of splitting equal values
    assert list(cal.equal_mass_edges([0.5, 0.5, 0.5, 0.9], num_bins=4)) == pytest.approx([0.5, 0.7, 1.0])


def test_multiclass_brier_by_hand():
    per_sample = cal.brier_per_sample(PROBABILITIES, TARGETS)
    # (.08² + .08²), (.75² + .75²), (.35² + .25² + .1²), (.3² + .67² + .37²), (.28² + .28²)
    assert per_sample == pytest.approx([0.0128, 1.125, 0.195, 0.6758, 0.1568], abs=1e-12)
    assert cal.brier_per_sample([[1.0, 0.0, 0.0]], [2]) == pytest.approx([2.0])  # the worst case
    # two choices: twice the binary Brier score of (confidence, correct), as docs/evaluation.md says
    p = np.random.default_rng(0).random(50)
    probabilities, targets = np.stack([p, 1 - p], axis=1), np.random.default_rng(1).integers(0, 2, 50)
    binary = (probabilities.max(axis=1) - (probabilities.argmax(axis=1) == targets)) ** 2
    assert cal.brier_per_sample(probabilities, targets) == pytest.approx(2 * binary)


def test_selective_accuracy_by_hand():
    # most confident first: .92 right, .75 wrong, .72 right, .65 right, .37 wrong
    # accuracy of the top k: 1, 1/2, 2/3, 3/4, 3/5; area = their mean; 10 %: k = int(0.5) + 1 = 1
    at_10, area = cal.selective_stats(CONFIDENCES, CORRECT)
    assert at_10 == 1.0
    assert area == pytest.approx((1 + 1 / 2 + 2 / 3 + 3 / 4 + 3 / 5) / 5, abs=1e-12)
    assert cal.selective_stats(CONFIDENCES, CORRECT, coverage=0.4)[0] == pytest.approx(2 / 3)
    assert cal.selective_stats([0.5, 0.5], [0, 1])[0] == 0.0  # ties keep sample order


def test_summary_reuses_the_statistics_and_its_bootstrap_is_seeded():
    summary = cal.calibration_summary(PROBABILITIES, PREDICTIONS, TARGETS, iters=200, seed=3)
    assert summary["confidences"] == pytest.approx(CONFIDENCES.tolist())
    assert summary["metrics"]["brier"]["value"] == pytest.approx(2.1654 / 5)
    assert summary["metrics"]["ece_10_bin_equal_width"]["value"] == pytest.approx(0.254)
    assert summary["accuracy"] == pytest.approx(0.6) and summary["mean_confidence"] == pytest.approx(3.41 / 5)
    assert summary["metrics"]["brier"]["stderr"] > 0
    assert summary == cal.calibration_summary(PROBABILITIES, PREDICTIONS, TARGETS, iters=200, seed=3)
    assert (
        summary["metrics"] != cal.calibration_summary(PROBABILITIES, PREDICTIONS, TARGETS, iters=200, seed=4)["metrics"]
    )
    width = summary["reliability"]["equal_width"]
    assert [b["lower"] for b in width] == pytest.approx([0.3, 0.6, 0.7, 0.9])
    assert [b["count"] for b in width] == [1, 1, 2, 1]
    assert sum(b["count"] for b in summary["reliability"]["equal_mass"]) == 5


def _random_logits(n: int = 600, classes: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, size=(n, classes))
    logits[: n // 20, 0] += 60  # saturated rows: confidence exactly 1.0 in float64 and float32
    targets = np.where(rng.random(n) < 0.6, logits.argmax(axis=1), rng.integers(0, classes, n))
    return logits, targets


def test_equal_width_ece_equals_torchmetrics():
    torch = pytest.importorskip("torch")
    classification = pytest.importorskip(
        "torchmetrics.classification", reason="torchmetrics is not installed (pip install torchmetrics)"
    )
    logits, targets = _random_logits()
    probabilities = np.stack([cal.softmax(row) for row in logits])
    confidences = probabilities.max(axis=1)
    assert (confidences == 1.0).sum() >= 20  # the extra bin is exercised
    ours = cal.ece_equal_width(confidences, probabilities.argmax(axis=1) == targets)
    metric = classification.MulticlassCalibrationError(num_classes=4, n_bins=10, norm="l1")
    theirs = float(metric(torch.tensor(logits), torch.tensor(targets)))
    assert ours == pytest.approx(theirs, abs=1e-6)  # torchmetrics works in float32


def test_equal_mass_ece_and_selective_stats_equal_helms_calibration_package():
    helm = pytest.importorskip("calibration", reason="uncertainty-calibration (HELM's dependency) is not installed")
    logits, targets = _random_logits(n=517, classes=3, seed=1)
    logits[:40, 0] = 0.0  # ties: equal confidences at a bin edge
    logits[:40, 1:] = -1.0
    probabilities = np.stack([cal.softmax(row) for row in logits])
    confidences = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == targets).astype(int)
    assert cal.ece_equal_mass(confidences, correct) == pytest.approx(
        helm.get_ece_em(confidences, correct, num_bins=10), abs=1e-12
    )
    order = np.argsort(-confidences, kind="stable")  # HELM sorts with numpy's default; fix the tie order for both
    area, at_10 = helm.get_selective_stats(confidences[order], correct[order])
    assert cal.selective_stats(confidences[order], correct[order]) == pytest.approx((at_10, area), abs=1e-12)


# -- the runner, results and report -------------------------------------------------------------------------------
def _run(tasks, adapter=None, **options):
    return Runner(
        adapter or FakeAdapter(), seed=0, limit=options.pop("limit", 40), bootstrap_iters=50, progress=False, **options
    ).run(tasks)


def test_choice_tasks_get_calibration_and_per_sample_confidence(caplog):
    with caplog.at_level(logging.WARNING, logger="variformer.eval_harness.runner"):
        result = _run(
            [get_task("sst2"), get_task("truthfulqa_mc1"), get_task("multi30k_de_en")],
            FakeAdapter(capabilities={"loglikelihood", "generate"}),
        )
    sst2 = result.tasks["sst2"].calibration
    assert sst2.num_samples == 40 and set(sst2.metrics) == set(cal.CALIBRATION_METRICS)
    assert sst2.confidence_source.startswith("softmax over per-choice log-likelihoods")
    assert result.tasks["multi30k_de_en"].calibration is None  # generation: no confidence
    assert all(record.confidence is None for record in result.samples["multi30k_de_en"])
    for record in result.samples["truthfulqa_mc1"]:
        logprobs = np.array(record.output["loglikelihoods"])
        expected = np.exp(logprobs - logprobs.max()) / np.exp(logprobs - logprobs.max()).sum()
        assert record.probabilities == pytest.approx(expected.tolist())
        assert record.confidence == pytest.approx(expected[record.prediction])
    records = result.samples["sst2"]
    manual = cal.ece_equal_mass([r.confidence for r in records], [r.prediction == r.target for r in records])
    assert sst2.metrics["ece_10_bin"].value == pytest.approx(manual)
    assert sst2.accuracy == pytest.approx(result.tasks["sst2"].metrics["accuracy"].value)
    assert "fewer than 300" in sst2.warning and "'sst2': calibration from only 40 samples" in caplog.text


def test_length_normalized_choices_use_the_normalized_scores():
    def loglikelihood(request):  # longer choice, higher total but lower per-token log-likelihood
        tokens = len(request.continuation.split()) * (3 if "positive" in request.continuation else 1)
        return LoglikelihoodResult(-1.0 * tokens if "positive" in request.continuation else -2.0, False, tokens)

    task = replace(get_task("sst2"), scoring=(MultipleChoice(normalization="tokens"),))
    record = _run([task], FakeAdapter(loglikelihood_fn=loglikelihood), limit=3).samples["sst2"][0]
    assert record.probabilities == pytest.approx(cal.softmax([-2.0, -1.0]).tolist())  # per token: -2 and -3/3


def test_calibration_can_be_turned_off():
    result = _run([get_task("sst2")], calibration=False)
    assert result.tasks["sst2"].calibration is None and result.settings["calibration"] is False
    assert all(r.confidence is None and r.probabilities is None for r in result.samples["sst2"])


def test_calibration_round_trips_through_results_json_and_reaches_the_reports(tmp_path):
    result = _run([get_task("sst2")])
    path = save_run(result, tmp_path / "run")
    assert read_results(path).tasks["sst2"].calibration == result.tasks["sst2"].calibration
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Calibration" in report and "![sst2_reliability](plots/sst2_reliability.png)" in report
    assert "Note, sst2: only 40 samples" in report
    assert (tmp_path / "run" / "plots" / "sst2_reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert "ECE (10 equal-mass bins)" in (tmp_path / "run" / "report.html").read_text()
    line = json.loads((tmp_path / "run" / "samples" / "sst2.jsonl").read_text().splitlines()[0])
    assert line["confidence"] == max(line["probabilities"])


def test_results_of_schema_1_0_still_read(tmp_path):
    path = save_run(_run([get_task("sst2")], calibration=False), tmp_path / "run")
    data = json.loads(path.read_text())
    data["schema_version"] = "1.0"
    for task in data["tasks"].values():
        del task["calibration"]  # what a 1.0 run wrote
    path.write_text(json.dumps(data))
    old = read_results(path)
    assert old.schema_version == "1.0" and old.tasks["sst2"].calibration is None
    data["schema_version"] = "9.0"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="schema '9.0' is not '1.0', '1.1' or '1.2', the versions"):
        read_results(path)
