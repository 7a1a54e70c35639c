"""Scores that do not depend on how they were computed (issue 14 section 5), with real (tiny) models: the same
samples and metrics at batch sizes 1, 7 and "auto" and with either padding side, for a causal LM, a seq2seq model
and a classifier; a run resumed after a kill equal to an uninterrupted one to the last digit; a cache written by two
processes reused by one, and the other way round."""

from __future__ import annotations

import pytest

from variformer.eval_harness import Runner, get_task
from variformer.eval_harness.adapters import HFAdapter

from . import tiny_models
from .test_runner import _comparable, _Gathered, _SimulatedProcesses

LIMIT = 14  # two batches of 7, and an odd last "auto" batch
SETTINGS = [(1, "right"), (7, "right"), ("auto", "right"), (1, "left"), (7, "left"), ("auto", "left")]
MODELS = {
    # kind: (builder, tasks); sst2 is scored by label log-likelihoods on the language models and by the head on the
    # classifier; truthfulqa_mc2 shares question prefixes across choices; multi30k_de_en generates
    "causal": (tiny_models.gpt2, ("sst2", "truthfulqa_mc2", "multi30k_de_en")),
    "seq2seq": (tiny_models.t5, ("sst2", "truthfulqa_mc2", "multi30k_de_en")),
    "classifier": (tiny_models.bert_classifier, ("sst2",)),
}


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_models.tiny_tokenizer()


def _tasks(names, shared_data):
    data = {
        "sst2": shared_data / "sst2" / "validation.jsonl",
        "multi30k_de_en": shared_data / "multi30k" / "test2016.jsonl",
    }
    return [get_task(name).with_data(data[name]) if name in data else get_task(name) for name in names]


def _runner(adapter, **options) -> Runner:
    return Runner(adapter, seed=0, limit=LIMIT, bootstrap_iters=20, progress=False, **options)


def _scores(result) -> dict:
    """Per task: every metric's value and stderr, and every sample's prediction."""
    return {
        name: {
            "metrics": {metric: (value.value, value.stderr) for metric, value in task.metrics.items()},
            "predictions": [record.prediction for record in result.samples[name]],
        }
        for name, task in result.tasks.items()
    }


def _assert_same_scores(actual: dict, expected: dict, where: str) -> None:
    assert actual.keys() == expected.keys(), where
    for task in expected:
        assert actual[task]["predictions"] == expected[task]["predictions"], f"{where}: {task} predictions"
        for metric, (value, stderr) in expected[task]["metrics"].items():
            got = actual[task]["metrics"][metric]
            assert got == pytest.approx((value, stderr), rel=1e-6, abs=1e-9), f"{where}: {task} {metric}"


@pytest.mark.parametrize("kind", list(MODELS))
def test_scores_do_not_depend_on_batch_size_or_padding_side(kind, tokenizer, shared_data):
    build, names = MODELS[kind]
    model, tasks = build(tokenizer), _tasks(names, shared_data)
    runs = {
        (batch_size, side): _runner(HFAdapter(model, tokenizer, batch_size=batch_size, padding_side=side)).run(tasks)
        for batch_size, side in SETTINGS
    }
    reference = _scores(runs[SETTINGS[0]])
    assert all(len(reference[name]["predictions"]) == LIMIT for name in names)
    for setting, result in runs.items():
        _assert_same_scores(_scores(result), reference, f"{kind} at batch size / padding side {setting}")


class _KilledAfter(Exception):
    pass


class _Killing:
    """Wraps an adapter; its `serve` raises once `chunks` chunks have been answered (and cached), as a kill would."""

    def __init__(self, adapter, chunks: int):
        self.adapter, self.left = adapter, chunks

    def __getattr__(self, name):
        return getattr(self.adapter, name)

    def serve(self, requests):
        if self.left == 0:
            raise _KilledAfter
        self.left -= 1
        return self.adapter.serve(requests)


@pytest.mark.parametrize("kind", ["causal", "seq2seq"])
def test_a_resumed_run_equals_an_uninterrupted_one_to_the_last_digit(kind, tokenizer, shared_data, tmp_path):
    build, names = MODELS[kind]
    model, tasks = build(tokenizer), _tasks(names, shared_data)
    adapter = HFAdapter(model, tokenizer, batch_size=7)
    uninterrupted = _runner(adapter, chunk_size=8).run(tasks)
    with pytest.raises(_KilledAfter):
        _runner(_Killing(adapter, chunks=3), chunk_size=8, cache_dir=tmp_path).run(tasks)
    resumed = _runner(adapter, chunk_size=8, cache_dir=tmp_path).run(tasks)
    cached = resumed.counts["from_cache"]
    assert 0 < cached < uninterrupted.counts["requests"] == cached + resumed.counts["computed"]
    assert _comparable(resumed) == _comparable(uninterrupted)  # exactly: the same chunks, so the same batches


def _two_processes(adapter, tasks, cache_dir):
    """Ranks 1 and 0 of two processes, one after the other. Real ranks both read the cache before either writes
    (a barrier), so rank 1 writes into a copy of the folder, and its file joins rank 0's folder afterwards."""
    import shutil

    rank1, aside = _SimulatedProcesses(1, 2), cache_dir.with_name(cache_dir.name + "-rank1")
    if cache_dir.exists():
        shutil.copytree(cache_dir, aside)
    with pytest.raises(_Gathered):
        _runner(adapter, chunk_size=8, cache_dir=aside, processes=rank1).run(tasks)
    result = _runner(adapter, chunk_size=8, cache_dir=cache_dir, processes=_SimulatedProcesses(0, 2, rank1.mine)).run(
        tasks
    )
    for file in aside.glob("*/rank-1.jsonl"):
        shutil.copy(file, cache_dir / file.parent.name / file.name)
    return result


class _Counting:
    def __init__(self, adapter):
        self.adapter, self.served = adapter, 0

    def __getattr__(self, name):
        return getattr(self.adapter, name)

    def serve(self, requests):
        self.served += len(requests)
        return self.adapter.serve(requests)


def test_a_cache_written_by_two_processes_serves_one_and_the_other_way_round(tokenizer, shared_data, tmp_path):
    build, names = MODELS["causal"]
    model, tasks = build(tokenizer), _tasks(names, shared_data)
    adapter = HFAdapter(model, tokenizer, batch_size=7)
    single = _runner(adapter, chunk_size=8).run(tasks)

    sharded = _two_processes(adapter, tasks, tmp_path / "by-two")
    assert sorted(path.name for path in next((tmp_path / "by-two").iterdir()).iterdir()) == [
        "rank-0.jsonl",
        "rank-1.jsonl",
    ]
    counting = _Counting(adapter)
    reused = _runner(counting, chunk_size=8, cache_dir=tmp_path / "by-two").run(tasks)
    assert counting.served == 0 and reused.counts["from_cache"] == single.counts["requests"]
    assert _comparable(sharded) == _comparable(single) == _comparable(reused)

    _runner(adapter, chunk_size=8, cache_dir=tmp_path / "by-one").run(tasks)
    counting = _Counting(adapter)
    rank1 = _SimulatedProcesses(1, 2)
    with pytest.raises(_Gathered):
        _runner(counting, chunk_size=8, cache_dir=tmp_path / "by-one", processes=rank1).run(tasks)
    assert counting.served == 0 and rank1.mine == []  # rank 1 found every answer in rank 0's file
    reused = _runner(
        counting, chunk_size=8, cache_dir=tmp_path / "by-one", processes=_SimulatedProcesses(0, 2, rank1.mine)
    ).run(tasks)
    assert counting.served == 0 and _comparable(reused) == _comparable(single)
