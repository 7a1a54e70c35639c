"""Tasks: registry, YAML loading, validation, few-shot prompts, task-defined scoring, and clear errors that
name the row / field / task and leave nothing written."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest

from variformer.eval_harness import (
    CapabilityError,
    DataError,
    DataSource,
    FakeAdapter,
    FewShot,
    LoglikelihoodResult,
    Outcome,
    Runner,
    Task,
    TaskDefinitionError,
    UnknownTaskError,
    evaluate,
    get_task,
    list_tasks,
    load_task_yaml,
    mean_of,
)
from variformer.eval_harness.report import GROUP_SECTIONS, register_group_section
from variformer.eval_harness.tasks import FieldText, FieldValue, list_functions, register_function


def _write_jsonl(path, rows):
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def _run(tasks, adapter=None, limit=None):
    return Runner(adapter or FakeAdapter(), limit=limit, bootstrap_iters=20, progress=False).run(tasks)


def test_builtin_tasks_are_registered_and_ship_their_data():
    assert {"sst2", "multi30k_de_en", "xsum"} <= set(list_tasks())
    for name in ("sst2", "multi30k_de_en", "xsum"):
        rows = get_task(name).data.load()
        assert len(rows) == 200, name


def test_unknown_task_names_the_task_and_suggests(tmp_path):
    with pytest.raises(UnknownTaskError, match=r"unknown task 'sst3'.*Did you mean 'sst2'"):
        get_task("sst3")
    with pytest.raises(UnknownTaskError, match="sst3"):
        evaluate(FakeAdapter(), tasks=["sst3"], output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


YAML_TASK = """
name: tiny_sentiment
version: 2
data: {path: rows.jsonl}
prompt: {field: text, suffix: "\\nSentiment:"}
classifier_input: {field: text}
target: {field: label}
choices: [negative, positive]
scoring: [{mode: multiple_choice, normalization: chars}]
metrics: [accuracy, macro_f1]
few_shot: {num: 1, seed: 7}
"""


def test_yaml_task_loads_into_the_task_dataclass_and_runs(tmp_path):
    _write_jsonl(tmp_path / "rows.jsonl", [{"text": f"review {i}", "label": i % 2} for i in range(6)])
    (tmp_path / "task.yaml").write_text(YAML_TASK)
    task = load_task_yaml(tmp_path / "task.yaml")
    assert isinstance(task, Task) and task.version == "2" and task.fields == ("text", "label")
    assert task.data.path == str(tmp_path / "rows.jsonl")
    result = _run([task], FakeAdapter(capabilities={"loglikelihood"}))
    assert result.tasks["tiny_sentiment"].num_samples == 6
    assert result.tasks["tiny_sentiment"].scoring_mode == {"mode": "multiple_choice", "normalization": "chars"}
    assert evaluate(FakeAdapter(), tasks=[tmp_path / "task.yaml"], bootstrap_iters=0, progress=False).tasks


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda y: y + "temperature: 0.7\n", r"unknown key\(s\) \['temperature'\]"),
        (lambda y: y.replace("{num: 1, seed: 7}", "{num: 1, seeds: 7}"), r"few_shot: unknown key\(s\) \['seeds'\]"),
        (lambda y: y.replace("{field: text, suffix", "{field: text, template: x, suffix"), r"prompt: unknown key"),
        (lambda y: y.replace("metrics: [accuracy, macro_f1]", ""), r"missing required key\(s\) \['metrics'\]"),
        (lambda y: y.replace("macro_f1", "bleu"), r"metric 'bleu' needs texts"),
        (lambda y: y.replace("accuracy", "accuracyy"), r"unknown metric 'accuracyy'"),
        (lambda y: y.replace("{mode: multiple_choice, normalization: chars}", "ranking"), r"unknown scoring mode"),
    ],
)
def test_yaml_errors_name_the_problem(tmp_path, edit, message):
    (tmp_path / "task.yaml").write_text(edit(YAML_TASK))
    with pytest.raises(TaskDefinitionError, match=message):
        load_task_yaml(tmp_path / "task.yaml")


TASK_CODE = """
from pathlib import Path

Path(__file__).with_name("ran.txt").write_text("the task code ran")


def review_prompt(row):
    return "Review: " + row["text"] + "\\nSentiment:"
"""


def _code_task(folder, prompt):
    _write_jsonl(folder / "rows.jsonl", [{"text": f"review {i}", "label": i % 2} for i in range(6)])
    (folder / "task.yaml").write_text(YAML_TASK.replace('{field: text, suffix: "\\nSentiment:"}', f"'{prompt}'"))
    return folder / "task.yaml"


def test_yaml_may_name_registered_functions(tmp_path):
    _write_jsonl(tmp_path / "rows.jsonl", [{"sentence": f"review {i}", "label": i % 2} for i in range(6)])
    (tmp_path / "task.yaml").write_text(
        YAML_TASK.replace('{field: text, suffix: "\\nSentiment:"}', "sst2.prompt")
        .replace("{field: text}", "sst2.classifier_input")
        .replace("{field: label}", "sst2.target")
    )
    task = load_task_yaml(tmp_path / "task.yaml")
    assert task.prompt is get_task("sst2").prompt and "sst2.prompt" in list_functions()
    assert "truthfulqa_mc2.process_results" in list_functions()
    assert _run([task], FakeAdapter(capabilities={"loglikelihood"})).tasks["tiny_sentiment"].num_samples == 6
    register_function("my_prompt", lambda row: row["sentence"] + "\nSentiment:", replace=True)
    (tmp_path / "mine.yaml").write_text((tmp_path / "task.yaml").read_text().replace("sst2.prompt", "my_prompt"))
    assert load_task_yaml(tmp_path / "mine.yaml").prompt({"sentence": "good"}) == "good\nSentiment:"


def test_yaml_functions_from_a_file_beside_it_need_allow_code(tmp_path):
    path = _code_task(tmp_path, "utils:review_prompt")
    (tmp_path / "utils.py").write_text(TASK_CODE)
    with pytest.raises(
        TaskDefinitionError,
        match=r"prompt: 'utils:review_prompt' would run the code in .*utils\.py; "
        r"pass --allow-task-code .*allow_code=True",
    ):
        load_task_yaml(path)
    with pytest.raises(TaskDefinitionError, match="--allow-task-code"):
        evaluate(FakeAdapter(), tasks=[path], progress=False)
    assert not (tmp_path / "ran.txt").exists()  # refused before anything ran
    task = load_task_yaml(path, allow_code=True)
    assert task.prompt({"text": "fine"}) == "Review: fine\nSentiment:"
    assert (
        evaluate(FakeAdapter(), tasks=[path], allow_code=True, bootstrap_iters=0, progress=False)
        .tasks["tiny_sentiment"]
        .num_samples
        == 6
    )


@pytest.mark.parametrize(
    "prompt, message",
    [
        ("subprocess:run", "there is no subprocess.py beside the task file"),
        ("os:system", "there is no os.py beside the task file"),
        ("json:loads", "cannot import installed or standard-library modules"),
        ("yaml:safe_load", "there is no yaml.py beside the task file"),  # site-packages
        ("numpy:sum", "there is no numpy.py beside the task file"),
        ("os.path:join", "is a dotted module path"),
        ("variformer.eval_harness.tasks.functions:list_functions", "is a dotted module path"),
        ("../outside:review_prompt", "names a file outside the task file's folder"),
        ("sub/inside:review_prompt", "names a file outside the task file's folder"),
        ("utils.py:review_prompt", "write 'utils':FUNCTION"),
        ("review_prompt", "'review_prompt' is not a registered function"),
    ],
)
def test_yaml_cannot_name_any_other_code_even_with_allow_code(tmp_path, prompt, message):
    folder = tmp_path / "tasks"
    (folder / "sub").mkdir(parents=True)
    for code in (tmp_path / "outside.py", folder / "sub" / "inside.py"):
        code.write_text(TASK_CODE)
    path = _code_task(folder, prompt)
    for allow_code in (False, True):
        with pytest.raises(TaskDefinitionError) as error:
            load_task_yaml(path, allow_code=allow_code)
        assert f"task.yaml (task 'tiny_sentiment'): prompt: {prompt!r}" in str(error.value)
        assert message in str(error.value) and "Rule: a task file may name a registered function" in str(error.value)
    assert not list(tmp_path.rglob("ran.txt"))


@pytest.mark.parametrize(
    "data, line",
    [
        (YAML_TASK.replace("version: 2", "version: 2\ndescription: caf\u00e9").encode("latin-1"), 4),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1),
    ],
)
def test_a_task_file_that_is_not_utf8_names_the_file_and_line(tmp_path, data, line):
    (tmp_path / "task.yaml").write_bytes(data)
    with pytest.raises(
        TaskDefinitionError,
        match=rf"task file .*task\.yaml: not UTF-8 text: byte 0x.. at line "
        rf"{line}, column \d+ .*save the file as UTF-8",
    ):
        load_task_yaml(tmp_path / "task.yaml")


def test_task_validation_at_construction():
    common = dict(
        name="t", version="1", data=DataSource(path="x.jsonl"), fields=(), prompt=FieldText("a"), target=FieldValue("b")
    )
    with pytest.raises(TaskDefinitionError, match="'multiple_choice' needs choices"):
        Task(**common, scoring="multiple_choice", metrics="accuracy")
    with pytest.raises(TaskDefinitionError, match="needs labels but scoring"):
        Task(**common, scoring="generation", metrics="accuracy")
    with pytest.raises(TaskDefinitionError, match="task name"):
        Task(**{**common, "name": "Bad Name"}, scoring="generation", metrics="bleu")
    with pytest.raises(DataError, match="exactly one of path or hub_id"):
        DataSource(path="a", hub_id="b")


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"sentence": "ok", "label": 1}, '{"sentence": "broken", '], r"line 2 of .*bad.jsonl: invalid JSON"),
        ([{"sentence": "ok", "label": 1}, [1, 2]], r"line 2 of .*: expected a JSON object per row, got list"),
        (
            [{"sentence": "ok", "label": 1}, {"sentence": "no label"}],
            r"task 'sst2': line 2 of .* \(row 1\) is missing "
            r"field 'label'",
        ),
        ([{"sentence": None, "label": 1}], r"task 'sst2': line 1 of .* \(row 0\) has field 'sentence' = null"),
        ([{"sentence": "ok", "label": 1}, {"sentence": "x", "label": 5}], r"row 1\) target 5 is not a choice index"),
        ([{"sentence": ["a"], "label": 0}], r"row 0\) field 'sentence' must be a string"),
    ],
)
def test_malformed_rows_raise_clear_errors_and_write_nothing(tmp_path, rows, message):
    path = _write_jsonl(tmp_path / "bad.jsonl", rows)
    output = tmp_path / "out"
    with pytest.raises(DataError, match=message):
        evaluate(FakeAdapter(), tasks=["sst2"], task_data={"sst2": str(path)}, output_dir=output, progress=False)
    assert not output.exists()


def test_missing_data_file_and_generation_target(tmp_path):
    with pytest.raises(DataError, match="data file not found"):
        _run([get_task("xsum").with_data(tmp_path / "none.jsonl")])
    path = _write_jsonl(tmp_path / "x.jsonl", [{"id": "1", "document": "d", "summary": 3}])
    with pytest.raises(DataError, match=r"row 0\) target must be a reference string"):
        _run([get_task("xsum").with_data(path)])


def test_model_that_cannot_serve_any_mode_names_task_and_modes(tmp_path):
    adapter = FakeAdapter(capabilities={"generate"}, architecture="causal", name="gen-only")
    with pytest.raises(
        CapabilityError,
        match=r"'gen-only'.*cannot serve task 'sst2'.*classifier_head.*"
        r"multiple_choice",
    ):
        evaluate(adapter, tasks=["multi30k_de_en", "sst2"], output_dir=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and adapter.served == []  # checked before any model call


def test_classifier_labels_must_match_the_task():
    adapter = FakeAdapter(capabilities={"classify"}, labels=("a", "b", "c"))
    with pytest.raises(CapabilityError, match=r"task 'sst2' has 2 labels .* 3"):
        _run([get_task("sst2")], adapter, limit=2)
    swapped = FakeAdapter(
        capabilities={"classify"}, labels=("POSITIVE", "NEGATIVE"), classify_fn=lambda request: [0.0, -9.0]
    )  # always the model's label 0 = positive
    result = _run([get_task("sst2")], swapped, limit=4)
    assert {record.prediction for record in result.samples["sst2"]} == {1}


def test_hub_data_fails_fast_offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    task = replace(get_task("sst2"), data=DataSource(hub_id="nyu-mll/glue", hub_config="sst2"))
    started = time.perf_counter()
    with pytest.raises(DataError, match=r"Hub data set 'nyu-mll/glue'.*offline.*--task-data"):
        _run([task], limit=2)
    assert time.perf_counter() - started < 5


def test_few_shot_prompts_are_seeded_and_independent_of_limit(shared_data):
    task = replace(get_task("sst2"), few_shot=FewShot(num=3, seed=1))
    rows = task.data.load()
    full = task.build_samples(rows, seq2seq=False, seed=0, normalize_target="labels")
    limited = task.build_samples(rows, seq2seq=False, seed=0, limit=5, normalize_target="labels")
    assert [s.context for s in full[:5]] == [s.context for s in limited]
    assert full[0].context.count("Answer:") == 4 and full[0].context.endswith("\nAnswer:")
    assert full[0].context != full[1].context.split("\n\n")[-1]
    other_seed = task.build_samples(rows, seq2seq=False, seed=1, limit=5, normalize_target="labels")
    assert [s.context for s in other_seed] != [s.context for s in limited]
    own_pool = replace(task, few_shot=FewShot(num=3, seed=1))  # no source: draws from the task's rows
    own_pool = replace(own_pool, few_shot=replace(own_pool.few_shot, source=None))
    for sample in own_pool.build_samples(rows, seq2seq=False, seed=0, limit=20, normalize_target="labels"):
        assert sample.row["sentence"] + "\nQuestion" not in sample.context.rsplit("\n\n", 1)[0]


def test_seq2seq_models_get_the_seq2seq_prompt():
    task = get_task("multi30k_de_en")
    rows = task.data.load()
    (encoder_decoder,) = task.build_samples(rows, seq2seq=True, seed=0, limit=1, normalize_target="texts")
    (decoder,) = task.build_samples(rows, seq2seq=False, seed=0, limit=1, normalize_target="texts")
    assert encoder_decoder.context == rows[0].data["de"]
    assert decoder.context.startswith("Translate German to English.") and decoder.target == [rows[0].data["en"]]


def test_task_defined_scores_from_several_loglikelihoods_per_sample(tmp_path):
    """The shape of TruthfulQA MC2: per-choice log-likelihoods -> a task-computed per-sample score."""
    rows = [{"q": f"question {i}", "choices": ["true a", "false b", "false c"], "labels": [1, 0, 0]} for i in range(8)]
    path = _write_jsonl(tmp_path / "mc.jsonl", rows)

    def mass_on_true(row, responses):
        logprobs = np.array([r.logprob for r in responses])
        probs = np.exp(logprobs - logprobs.max())
        probs /= probs.sum()
        return Outcome(
            prediction=int(logprobs.argmax()),
            scores={"mass": float(probs[np.array(row["labels"]) == 1].sum())},
            output=logprobs.tolist(),
        )

    task = Task(
        name="mc_mass",
        version="1",
        data=DataSource(path=str(path)),
        fields=("labels",),
        prompt=FieldText("q", prefix="Q: ", suffix="\nA:"),
        target=FieldValue("labels"),
        choices=lambda row: row["choices"],
        scoring=("multiple_choice",),
        process_results=mass_on_true,
        metrics=(mean_of("mass"),),
        group="probes",
    )
    rigged = FakeAdapter(
        loglikelihood_fn=lambda r: LoglikelihoodResult(-1.0 if "true" in r.continuation else -2.0, False, 2)
    )
    result = _run([task], rigged)
    expected = np.exp(-1.0) / (np.exp(-1.0) + 2 * np.exp(-2.0))
    assert result.tasks["mc_mass"].metrics["mass"].value == pytest.approx(expected)
    assert len(rigged.served) == 24 and result.tasks["mc_mass"].group == "probes"
    assert result.samples["mc_mass"][0].scores["mass"] == pytest.approx(expected)
    report = tmp_path / "report"
    evaluate(rigged, tasks=[task], output_dir=report, bootstrap_iters=20, progress=False)
    assert "## Probes" in (report / "report.md").read_text()  # a task group gets its own section and plot
    assert (report / "plots" / "group_probes.png").is_file()
    register_group_section("probes", "Probe results", lines=lambda tasks: [f"{len(tasks)} probe(s)", ""])
    try:
        evaluate(rigged, tasks=[task], output_dir=report, bootstrap_iters=20, progress=False)
    finally:
        GROUP_SECTIONS.pop("probes")
    assert "## Probe results\n" in (report / "report.md").read_text()
    assert "1 probe(s)" in (report / "report.md").read_text()
    broken = replace(task, name="mc_broken", process_results=lambda row, responses: {"mass": 1.0})
    with pytest.raises(TaskDefinitionError, match="must return an Outcome"):
        _run([broken], rigged)


def test_data_files_are_reread_when_they_change(tmp_path):
    import os

    path = _write_jsonl(tmp_path / "rows.jsonl", [{"a": 1}])
    source = DataSource(path=str(path))
    assert [row.data for row in source.load()] == [{"a": 1}]
    _write_jsonl(path, [{"a": 2}, {"a": 3}])
    os.utime(path, ns=(1, 1))  # a different modification time even on coarse clocks
    assert [row.data for row in source.load()] == [{"a": 2}, {"a": 3}]
