"""`variformer eval` end to end on tiny saved model folders with --limit, and with two processes under
`accelerate launch` (same results as one process)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from variformer.cli import main

from . import tiny_models


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    tokenizer = tiny_models.tiny_tokenizer()
    folders = {}
    for name, model in (
        ("decoder", tiny_models.variformer("decoder", tokenizer)),
        ("encoder-decoder", tiny_models.variformer("encoder-decoder", tokenizer)),
        ("bert-classifier", tiny_models.bert_classifier(tokenizer)),
    ):
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
    code = _eval(
        [
            "--model",
            str(model_dirs["decoder"]),
            "--tasks",
            "sst2,multi30k_de_en,xsum",
            "--limit",
            "3",
            "--batch-size",
            "auto",
            "--output",
            str(output),
            "--task-data",
            f"sst2={shared_data / 'sst2' / 'validation.jsonl'}",
        ]
    )
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
    assert (
        _eval(
            [
                "--model",
                str(model_dirs["decoder"]),
                "--tasks",
                "sst2,multi30k_de_en,xsum",
                "--limit",
                "3",
                "--output",
                str(output),
                "--task-data",
                f"sst2={shared_data / 'sst2' / 'validation.jsonl'}",
            ]
        )
        == 0
    )
    (second_run,) = [p for p in output.iterdir() if p.is_dir() and p.name not in ("cache", run.name)]
    second = json.loads((second_run / "results.json").read_text())
    assert second["counts"]["computed"] == 0 and second["counts"]["from_cache"] == results["counts"]["requests"]
    for task in ("sst2", "multi30k_de_en", "xsum"):
        assert second["tasks"][task]["metrics"] == results["tasks"][task]["metrics"]


def test_cli_seq2seq_and_classifier_folders(model_dirs, tmp_path):
    output = tmp_path / "runs"
    assert (
        _eval(
            [
                "--model",
                str(model_dirs["encoder-decoder"]),
                "--tasks",
                "multi30k_de_en",
                "--limit",
                "2",
                "--output",
                str(output / "s2s"),
                "--no-cache",
            ]
        )
        == 0
    )
    results = json.loads((_run_folder(output / "s2s") / "results.json").read_text())
    assert results["model"]["architecture"] == "seq2seq" and "bleu" in results["tasks"]["multi30k_de_en"]["metrics"]
    assert (
        _eval(
            [
                "--model",
                str(model_dirs["bert-classifier"]),
                "--tasks",
                "sst2",
                "--limit",
                "4",
                "--output",
                str(output / "cls"),
            ]
        )
        == 0
    )
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
    common = [
        "--model",
        str(model_dirs["decoder"]),
        "--tasks",
        "sst2,multi30k_de_en",
        "--limit",
        "6",
        "--bootstrap-iters",
        "50",
        "--no-progress",
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [
            launcher,
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "variformer.cli",
            "eval",
            *common,
            "--output",
            str(tmp_path / "two"),
        ],
        check=True,
        env=environment,
        capture_output=True,
        timeout=300,
    )
    assert _eval([*common, "--output", str(tmp_path / "one")]) == 0
    two, one = _run_folder(tmp_path / "two"), _run_folder(tmp_path / "one")
    assert json.loads((two / "results.json").read_text())["environment"]["world_size"] == 2
    assert sorted(p.name for p in (tmp_path / "two" / "cache").glob("*/rank-*.jsonl")) == [
        "rank-0.jsonl",
        "rank-1.jsonl",
    ]
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
    assert (tmp_path / "eval" / "decoder" / "report.html").is_file()
    side_by_side = (tmp_path / "eval" / "summary.html").read_text()  # both models on one page
    assert side_by_side.count('data-task="sst2" data-metric="accuracy"') == 1 and "<th>Δ B−A</th>" in side_by_side


# -- nothing runs, is deleted or is lost that the user did not ask for (the real entry point, in a subprocess) ------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "variformer.cli", "eval", "--no-progress", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )


def _refused(done: subprocess.CompletedProcess, *fragments: str) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr
    return done.stderr


@pytest.fixture(scope="module")
def special_dirs(tmp_path_factory):
    """A GPT-2 folder whose config allows 16 positions, and a decoder folder saved without its tokenizer."""
    tokenizer = tiny_models.tiny_tokenizer()
    short, bare = tmp_path_factory.mktemp("short"), tmp_path_factory.mktemp("no-tokenizer")
    tiny_models.gpt2(tokenizer, positions=16).save_pretrained(short)
    tokenizer.save_pretrained(short)
    tiny_models.variformer("decoder", tokenizer).save_pretrained(bare)
    return {"short": short, "bare": bare}


@pytest.mark.parametrize(
    "options, fragments",
    [
        (["--limit", "0"], ["--limit must be an integer >= 1, got 0"]),
        (["--limit", "-1"], ["--limit must be an integer >= 1, got -1"]),
        (["--max-batch-size", "0"], ["--max-batch-size must be an integer >= 1, got 0"]),
        (["--batch-size", "0"], ["--batch-size must be a positive integer or 'auto', got '0'"]),
        (["--dtype", "float33"], ["--dtype: invalid choice: 'float33'", "'float32'", "'bfloat16'"]),
        (["--max-length", "-5"], ["--max-length must be an integer >= 1, got -5"]),
        (["--bootstrap-iters", "-3"], ["--bootstrap-iters must be an integer >= 0, got -3"]),
        (["--num-fewshot", "-1"], ["--num-fewshot must be an integer >= 0, got -1"]),
        (["--device", "gpu7"], ["--device 'gpu7' is not a device", "use cpu, cuda or cuda:N"]),
        (["--task-data", "sst2=missing.jsonl"], ["--task-data sst2=missing.jsonl: there is no file missing.jsonl"]),
    ],
)
def test_cli_values_are_checked_before_any_work(model_dirs, tmp_path, options, fragments):
    output = tmp_path / "runs"
    _refused(
        _cli("--model", str(model_dirs["decoder"]), "--tasks", "sst2", "--output", str(output), *options), *fragments
    )
    assert not output.exists()


def test_cli_device_without_cuda_and_max_length_beyond_the_model(special_dirs, tmp_path):
    import torch

    output = tmp_path / "runs"
    if not torch.cuda.is_available():
        _refused(
            _cli("--model", str(special_dirs["short"]), "--tasks", "sst2", "--device", "cuda", "--output", str(output)),
            "--device cuda: CUDA is not available on this machine",
            "use --device cpu",
        )
    _refused(
        _cli("--model", str(special_dirs["short"]), "--tasks", "sst2", "--max-length", "64", "--output", str(output)),
        "--max-length) 64 is more than the model allows",
        "= 16",
        "give at most 16",
    )
    assert not output.exists()


def test_cli_output_that_is_a_file_or_not_writable_fails_at_once(model_dirs, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    common = ["--model", str(tmp_path / "no-model-here"), "--tasks", "sst2"]  # the model is never looked at
    _refused(_cli(*common, "--output", str(taken)), f"--output {taken} is a file, not a folder")
    _refused(_cli(*common, "--output", str(taken / "runs")), f"--output {taken / 'runs'} is inside {taken}")
    _refused(
        _cli(*common, "--output", str(tmp_path / "runs"), "--cache-dir", str(taken)), f"--cache-dir {taken} is a file"
    )
    assert taken.read_text() == "keep me" and not (tmp_path / "runs").exists()
    if os.geteuid() == 0:  # modes do not stop root: use a folder of a read-only file system
        locked = Path("/sys/variformer-test-runs")
        try:
            tempfile.TemporaryFile(dir="/sys").close()
            pytest.skip("/sys is writable here: no read-only folder to test with")
        except OSError:
            pass
    else:
        (tmp_path / "locked").mkdir(mode=0o500)
        locked = tmp_path / "locked" / "runs"
    _refused(_cli(*common, "--output", str(locked)), f"--output {locked}: cannot write in", "give a folder you can")


def test_cli_model_folder_without_tokenizer_says_how_to_pass_one(model_dirs, special_dirs, tmp_path):
    bare = special_dirs["bare"]
    _refused(
        _cli("--model", str(bare), "--tasks", "sst2", "--output", str(tmp_path / "runs")),
        f"no tokenizer in model folder {bare}",
        "pass --tokenizer FOLDER_OR_HUB_ID",
    )
    assert not (tmp_path / "runs").exists()
    assert (
        _eval(
            [
                "--model",
                str(bare),
                "--tokenizer",
                str(model_dirs["decoder"]),
                "--tasks",
                "sst2",
                "--limit",
                "2",
                "--output",
                str(tmp_path / "runs"),
                "--no-cache",
            ]
        )
        == 0
    )


def test_cli_task_code_runs_only_with_allow_task_code(tmp_path):
    rows = [{"text": f"review {i}", "label": i % 2} for i in range(4)]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (tmp_path / "utils.py").write_text(
        "from pathlib import Path\nPath(__file__).with_name('ran.txt').touch()\n\n"
        "def prompt(row):\n    return row['text'] + '\\nSentiment:'\n"
    )
    task = (
        "name: coded\nversion: 1\ndata: {path: rows.jsonl}\nprompt: PROMPT\ntarget: {field: label}\n"
        "choices: [negative, positive]\nscoring: [multiple_choice]\nmetrics: [accuracy]\n"
    )
    (tmp_path / "task.yaml").write_text(task.replace("PROMPT", "'utils:prompt'"))
    (tmp_path / "evil.yaml").write_text(task.replace("PROMPT", "'subprocess:run'"))
    output = tmp_path / "runs"
    common = ["--model", "fake", "--architecture", "fake", "--output", str(output), "--bootstrap-iters", "0"]
    _refused(
        _cli(*common, "--tasks", str(tmp_path / "task.yaml")),
        "prompt: 'utils:prompt' would run the code in",
        "pass --allow-task-code",
    )
    _refused(
        _cli(*common, "--tasks", str(tmp_path / "evil.yaml"), "--allow-task-code"),
        "prompt: 'subprocess:run': there is no subprocess.py beside the task file",
        "Rule:",
    )
    assert not (tmp_path / "ran.txt").exists() and not output.exists()
    done = _cli(*common, "--tasks", str(tmp_path / "task.yaml"), "--allow-task-code")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ran.txt").exists() and (_run_folder(output) / "results.json").is_file()


def test_cli_task_file_that_is_not_utf8(tmp_path):
    (tmp_path / "task.yaml").write_bytes(b"name: caf\xe9\nversion: 1\n")
    _refused(
        _cli(
            "--model",
            "fake",
            "--architecture",
            "fake",
            "--tasks",
            str(tmp_path / "task.yaml"),
            "--output",
            str(tmp_path / "runs"),
        ),
        f"task file {tmp_path / 'task.yaml'}: not UTF-8 text: byte 0xe9 at line 1, column 10",
        "save the file as UTF-8",
    )
    assert not (tmp_path / "runs").exists()


def test_cli_padding_side_is_part_of_the_cache_key_and_recorded(model_dirs, tmp_path):
    output = tmp_path / "runs"
    common = ["--model", str(model_dirs["decoder"]), "--tasks", "sst2", "--limit", "2", "--output", str(output)]
    assert _eval(common) == 0
    right = json.loads((_run_folder(output) / "results.json").read_text())
    assert _eval([*common, "--padding-side", "left"]) == 0
    (left_run,) = [p for p in output.iterdir() if p.is_dir() and p.name not in ("cache", right["run_id"])]
    left = json.loads((left_run / "results.json").read_text())
    assert left["counts"]["from_cache"] == 0 and left["counts"]["computed"] == right["counts"]["requests"]
    assert right["model"]["padding_side"] == "right" and left["model"]["padding_side"] == "left"
    assert left["model"]["scoring_settings"]["padding_side"] == "left"
    assert left["settings"]["cache_fingerprint"] != right["settings"]["cache_fingerprint"]
    for key in ("max_length", "dtype", "batch_size", "max_batch_size", "device_type", "revision"):
        assert key in left["model"]["scoring_settings"]
