"""The runner with the deterministic fake model: determinism, request deduplication, the per-request cache,
resume after a kill, sharding, results files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from variformer.eval_harness import FakeAdapter, Runner, SettingError, evaluate, get_task, read_results, save_run
from variformer.eval_harness.adapters import SimulatedCrash
from variformer.eval_harness.runner import Processes

TASKS = ("sst2", "multi30k_de_en", "xsum")


def _tasks(shared_data):
    return [
        get_task("sst2").with_data(shared_data / "sst2" / "validation.jsonl"),
        get_task("multi30k_de_en").with_data(shared_data / "multi30k" / "test2016.jsonl"),
        get_task("xsum").with_data(shared_data / "xsum" / "test.jsonl"),
    ]


def _comparable(result) -> dict:
    """The parts of a run that must not depend on timing, caching or process count."""
    return {
        "tasks": {
            name: {**vars(task), "metrics": {k: vars(v) for k, v in task.metrics.items()}}
            for name, task in result.tasks.items()
        },
        "samples": {name: [vars(record) for record in records] for name, records in result.samples.items()},
    }


def _run(tasks, adapter, **options):
    return Runner(adapter, seed=0, limit=options.pop("limit", 30), bootstrap_iters=50, progress=False, **options).run(
        tasks
    )


def test_runs_are_deterministic_and_use_the_preferred_mode(shared_data):
    tasks = _tasks(shared_data)
    first = _run(tasks, FakeAdapter(architecture="causal"))
    second = _run(tasks, FakeAdapter(architecture="causal"))
    assert _comparable(first) == _comparable(second)
    assert first.tasks["sst2"].scoring_mode == {"mode": "classifier_head"}
    assert first.tasks["sst2"].num_samples == 30 and first.tasks["sst2"].num_rows == 872
    lm_only = _run(tasks, FakeAdapter(capabilities={"loglikelihood", "generate"}))
    assert lm_only.tasks["sst2"].scoring_mode == {"mode": "multiple_choice", "normalization": "none"}
    record = lm_only.samples["sst2"][0]
    assert len(record.output["loglikelihoods"]) == 2 and record.prediction in (0, 1)
    assert record.choices == [" negative", " positive"] and record.prompt.endswith("\nAnswer:")
    assert lm_only.tasks["sst2"].confusion_matrix["labels"] == ["negative", "positive"]
    assert sum(map(sum, lm_only.tasks["sst2"].confusion_matrix["matrix"])) == 30
    generated = lm_only.samples["multi30k_de_en"][0]
    assert "\n" in generated.output and "\n" not in generated.prediction  # cut at the stop sequence
    assert set(lm_only.tasks["xsum"].metrics) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    assert lm_only.tasks["multi30k_de_en"].metrics["bleu"].signature.startswith("nrefs:1|")


def test_identical_requests_are_computed_once(shared_data):
    sst2 = get_task("sst2").with_data(shared_data / "sst2" / "validation.jsonl")
    twin = replace(sst2, name="sst2_twin")  # same prompts: the same requests
    adapter = FakeAdapter(capabilities={"loglikelihood"})
    result = _run([sst2, twin], adapter, limit=20)
    assert len(adapter.served) == len(set(adapter.served)) == 40  # 20 rows x 2 choices, shared by both tasks
    assert result.counts == {"requests": 40, "from_cache": 0, "computed": 40}
    assert _comparable(result)["tasks"]["sst2"]["metrics"] == _comparable(result)["tasks"]["sst2_twin"]["metrics"]


def test_kill_half_way_then_resume_from_cache(shared_data, tmp_path):
    tasks = _tasks(shared_data)
    reference = _run(tasks, FakeAdapter())
    total = reference.counts["requests"]
    crashing = FakeAdapter(fail_after=total // 2)
    with pytest.raises(SimulatedCrash):
        _run(tasks, crashing, cache_dir=tmp_path / "cache", chunk_size=8)
    assert not list(tmp_path.glob("*.json"))  # nothing but the cache was written
    first_half = {
        json.loads(line)["key"]
        for file in (tmp_path / "cache").glob("*/rank-*.jsonl")
        for line in file.read_text().splitlines()
    }  # the chunks finished before the crash
    assert 0 < len(first_half) <= total // 2 and first_half <= set(crashing.served)
    resumed_adapter = FakeAdapter()
    resumed = _run(tasks, resumed_adapter, cache_dir=tmp_path / "cache", chunk_size=8)
    assert resumed.counts["from_cache"] == len(first_half)
    assert not first_half & set(resumed_adapter.served)  # nothing scored twice
    assert first_half | set(resumed_adapter.served) == {r.key for r in _all_requests(tasks)}
    assert _comparable(resumed) == _comparable(reference)
    again = FakeAdapter()
    _run(tasks, again, cache_dir=tmp_path / "cache", chunk_size=8)  # the chunk size is part of the cache key
    assert again.served == []  # everything comes from the cache now


def _all_requests(tasks):
    runner = Runner(FakeAdapter(), limit=30, progress=False)
    return [r for task in tasks for requests in runner.plan(task).requests for r in requests]


def test_a_different_model_does_not_reuse_the_cache(shared_data, tmp_path):
    tasks = _tasks(shared_data)[:1]
    _run(tasks, FakeAdapter(seed=0), cache_dir=tmp_path)
    other = FakeAdapter(seed=1)
    _run(tasks, other, cache_dir=tmp_path)
    assert len(other.served) == 30


def test_a_line_cut_by_a_kill_is_ignored(shared_data, tmp_path):
    tasks = _tasks(shared_data)[:1]
    adapter = FakeAdapter()
    reference = _run(tasks, adapter, cache_dir=tmp_path, limit=10, chunk_size=4)  # chunks of 4, 4 and 2 requests
    (cache_file,) = tmp_path.glob("*/rank-0.jsonl")
    lines = cache_file.read_text().splitlines()
    cache_file.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])  # the last write was cut short
    resumed = FakeAdapter()
    result = _run(tasks, resumed, cache_dir=tmp_path, limit=10, chunk_size=4)
    # the chunk that lost a line is computed again whole (the same batches as the first run), the others are read
    assert resumed.served == adapter.served[-2:] and result.counts == {"requests": 10, "from_cache": 8, "computed": 2}
    assert _comparable(result) == _comparable(reference)
    assert all(json.loads(line) for line in cache_file.read_text().splitlines()[-1:])


def test_a_corrupt_cache_line_is_dropped_once_and_later_runs_are_silent(shared_data, tmp_path, caplog):
    tasks = _tasks(shared_data)[:1]
    _run(tasks, FakeAdapter(), cache_dir=tmp_path, limit=10)
    (cache_file,) = tmp_path.glob("*/rank-0.jsonl")
    lines = cache_file.read_text().splitlines()
    cache_file.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    with caplog.at_level("WARNING", logger="variformer.eval_harness.cache"):
        first = FakeAdapter()
        assert _run(tasks, first, cache_dir=tmp_path, limit=10).counts["from_cache"] == 10
    assert first.served == [] and "line(s) 2" in caplog.text and "rewrote the file" in caplog.text
    assert cache_file.read_text().splitlines() == lines  # rewritten without the bad line
    assert not [p for p in cache_file.parent.iterdir() if p.name != cache_file.name]  # no temporary left
    caplog.clear()
    with caplog.at_level("WARNING", logger="variformer.eval_harness.cache"):
        _run(tasks, FakeAdapter(), cache_dir=tmp_path, limit=10)
    assert [r.getMessage() for r in caplog.records if r.name == "variformer.eval_harness.cache"] == []


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("limit", 0, "limit must be an int >= 1 or None, got 0"),
        ("bootstrap_iters", -3, "bootstrap_iters must be an int >= 0, got -3"),
        ("chunk_size", 0, "chunk_size must be an int >= 1, got 0"),
    ],
)
def test_runner_settings_are_checked(option, value, message):
    with pytest.raises(SettingError, match=message):
        Runner(FakeAdapter(), **{option: value})


class _Gathered(Exception):
    pass


class _SimulatedProcesses(Processes):
    """Rank `rank` of `world` processes. With `others` (what the other ranks computed, run beforehand) gather
    returns everything; without, the run stops at the gather, keeping this rank's share in `mine`."""

    def __init__(self, rank, world, others=None):
        super().__init__(rank, world)
        self.others = others
        self.mine = None

    def gather(self, items):
        self.mine = items
        if self.others is None:
            raise _Gathered
        return self.others + items


def test_sharded_processes_compute_disjoint_chunks_and_match_one_process(shared_data):
    tasks = _tasks(shared_data)
    single = _run(tasks, FakeAdapter(), chunk_size=8)
    rank1 = _SimulatedProcesses(1, 2)
    adapter1 = FakeAdapter()
    with pytest.raises(_Gathered):
        _run(tasks, adapter1, chunk_size=8, processes=rank1)
    rank0 = _SimulatedProcesses(0, 2, rank1.mine)
    adapter0 = FakeAdapter()
    sharded = _run(tasks, adapter0, chunk_size=8, processes=rank0)
    assert adapter0.served and adapter1.served and not set(adapter0.served) & set(adapter1.served)
    assert len(adapter0.served) + len(adapter1.served) == single.counts["requests"]
    assert _comparable(sharded) == _comparable(single)


def test_evaluate_writes_results_samples_report_and_plots(shared_data, tmp_path):
    result = evaluate(
        FakeAdapter(),
        tasks=list(TASKS),
        limit=12,
        output_dir=tmp_path,
        bootstrap_iters=50,
        progress=False,
        task_data={"sst2": shared_data / "sst2" / "validation.jsonl"},
    )
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["schema_version"] == "1.2"
    for key in ("run_id", "created_at", "git", "versions", "environment", "model", "settings", "tasks", "counts"):
        assert key in data
    assert data["versions"]["torch"] and data["versions"]["transformers"] and "commit" in data["git"]
    sst2 = data["tasks"]["sst2"]
    assert sst2["spec"]["data"]["path"].endswith("sst2/validation.jsonl") and sst2["spec"]["data"]["sha256"]
    assert set(sst2["metrics"]["accuracy"]) >= {"value", "stderr", "ci_low", "ci_high", "higher_is_better"}
    assert sst2["num_samples"] == 12
    lines = (tmp_path / "samples" / "sst2.jsonl").read_text().splitlines()
    assert len(lines) == 12
    first = json.loads(lines[0])
    assert set(first) == {
        "task",
        "index",
        "id",
        "prompt_hash",
        "output",
        "prediction",
        "target",
        "scores",
        "prompt",
        "choices",
        "confidence",
        "probabilities",
        "perturbed",
    }
    assert set(first["perturbed"]) == {"lowercase", "contractions", "misspellings", "whitespace"}
    assert first["confidence"] == max(first["probabilities"]) and sum(first["probabilities"]) == pytest.approx(1)
    assert hashlib.sha256(first["prompt"].encode()).hexdigest() == first["prompt_hash"]  # what the model saw
    assert first["choices"] is None  # the classifier head scores no continuations
    report = (tmp_path / "report.md").read_text()
    assert "| sst2 | accuracy |" in report and "plots/sst2_confusion.png" in report
    for name in ("sst2.png", "sst2_confusion.png", "multi30k_de_en.png", "xsum.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.rglob("*.tmp"))
    loaded = read_results(tmp_path / "results.json")
    assert loaded.metric("sst2", "accuracy") == result.metric("sst2", "accuracy")
    save_run(result, tmp_path / "again", report=False)
    assert (tmp_path / "again" / "results.json").is_file() and not (tmp_path / "again" / "report.md").exists()


def test_a_kill_while_saving_leaves_no_half_written_run_folder(shared_data, tmp_path, monkeypatch):
    import variformer.eval_harness.runner as runner_module

    result = _run(_tasks(shared_data), FakeAdapter())

    def killed(path, value):
        raise KeyboardInterrupt  # the samples are written, results.json is not

    monkeypatch.setattr(runner_module, "write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        save_run(result, tmp_path / "run", report=False)
    assert list(tmp_path.iterdir()) == []  # neither the run folder nor the staging folder
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "cache").mkdir()
    (tmp_path / "old" / "results.json").write_text("{}")
    with pytest.raises(KeyboardInterrupt):
        save_run(result, tmp_path / "old", report=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == ["cache", "results.json"]
    monkeypatch.undo()
    save_run(result, tmp_path / "old", report=False)  # into a folder that holds other things: entry by entry
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == ["cache", "results.json", "samples"]
    assert read_results(tmp_path / "old" / "results.json").run_id == result.run_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_progress_bar_redraws_rarely_when_stderr_is_not_a_terminal(monkeypatch):
    """Written to a log file, each tqdm redraw is a new line: the bar then redraws every LOG_PROGRESS_INTERVAL_S,
    and ten times a second on a terminal."""
    import io

    from variformer.eval_harness import runner

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream, interval in ((io.StringIO(), runner.LOG_PROGRESS_INTERVAL_S), (Terminal(), 0.1)):
        monkeypatch.setattr("sys.stderr", stream)
        with runner._progress(10, enabled=True) as bar:
            bar.update(10)
        assert bar.mininterval == interval
        assert "10/10" in stream.getvalue()
