"""Prompt and few-shot spread (issue 14 section 3): every built-in task ships at least three other prompt formats,
formats change the template and never the answers, the per-format and per-seed scores and their range / standard
deviation are right, and they sit in the results table beside the stderr."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from variformer.eval_harness import FakeAdapter, Runner, get_task, list_tasks, read_results, save_run
from variformer.eval_harness.hallucination.prompts import (
    halueval_prompt,
    truthfulqa_mc_prompt,
    truthfulqa_styled_prompt,
)
from variformer.eval_harness.tasks import FieldText, PromptFormat


def _run(tasks, adapter=None, **options):
    options.setdefault("prompt_spread", True)
    runner = Runner(adapter or FakeAdapter(capabilities={"loglikelihood", "generate"}), seed=0, progress=False,
                    limit=options.pop("limit", 30), bootstrap_iters=50, **options)  # fmt: skip
    return runner.run(tasks)


def _sst2(shared_data, **changes):
    return replace(get_task("sst2").with_data(shared_data / "sst2" / "validation.jsonl"), **changes)


@pytest.mark.parametrize("name", list_tasks())
def test_every_built_in_task_ships_three_formats_that_change_only_the_template(name):
    task = get_task(name)
    assert len(task.formats) >= 3
    runner = Runner(FakeAdapter(capabilities={"loglikelihood", "generate"}), limit=5, progress=False)
    clean = runner.plan(task)
    contexts = {tuple(s.context for s in clean.samples)}
    for fmt in task.formats:
        formatted = runner.plan(task.with_format(fmt.name, seq2seq=False))
        assert [s.target for s in formatted.samples] == [s.target for s in clean.samples]
        assert [s.choices for s in formatted.samples] == [s.choices for s in clean.samples]
        contexts.add(tuple(s.context for s in formatted.samples))
    assert len(contexts) == len(task.formats) + 1  # every format renders differently


def test_hallucination_formats_rewrite_the_template_only():
    question = "What happens if you eat watermelon seeds?"
    assert truthfulqa_mc_prompt(question).endswith(f"\n\nQ: {question}\nA:")  # the lm-eval prompt is unchanged
    labelled = truthfulqa_styled_prompt(question, "plain_labels", answer_prefix=True)
    assert labelled.startswith("Question: What is human life expectancy") and labelled.endswith(
        f"Question: {question}\nAnswer:"
    )
    assert labelled.count("\n\n") == 6 and "Q:" not in labelled
    assert truthfulqa_styled_prompt(question, "separator", answer_prefix=False).count("\n\n") == 0
    plain = halueval_prompt("qa", "Who wrote Hamlet? #x#", "Shakespeare", "plain_labels")
    assert plain.endswith("\n\nQuestion: Who wrote Hamlet? #x#\nAnswer: Shakespeare\nYour Judgement:")
    assert halueval_prompt("qa", "c", "r", "upper_case").endswith("#QUESTION#: c\n#ANSWER#: r\n#YOUR JUDGEMENT#:")


def test_spread_over_formats_is_each_formats_score_and_its_range_and_std(shared_data):
    result = _run([_sst2(shared_data)], FakeAdapter(capabilities={"loglikelihood"}))
    task = result.tasks["sst2"]
    spread = task.spread
    assert list(spread.formats) == ["default", "review_sentiment", "upper_case_labels", "one_line"]
    assert spread.formats["default"] == task.metrics and spread.few_shot_seeds == {}
    values = [spread.formats[name]["accuracy"].value for name in spread.formats]
    assert len(set(values)) > 1  # the fake model answers each prompt differently
    summary = spread.summary["accuracy"]["formats"]
    assert summary["range"] == pytest.approx(max(values) - min(values)) and summary["n"] == 4
    assert summary["std"] == pytest.approx(np.std(values, ddof=1))
    assert result.settings["prompt_spread"] is True


def test_few_shot_tasks_also_spread_over_seeds(shared_data):
    task = _sst2(shared_data, few_shot=replace(get_task("sst2").few_shot, num=2), formats=())
    result = _run([task], FakeAdapter(capabilities={"loglikelihood"}), fewshot_seeds=3)
    spread = result.tasks["sst2"].spread
    assert list(spread.few_shot_seeds) == ["1234", "1235", "1236"] and spread.formats == {}
    assert spread.few_shot_seeds["1234"] == result.tasks["sst2"].metrics
    assert spread.summary["accuracy"]["few_shot_seeds"]["n"] == 3
    runner = Runner(FakeAdapter(), limit=5, progress=False)
    other = runner.plan(replace(task, few_shot=replace(task.few_shot, seed=1235)))
    assert [s.context for s in other.samples] != [s.context for s in runner.plan(task).samples]


def test_no_spread_for_classifier_heads_or_when_turned_off(shared_data):
    assert _run([_sst2(shared_data)], FakeAdapter(architecture="classifier")).tasks["sst2"].spread is None
    assert _run([_sst2(shared_data)], prompt_spread=False).tasks["sst2"].spread is None


def test_seq2seq_models_use_the_formats_seq2seq_prompts(shared_data):
    multi30k = get_task("multi30k_de_en").with_data(shared_data / "multi30k" / "test2016.jsonl")
    seq2seq = FakeAdapter(architecture="seq2seq")
    result = _run([multi30k], seq2seq, limit=10)
    assert list(result.tasks["multi30k_de_en"].spread.formats) == ["default", "short_fields", "upper_case", "one_line"]
    no_encoder_prompt = replace(multi30k, formats=(PromptFormat("decoder_only", FieldText("de", prefix="DE: ")),))
    assert no_encoder_prompt.with_format("decoder_only", seq2seq=True) is None  # the task has its own seq2seq prompt
    assert _run([no_encoder_prompt], seq2seq, limit=10).tasks["multi30k_de_en"].spread is None


def test_spread_sits_beside_the_stderr_in_the_report_and_reads_back(shared_data, tmp_path):
    result = _run([_sst2(shared_data)], FakeAdapter(capabilities={"loglikelihood"}), limit=20)
    folder = save_run(result, tmp_path / "run").parent
    report = (folder / "report.md").read_text()
    header = next(line for line in report.splitlines() if line.startswith("| task | metric |"))
    assert header.split("|")[4:7] == [" ± stderr ", " 95% interval ", " prompt spread "]
    accuracy_row = next(line for line in report.splitlines() if line.startswith("| sst2 | accuracy |"))
    assert "over 4 formats" in accuracy_row
    assert "## Prompt and few-shot spread" in report and "| review_sentiment |" in report
    assert read_results(folder / "results.json").tasks["sst2"].spread == result.tasks["sst2"].spread


def test_format_names_are_checked():
    with pytest.raises(Exception, match="not 'default'"):
        PromptFormat("default", FieldText("sentence"))
    with pytest.raises(Exception, match="format names repeat"):
        replace(get_task("sst2"), formats=(PromptFormat("a", FieldText("sentence")),) * 2)
