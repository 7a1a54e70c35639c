"""`variformer eval` end to end on tiny saved model folders with --limit, and with two processes under
`accelerate launch` (same results as one process)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from variformer.cli import main

from . import tiny_models


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    tokenizer = tiny_models.tiny_tokenizer()
    folders = {}
    for name, model in (("decoder", tiny_models.variformer("decoder", tokenizer)),
                        ("encoder-decoder", tiny_models.variformer("encoder-decoder", tokenizer)),
                        ("bert-classifier", tiny_models.bert_classifier(tokenizer))):
        folder = tmp_path_factory.mktemp(name)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        folders[name] = folder
    return folders


def _eval(args: list[str]) -> int:
    return main(["eval", "--no-progress", "--bootstrap-iters", "50", *args])


def _run_folder(output: Path) -> Path:
    (folder,) = [p for p in output.iterdir() if p.is_dir() and p.name != "cache"]
    return folder


def test_cli_end_to_end_on_a_saved_decoder(model_dirs, shared_data, tmp_path, capsys):
    output = tmp_path / "runs"
    code = _eval(["--model", str(model_dirs["decoder"]), "--tasks", "sst2,multi30k_de_en,xsum", "--limit", "3",
                  "--batch-size", "auto", "--output", str(output),
                  "--task-data", f"sst2={shared_data / 'sst2' / 'validation.jsonl'}"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "sst2" in printed and "results:" in printed
    run = _run_folder(output)
    results = json.loads((run / "results.json").read_text())
    assert results["model"]["class"] == "VariformerForCausalLM"
    assert results["model"]["num_parameters"] > 0 and results["model"]["config"]["architecture"] == "decoder"
    assert results["environment"]["dtype"] == "float32" and results["settings"]["limit"] == 3
    assert results["tasks"]["sst2"]["scoring_mode"]["mode"] == "multiple_choice"
    assert results["tasks"]["sst2"]["spec"]["data"]["path"].startswith(str(shared_data))
    for task in ("sst2", "multi30k_de_en", "xsum"):
        assert len((run / "samples" / f"{task}.jsonl").read_text().splitlines()) == 3
        assert (run / "plots" / f"{task}.png").is_file()
    assert "| xsum | rougeL |" in (run / "report.md").read_text()
    # the same command again: every request comes from the cache, the numbers are the same
    assert _eval(["--model", str(model_dirs["decoder"]), "--tasks", "sst2,multi30k_de_en,xsum", "--limit", "3",
                  "--output", str(output), "--task-data", f"sst2={shared_data / 'sst2' / 'validation.jsonl'}"]) == 0
    (second_run,) = [p for p in output.iterdir() if p.is_dir() and p.name not in ("cache", run.name)]
    second = json.loads((second_run / "results.json").read_text())
    assert second["counts"]["computed"] == 0 and second["counts"]["from_cache"] == results["counts"]["requests"]
    for task in ("sst2", "multi30k_de_en", "xsum"):
        assert second["tasks"][task]["metrics"] == results["tasks"][task]["metrics"]


def test_cli_seq2seq_and_classifier_folders(model_dirs, tmp_path):
    output = tmp_path / "runs"
    assert _eval(["--model", str(model_dirs["encoder-decoder"]), "--tasks", "multi30k_de_en", "--limit", "2",
                  "--output", str(output / "s2s"), "--no-cache"]) == 0
    results = json.loads((_run_folder(output / "s2s") / "results.json").read_text())
    assert results["model"]["architecture"] == "seq2seq" and "bleu" in results["tasks"]["multi30k_de_en"]["metrics"]
    assert _eval(["--model", str(model_dirs["bert-classifier"]), "--tasks", "sst2", "--limit", "4",
                  "--output", str(output / "cls")]) == 0
    results = json.loads((_run_folder(output / "cls") / "results.json").read_text())
    assert results["tasks"]["sst2"]["scoring_mode"]["mode"] == "classifier_head"
    assert results["tasks"]["sst2"]["confusion_matrix"]["labels"] == ["negative", "positive"]


def test_cli_errors_are_clear_and_write_nothing(model_dirs, tmp_path, capsys):
    output = tmp_path / "runs"
    assert _eval(["--model", str(model_dirs["bert-classifier"]), "--tasks", "xsum", "--output", str(output)]) == 2
    error = capsys.readouterr().err
    assert "cannot serve task 'xsum'" in error and "generation" in error
    assert _eval(["--model", str(model_dirs["decoder"]), "--tasks", "nope", "--output", str(output)]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    assert _eval(["--model", str(tmp_path / "missing"), "--output", str(output)]) == 2
    assert "cannot load model config" in capsys.readouterr().err
    assert not output.exists()


def test_list_tasks(capsys):
    assert _eval(["--list-tasks"]) == 0
    listed = capsys.readouterr().out
    assert "sst2" in listed and "multi30k_de_en" in listed and "xsum" in listed


@pytest.mark.slow
def test_two_processes_with_accelerate_equal_one_process(model_dirs, tmp_path):
    """Two CPU processes (`accelerate launch --multi_gpu`, gloo without CUDA) give the same samples and metrics."""
    launcher = shutil.which("accelerate") or str(Path(sys.executable).parent / "accelerate")
    common = ["--model", str(model_dirs["decoder"]), "--tasks", "sst2,multi30k_de_en", "--limit", "6",
              "--bootstrap-iters", "50", "--no-progress"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                    "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "variformer.cli", "eval", *common,
                    "--output", str(tmp_path / "two")], check=True, env=environment, capture_output=True, timeout=300)
    assert _eval([*common, "--output", str(tmp_path / "one")]) == 0
    two, one = _run_folder(tmp_path / "two"), _run_folder(tmp_path / "one")
    assert json.loads((two / "results.json").read_text())["environment"]["world_size"] == 2
    assert sorted(p.name for p in (tmp_path / "two" / "cache").glob("*/rank-*.jsonl")) == ["rank-0.jsonl",
                                                                                            "rank-1.jsonl"]
    for task in ("sst2", "multi30k_de_en"):
        assert (two / "samples" / f"{task}.jsonl").read_text() == (one / "samples" / f"{task}.jsonl").read_text()
        metrics = [json.loads((folder / "results.json").read_text())["tasks"][task]["metrics"] for folder in (two, one)]
        assert metrics[0] == metrics[1]


def test_quickstart_evaluation_of_saved_models(model_dirs, tmp_path):
    from variformer.eval_harness.quickstart import QUICKSTART_TASKS, evaluate_quickstart_models

    for variant, source in (("decoder", "decoder"), ("encoder", "bert-classifier")):
        shutil.copytree(model_dirs[source], tmp_path / variant)
    summary = evaluate_quickstart_models(tmp_path, limit=2, seed=0, progress=False)
    assert set(summary) == {"decoder", "encoder"}
    assert set(summary["decoder"]) == set(QUICKSTART_TASKS["decoder"]) and set(summary["encoder"]) == {"sst2"}
    assert {"sst2", "multi30k_de_en", "xsum", "truthfulqa_mc2"} <= set(summary["decoder"])
    assert "accuracy" in summary["encoder"]["sst2"]
    table = (tmp_path / "eval" / "summary.md").read_text()
    assert "| encoder | sst2 | classifier_head | accuracy |" in table
    assert (tmp_path / "eval" / "decoder" / "report.md").is_file()
