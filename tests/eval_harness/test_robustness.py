"""Robustness (issue 14 section 2): each perturbation against hand-made expectations, determinism per (seed, task,
row), the input-only rule (targets, choices and few-shot examples stay clean), the worst case per sample recomputed
from the per-sample records, and the results, report and CLI plumbing."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace

import numpy as np
import pytest

from variformer.eval_harness import FakeAdapter, FewShot, Runner, get_task, read_results, save_run
from variformer.eval_harness.errors import SettingError
from variformer.eval_harness.results import RunResult
from variformer.eval_harness.robustness import (
    MILD,
    contractions,
    misspellings,
    parse_robustness,
    perturb_row,
    whitespace,
)


def _rng(seed=0):
    return random.Random(seed)


def test_contractions_expand_and_contract_keeping_case():
    assert contractions("Do not go; it's late and I am tired.", _rng()) == "Don't go; it is late and I'm tired."
    assert contractions("They can't, we won't", _rng()) == "They cannot, we will not"
    assert contractions("DO NOT", _rng()) == "DON'T"
    assert contractions("donut isn't a dough nut", _rng()) == "donut is not a dough nut"  # whole words only
    assert contractions("no phrase here", _rng()) == "no phrase here"


def test_misspellings_touch_about_one_word_in_ten_and_only_letters():
    words = [f"word{'abcdefghij'[i % 10]}sample" for i in range(2000)]
    text = " ".join(words) + " 12345 a an"
    typoed = misspellings(text, _rng(3))
    out = typoed.split(" ")
    assert len(out) == len(words) + 3 and out[-3:] == ["12345", "a", "an"]  # digits and short words untouched
    changed = sum(a != b for a, b in zip(out, words))
    assert 0.06 < changed / len(words) < 0.14
    assert all(abs(len(a) - len(b)) <= 1 for a, b in zip(out, words))  # one edit per word at most


def test_whitespace_only_widens_spaces():
    text = "a man in an orange hat"
    spaced = whitespace(text, _rng(1))
    assert spaced != text and re.sub(" +", " ", spaced) == text and "   " * 2 not in spaced


def test_perturbations_are_deterministic_per_seed_task_and_row():
    sentence = " ".join(["it is a charming and often affecting journey"] * 6)
    data = {"sentence": sentence, "label": 1}
    one = perturb_row(data, ["sentence"], "misspellings", seed=0, task="sst2", row=7)
    assert one == perturb_row(dict(data), ["sentence"], "misspellings", seed=0, task="sst2", row=7)
    assert one["label"] == 1 and data["sentence"] == sentence
    others = {
        perturb_row(data, ["sentence"], "misspellings", seed=s, task=t, row=r)["sentence"]
        for s, t, r in [(0, "sst2", 7), (1, "sst2", 7), (0, "other", 7), (0, "sst2", 8), (2, "x", 1), (3, "y", 2)]
    }
    assert len(others) == 6  # seed, task and row each move the random stream
    assert perturb_row(data, ["sentence"], "lowercase", seed=0, task="t", row=0) == data  # already lower case


def test_parse_robustness():
    assert parse_robustness("none") == () and parse_robustness(None) == ()
    assert parse_robustness("mild") == MILD == ("lowercase", "contractions", "misspellings", "whitespace")
    assert parse_robustness("whitespace, lowercase") == ("whitespace", "lowercase")
    with pytest.raises(SettingError, match=r"unknown perturbation\(s\) \['typo'\]; use 'none', 'mild'"):
        parse_robustness("typo")
    with pytest.raises(SettingError, match="listed twice"):
        parse_robustness(["lowercase", "lowercase"])


def test_perturbed_fields_are_the_inputs_never_the_answers():
    assert get_task("sst2").perturbed_fields == ("sentence",)
    assert get_task("multi30k_de_en").perturbed_fields == ("de",)
    assert get_task("xsum").perturbed_fields == ("document",)
    assert get_task("truthfulqa_mc2").perturbed_fields == ("question",)  # a function prompt declares its inputs
    assert get_task("halueval_qa").perturbed_fields == ("context",)


def _tasks(shared_data):
    return [
        get_task("sst2").with_data(shared_data / "sst2" / "validation.jsonl"),
        get_task("multi30k_de_en").with_data(shared_data / "multi30k" / "test2016.jsonl"),
        get_task("truthfulqa_mc2"),
    ]


def _run(tasks, adapter=None, **options):
    options.setdefault("robustness", "mild")
    return Runner(adapter or FakeAdapter(), seed=0, limit=options.pop("limit", 40), bootstrap_iters=50, progress=False,
                  **options).run(tasks)  # fmt: skip


def test_robustness_scores_each_perturbation_and_the_worst_case_per_sample(shared_data):
    result = _run(_tasks(shared_data), FakeAdapter(capabilities={"loglikelihood", "generate"}))
    for name, task in result.tasks.items():
        robustness = task.robustness
        assert robustness.perturbations == list(MILD) and set(robustness.scores) == set(MILD), name
        records = result.samples[name]
        for record in records:
            assert set(record.perturbed) == set(MILD)
        for metric, worst in robustness.worst_case.items():
            higher = task.metrics[metric].higher_is_better
            pick = min if higher else max
            expected = np.mean(
                [pick([r.scores[metric], *(p["scores"][metric] for p in r.perturbed.values())]) for r in records]
            )
            assert worst.value == pytest.approx(expected)
            for score in [task.metrics[metric], *(robustness.scores[p][metric] for p in MILD)]:
                assert (worst.value <= score.value + 1e-12) if higher else (worst.value >= score.value - 1e-12)
            assert worst.stderr is not None and worst.stderr > 0
    assert set(result.tasks["sst2"].robustness.worst_case) == {"accuracy"}  # macro_f1 and mcc are corpus metrics
    assert result.tasks["multi30k_de_en"].robustness.worst_case == {}  # BLEU, chrF: corpus metrics only
    assert set(result.tasks["truthfulqa_mc2"].robustness.worst_case) == {"mc2"}
    changed = result.tasks["multi30k_de_en"].robustness.changed
    assert changed["lowercase"] > 0.9 and changed["whitespace"] > 0.9 and 0 < changed["misspellings"] < 1
    assert result.tasks["sst2"].robustness.changed["lowercase"] == 0  # SST-2 is lower case already: same requests
    assert result.settings["robustness"] == list(MILD)


def test_only_the_input_is_perturbed(shared_data):
    """Targets and choices come from the clean row; the prompts differ only where the input field is."""
    sst2 = get_task("sst2").with_data(shared_data / "sst2" / "validation.jsonl")
    fewshot = replace(sst2, name="sst2_fewshot", few_shot=FewShot(num=2, seed=1234, source=sst2.data))
    runner = Runner(FakeAdapter(capabilities={"loglikelihood"}), seed=0, limit=10, progress=False)
    for task in (sst2, fewshot):
        clean = runner.plan(task)
        perturbed = runner.plan(task, perturbation="misspellings")
        assert [s.target for s in perturbed.samples] == [s.target for s in clean.samples]
        assert [s.choices for s in perturbed.samples] == [s.choices for s in clean.samples]
        assert [s.row for s in perturbed.samples] == [s.row for s in clean.samples]  # scoring reads clean rows
        for c, p in zip(clean.samples, perturbed.samples):
            examples = c.context.rsplit("\n\n", 1)[0] if task.few_shot.num else ""
            assert p.context.startswith(examples)  # few-shot examples stay clean
            suffix = "\nQuestion: Is this sentence positive or negative?\nAnswer:"
            assert p.context.endswith(suffix) and c.context.endswith(suffix)
        assert sum(c.context != p.context for c, p in zip(clean.samples, perturbed.samples)) > 0


def test_a_rows_perturbation_does_not_depend_on_the_limit(shared_data):
    sst2 = get_task("sst2").with_data(shared_data / "sst2" / "validation.jsonl")
    short = Runner(FakeAdapter(), seed=0, limit=5, progress=False).plan(sst2, perturbation="misspellings")
    long = Runner(FakeAdapter(), seed=0, limit=50, progress=False).plan(sst2, perturbation="misspellings")
    assert [s.classifier_input for s in short.samples] == [s.classifier_input for s in long.samples[:5]]


def test_none_turns_it_off_and_tasks_without_inputs_are_skipped(shared_data):
    assert all(t.robustness is None for t in _run(_tasks(shared_data), robustness="none").tasks.values())
    opaque = replace(get_task("truthfulqa_mc2"), name="opaque_mc2", input_fields=None)
    assert opaque.perturbed_fields == ()  # its prompt is a plain function: nothing known to perturb
    assert _run([opaque]).tasks["opaque_mc2"].robustness is None


def test_results_report_and_samples_carry_robustness(shared_data, tmp_path):
    result = _run(_tasks(shared_data)[:1], limit=20)
    folder = save_run(result, tmp_path / "run").parent
    back = read_results(folder / "results.json")
    assert back.schema_version == "1.2"
    assert back.tasks["sst2"].robustness == result.tasks["sst2"].robustness
    line = json.loads((folder / "samples" / "sst2.jsonl").read_text().splitlines()[0])
    assert set(line["perturbed"]) == set(MILD) and {"prompt_hash", "prediction", "scores"} <= set(
        line["perturbed"]["misspellings"]
    )
    report = (folder / "report.md").read_text()
    assert "## Robustness" in report and "| accuracy |" in report and "worst case" in report
    assert (folder / "plots" / "sst2_robustness.png").read_bytes().startswith(b"\x89PNG")
    old = json.loads((folder / "results.json").read_text())
    old["schema_version"] = "1.1"
    for task in old["tasks"].values():
        task.pop("robustness")
    assert RunResult.from_dict(old).tasks["sst2"].robustness is None  # runs written before 1.2 still read


def test_cli_rejects_an_unknown_perturbation(capsys):
    from variformer.cli import main

    assert main(["eval", "--architecture", "fake", "--model", "m", "--tasks", "sst2", "--robustness", "typos"]) == 2
    assert "unknown perturbation(s) ['typos']" in capsys.readouterr().err
