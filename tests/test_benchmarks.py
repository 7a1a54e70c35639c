"""The benchmark script's CPU quick mode writes a well-formed JSON and Markdown holding every row.

Runs `benchmarks/run.py` in-process with the smallest settings (tiny shapes, no warm-up, one timed iteration,
one TruthfulQA question). No assertion is made on any timing.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

TRAINING_ROWS = [
    f"{workload}/train/{variant}/{metric}"
    for workload, variants, metrics in (
        ("decoder", ("eager", "compiled", "flash_attention_2"), ("tokens_per_s", "mfu", "peak_memory")),
        ("encoder", ("eager", "compiled"), ("tokens_per_s", "peak_memory")),
        ("encoder-decoder", ("eager", "compiled"), ("tokens_per_s", "peak_memory")),
    )
    for variant in variants
    for metric in metrics
]
DECODING_ROWS = [
    f"decoding/batch{batch}/{cache}/new_tokens_per_s" for batch in (1, 32) for cache in ("dynamic", "static")
]
OVERHEAD_ROWS = [
    f"decoding-overhead/{model}/batch1/{cache}/new_tokens_per_s"
    for model in ("gpt2-2x64", "gpt2-6x384")
    for cache in ("dynamic", "static")
]
MEMORY_ROWS = [f"memory/{workload}/train_step/peak_rss" for workload in ("decoder", "encoder", "encoder-decoder")]
QUICK_SKIPPED_MEMORY_ROWS = set(MEMORY_ROWS[1:])  # --quick measures the decoder's memory only
HARNESS_ROWS = [
    "harness/loglikelihood/batched_vs_single/requests_per_s",
    "harness/loglikelihood/variformer_vs_stock/requests_per_s",
]
ALL_ROWS = TRAINING_ROWS + DECODING_ROWS + OVERHEAD_ROWS + MEMORY_ROWS + HARNESS_ROWS
# Measured on CPU; every compiled / flash / MFU / peak-memory row is GPU-only.
CPU_MEASURED_ROWS = {
    "decoder/train/eager/tokens_per_s",
    "encoder/train/eager/tokens_per_s",
    "encoder-decoder/train/eager/tokens_per_s",
    *DECODING_ROWS,
    *OVERHEAD_ROWS,
    MEMORY_ROWS[0],
    *HARNESS_ROWS,
}


@pytest.fixture(scope="module")
def cpu_quick_run(tmp_path_factory):
    """Run `benchmarks/run.py` in this process (its imports are already paid for) and read what it wrote."""
    output_dir = tmp_path_factory.mktemp("bench")
    argv = [
        "--device",
        "cpu",
        "--quick",
        "--warmup",
        "0",
        "--repeats",
        "1",
        "--harness-questions",
        "1",
        "--output-dir",
        str(output_dir),
        "--name",
        "test-cpu",
        "--truthfulqa",
        str(SHARED_DATA / "truthfulqa" / "mc_task.jsonl"),
    ]
    run = _import_benchmarks("run")
    threads = torch.get_num_threads()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            exit_code = run.main(argv)
    finally:
        torch.set_num_threads(threads)  # the CPU mode pins one thread
    assert exit_code == 0, stderr.getvalue()[-4000:]
    report = json.loads((output_dir / "test-cpu.json").read_text())
    markdown = (output_dir / "test-cpu.md").read_text()
    leftovers = [path.name for path in output_dir.iterdir() if path.name not in ("test-cpu.json", "test-cpu.md")]
    return report, markdown, stderr.getvalue(), leftovers


def _import_benchmarks(module: str):
    """`benchmarks.<module>` from the checkout (benchmarks/ is not part of the installed package)."""
    sys.path.insert(0, str(REPO_ROOT))
    try:
        return importlib.import_module(f"benchmarks.{module}")
    finally:
        sys.path.remove(str(REPO_ROOT))


@pytest.mark.slow
def test_json_has_every_row_in_order(cpu_quick_run):
    report, _, _, leftovers = cpu_quick_run
    assert report["schema_version"] == 1
    assert [row["id"] for row in report["rows"]] == ALL_ROWS
    assert report["mode"]["device"] == "cpu" and report["mode"]["shapes"] == "tiny"
    assert "NOT the GPU targets" in report["label"]
    assert leftovers == []  # the atomic write leaves no temporary file behind


@pytest.mark.slow
def test_rows_are_measured_or_skipped_with_a_reason(cpu_quick_run):
    report, _, _, _ = cpu_quick_run
    for row in report["rows"]:
        if row["id"] in CPU_MEASURED_ROWS:
            assert row["status"] == "ok", row
            assert row["variformer"]["value"] > 0 and row["baseline"]["value"] > 0
            assert row["ratio"] == pytest.approx(row["variformer"]["value"] / row["baseline"]["value"])
            assert len(row["variformer"]["times_s"]) == 1
        else:
            assert row["status"] == "skipped", row
            assert row["reason"].startswith("GPU-only") or row["id"] in QUICK_SKIPPED_MEMORY_ROWS, row
            assert row["ratio"] is None


@pytest.mark.slow
def test_issue18_rows_record_same_tokens_and_judge_their_cpu_targets(cpu_quick_run):
    """The decoding-overhead rows compare a GPT-2 with its conversion (equal tokens is checked before timing) and,
    like the memory rows, carry a target judged on any device; the memory row holds both processes' figures."""
    report, _, _, _ = cpu_quick_run
    rows = {row["id"]: row for row in report["rows"]}
    for row_id in OVERHEAD_ROWS:
        row = rows[row_id]
        assert row["variformer"]["extra"]["same_tokens"] is True
        assert len(row["variformer"]["extra"]["cpu_times_s"]) == 1
        assert row["target"]["met"] == (row["ratio"] >= row["target"]["ratio"])
    memory_row = rows[MEMORY_ROWS[0]]
    for side in ("variformer", "baseline"):
        extra = memory_row[side]["extra"]
        assert memory_row[side]["value"] >= extra["rss_before_step_bytes"] > 0
        assert extra["step_rss_bytes"] == memory_row[side]["value"] - extra["rss_before_step_bytes"]
    assert memory_row["target"]["met"] == (memory_row["ratio"] <= 0.7)


@pytest.mark.slow
def test_parameter_counts_match(cpu_quick_run):
    report, _, stderr, _ = cpu_quick_run
    assert set(report["parameter_counts"]) == {"decoder", "encoder", "encoder-decoder"}
    for counts in report["parameter_counts"].values():
        assert counts["variformer"] == counts["stock"] > 0
        assert counts["target_shape"]["variformer"] == counts["target_shape"]["stock"]
    assert "parameters decoder: Variformer" in stderr  # both counts are printed


@pytest.mark.slow
def test_markdown_lists_every_row(cpu_quick_run):
    report, markdown, _, _ = cpu_quick_run
    table = [line for line in markdown.splitlines() if line.startswith("| `")]
    assert [line.split("`")[1] for line in table] == ALL_ROWS
    assert "CPU run, tiny shapes" in markdown
    for row, line in zip(report["rows"], table):
        assert line.count("|") == 9  # 8 cells
        if row["status"] == "skipped":
            assert f"skipped: {row['reason']}" in line


def test_minimal_scorer_batched_equals_one_at_a_time_and_the_harness_adapter():
    """The fallback scorer (used when the harness adapter is absent) pads without changing any score."""
    harness, shapes = _import_benchmarks("harness"), _import_benchmarks("shapes")
    build_model = _import_benchmarks("models").build_model
    requests = harness.load_requests(SHARED_DATA / "truthfulqa" / "mc_task.jsonl", max_questions=2)
    config = shapes.decoder_config(shapes.TINY)
    tokenizer = harness.build_tokenizer(requests, config.vocab_size)
    model = build_model("variformer", "decoder", config, "sdpa", "cpu").eval()
    batched = harness.MinimalScorer(model, tokenizer, batch_size=4, max_length=config.max_position_embeddings)
    single = harness.MinimalScorer(model, tokenizer, batch_size=1, max_length=config.max_position_embeddings)
    scores = batched(requests)
    assert scores == pytest.approx(single(requests), abs=1e-4)
    if harness.HFAdapter is not None:
        scorer, name = harness.make_scorer(model, tokenizer, 4, config.max_position_embeddings)
        assert name.endswith("HFAdapter")
        assert scores == pytest.approx(scorer(requests), abs=1e-4)


def test_memory_batch_overrides_one_workload_and_rejects_a_bad_value(capsys):
    run, threads = _import_benchmarks("run"), torch.get_num_threads()
    try:  # resolve_settings sets the torch thread count of this process
        levers = run.resolve_settings(run.parse_args(["--device", "cpu", "--memory-batch", "decoder=4"])).levers
        default = run.resolve_settings(run.parse_args(["--device", "cpu"])).levers
    finally:
        torch.set_num_threads(threads)
    assert levers.memory_batch == {"decoder": 4, "encoder": 2, "encoder-decoder": 1}
    assert default.memory_batch["decoder"] == 1
    with pytest.raises(SystemExit):
        run.parse_args(["--device", "cpu", "--memory-batch", "decodr=4"])
    assert "--memory-batch 'decodr=4': write WORKLOAD=N" in capsys.readouterr().err
