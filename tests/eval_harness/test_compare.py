"""Paired comparison of two runs (`compare_runs`, `variformer compare`) on real runs of the fake model: paired
bootstrap numbers against a hand-built reference, corpus metrics from sufficient statistics, sample pairing by id,
refusals, determinism and the written files."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from variformer.cli import main
from variformer.eval_harness import FakeAdapter, Runner, SettingError, compare_runs, get_task, save_run
from variformer.eval_harness.compare import _difference
from variformer.eval_harness.metrics import bootstrap, corpus_stats

TASKS = ("sst2", "multi30k_de_en", "truthfulqa_mc1")


def _save(folder, adapter, tasks=TASKS, limit=40, **options):
    tasks = [get_task(name) if isinstance(name, str) else name for name in tasks]
    result = Runner(adapter, seed=0, limit=limit, bootstrap_iters=20, progress=False, **options).run(tasks)
    save_run(result, folder, report=False)
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    a = _save(root / "a", FakeAdapter(seed=0))
    b = _save(root / "b", FakeAdapter(seed=1))
    return root, a, b


def _samples(folder, task):
    return [json.loads(line) for line in (folder / "samples" / f"{task}.jsonl").read_text().splitlines()]


def _row(comparison, task, metric):
    (row,) = [d for d in comparison.differences if d.task == task and d.metric == metric]
    return row


def test_paired_bootstrap_equals_a_hand_built_reference(runs):
    root, a, b = runs
    comparison = compare_runs(root / "a", root / "b", bootstrap_iters=300, seed=5)
    row = _row(comparison, "sst2", "accuracy")
    correct_a = np.array([s["scores"]["accuracy"] for s in _samples(root / "a", "sst2")])
    correct_b = np.array([s["scores"]["accuracy"] for s in _samples(root / "b", "sst2")])
    idx = np.random.default_rng(5).integers(0, 40, size=(300, 40))  # the same resamples for A and B
    replicates = correct_b[idx].mean(axis=1) - correct_a[idx].mean(axis=1)
    assert row.num_shared == 40
    assert row.value_a == a.metric("sst2", "accuracy") and row.value_b == b.metric("sst2", "accuracy")
    assert row.difference == pytest.approx(correct_b.mean() - correct_a.mean())
    assert (row.ci_low, row.ci_high) == pytest.approx(tuple(np.percentile(replicates, [2.5, 97.5])))
    delta = row.difference
    # accuracy differences are multiples of 1/40: a resample exactly as far from delta as 0 is counts (ties)
    expected_p = (1 + np.sum(np.abs(replicates - delta) >= abs(delta) - 1e-9)) / 301
    assert row.p_value == pytest.approx(expected_p)


def test_corpus_metrics_resample_sufficient_statistics(runs):
    root, a, b = runs
    comparison = compare_runs(root / "a", root / "b", bootstrap_iters=50, seed=0)
    for metric in ("bleu", "chrf"):
        row = _row(comparison, "multi30k_de_en", metric)
        assert row.value_a == pytest.approx(a.metric("multi30k_de_en", metric), abs=1e-9)
        assert row.value_b == pytest.approx(b.metric("multi30k_de_en", metric), abs=1e-9)
    records_a, records_b = _samples(root / "a", "multi30k_de_en"), _samples(root / "b", "multi30k_de_en")
    scorer = corpus_stats.sacrebleu_metric("bleu", {})
    stats = [
        corpus_stats.sufficient_statistics(scorer, [r["prediction"] for r in rs], [r["target"] for r in rs])
        for rs in (records_a, records_b)
    ]
    idx = bootstrap.resample_indices(40, 50, 0)
    replicates = [
        corpus_stats.score_from_statistics(scorer, stats[1][i])
        - corpus_stats.score_from_statistics(scorer, stats[0][i])
        for i in idx
    ]
    row = _row(comparison, "multi30k_de_en", "bleu")
    assert (row.ci_low, row.ci_high) == pytest.approx(tuple(np.percentile(replicates, [2.5, 97.5])))
    for metric in ("macro_f1", "mcc"):  # confusion-matrix metrics
        assert _row(comparison, "sst2", metric).value_a == pytest.approx(a.metric("sst2", metric))
    ece = _row(comparison, "sst2", "calibration.ece_10_bin")
    assert ece.value_a == pytest.approx(a.tasks["sst2"].calibration.metrics["ece_10_bin"].value)
    assert not ece.higher_is_better


def test_p_value_and_verdict_by_hand():
    replicates = np.array([0.1, 0.3, -0.1, 0.2])  # |d* - .2| = .1, .1, .3, 0: one is >= .2
    row = _difference("t", {"name": "m", "higher_is_better": True}, 4, 0.5, 0.7, replicates, 0.5)
    assert row.p_value == pytest.approx(2 / 5) and row.difference == pytest.approx(0.2)
    assert (row.ci_low, row.ci_high) == pytest.approx((0.05, 0.225))  # 25th / 75th percentiles
    assert row.verdict == "B better"
    assert replace(row, higher_is_better=False).verdict == "B worse"
    assert replace(row, ci_low=-0.01).verdict == "no clear difference"


def test_a_run_against_itself_and_a_real_improvement(runs, tmp_path):
    root, a, _ = runs
    same = compare_runs(root / "a", root / "a", bootstrap_iters=50)
    assert all(d.difference == 0 and d.p_value == 1.0 and d.ci_low == d.ci_high == 0 for d in same.differences)
    gold = {row.data["sentence"]: int(row.data["label"]) for row in get_task("sst2").data.load()}
    oracle = FakeAdapter(classify_fn=lambda request: [-0.05, -3.0] if gold[request.text] == 0 else [-3.0, -0.05])
    _save(tmp_path / "oracle", oracle, tasks=("sst2",))
    better = compare_runs(root / "a", tmp_path / "oracle", bootstrap_iters=200)
    row = _row(better, "sst2", "accuracy")
    assert row.value_b == 1.0 and row.p_value < 0.01 and row.ci_low > 0 and row.verdict == "B better"
    assert "task 'multi30k_de_en' is only in run A; not compared" in better.notes


def test_only_shared_sample_ids_are_paired(runs, tmp_path):
    root, a, _ = runs
    _save(tmp_path / "short", FakeAdapter(seed=1), tasks=("sst2",), limit=15)
    row = _row(compare_runs(root / "a", tmp_path / "short", bootstrap_iters=20), "sst2", "accuracy")
    first_15 = np.mean([s["scores"]["accuracy"] for s in _samples(root / "a", "sst2")[:15]])
    assert row.num_shared == 15 and row.value_a == pytest.approx(first_15)


def test_runs_of_different_tasks_or_data_are_refused(runs, tmp_path, shared_data):
    root, _, _ = runs
    other_data = get_task("sst2").with_data(shared_data / "sst2" / "validation.jsonl")
    _save(tmp_path / "data", FakeAdapter(), tasks=(other_data,))
    with pytest.raises(SettingError, match=r"task 'sst2' differs .* in its data \(sha256\)"):
        compare_runs(root / "a", tmp_path / "data")
    fewshot = replace(get_task("sst2"), few_shot=replace(get_task("sst2").few_shot, num=2))
    _save(tmp_path / "fewshot", FakeAdapter(), tasks=(fewshot,))
    with pytest.raises(SettingError, match=r"in its spec \(few_shot: A .* vs B"):
        compare_runs(root / "a", tmp_path / "fewshot")
    _save(tmp_path / "edited", FakeAdapter(), tasks=("sst2",))
    path = tmp_path / "edited" / "samples" / "sst2.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[3]["target"] = 1 - lines[3]["target"]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(SettingError, match=r"sample id '3': the runs' targets differ"):
        compare_runs(root / "a", tmp_path / "edited")
    with pytest.raises(SettingError, match="holds no results.json"):
        compare_runs(root / "a", tmp_path)


def test_written_files_are_deterministic(runs, tmp_path):
    root, _, _ = runs
    first = compare_runs(root / "a", root / "b", output_dir=tmp_path / "one", bootstrap_iters=100, seed=2)
    second = compare_runs(root / "a", root / "b", output_dir=tmp_path / "two", bootstrap_iters=100, seed=2)
    assert first.to_dict() == second.to_dict()
    assert compare_runs(root / "a", root / "b", bootstrap_iters=100, seed=3).to_dict() != first.to_dict()
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == [
        "comparison.json",
        "comparison.md",
        "comparison.png",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # no staging folder left
    markdown = (tmp_path / "one" / "comparison.md").read_text()
    assert "| sst2 | accuracy | 40 |" in markdown and "![differences](comparison.png)" in markdown
    data = json.loads((tmp_path / "one" / "comparison.json").read_text())
    assert data["settings"] == {"bootstrap_iters": 100, "seed": 2, "confidence": 0.95}
    assert {row["verdict"] for row in data["differences"]} <= {"B better", "B worse", "no clear difference"}
    assert (tmp_path / "one" / "comparison.png").read_bytes()[:4] == b"\x89PNG"


def test_the_compare_command(runs, tmp_path, capsys, shared_data):
    root, _, _ = runs
    assert (
        main(
            [
                "compare",
                str(root / "a"),
                str(root / "b" / "results.json"),
                "--output",
                str(tmp_path / "c"),
                "--bootstrap-iters",
                "30",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "| truthfulqa_mc1 | mc1 | 40 |" in out and (tmp_path / "c" / "comparison.md").is_file()
    _save(
        tmp_path / "data", FakeAdapter(), tasks=(get_task("sst2").with_data(shared_data / "sst2" / "validation.jsonl"),)
    )
    assert main(["compare", str(root / "a"), str(tmp_path / "data"), "--output", str(tmp_path / "d")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("variformer compare: error: task 'sst2' differs") and "Traceback" not in captured.err
    assert not (tmp_path / "d").exists()
