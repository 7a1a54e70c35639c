"""Evaluation throughput vs lm-evaluation-harness: TruthfulQA MC1 + MC2 on one saved model (issue 18, section 1).

    python3 -m venv /work/lmeval-venv
    /work/lmeval-venv/bin/pip install torch==2.13.0 "lm-eval[hf]==0.4.13"
    python benchmarks/lmeval_truthfulqa.py --lm-eval /work/lmeval-venv/bin/lm_eval [--questions 200 817] [--repeats 3 2]

The workload is built once into --workdir: a byte-level BPE of 8,192 tokens trained on local English text
(Multi30k train, SST-2 train, TruthfulQA generation questions and answers, the TruthfulQA primer), a random
6-layer / 384-wide `GPT2LMHeadModel` (6 heads, 1,024 positions, seed 0) saved with it, and the first N questions
of TruthfulQA v0 (`mc_task.jsonl`). For each N the script runs, alternately and --repeats times (the order
rotating each round), three commands as subprocesses on that same folder, each timed whole (start-up, model
load, scoring, writing its results):

- lm-eval: `lm_eval --model hf ... --batch_size 8` on two task files that `include` lm-eval's own
  truthfulqa_mc1.yaml / truthfulqa_mc2.yaml and swap the Hub data set for the local file (as
  `scripts/truthfulqa_lmeval_parity.py` does); lm-eval caches nothing unless asked;
- `variformer eval ... --batch-size 8 --no-cache --robustness none --no-prompt-spread`;
- `variformer eval ... --batch-size auto --no-cache --robustness none --no-prompt-spread` (lm-eval's workload: no
  robustness perturbations or other prompt formats, which `variformer eval` adds by default).

Every question's MC1 / MC2 score of each run is compared with lm-eval's. Ratios (higher is faster): median
lm-eval wall time / median variformer wall time, and the same with the fastest run of each (on a shared CPU the
fastest run is the one least slowed by other work). Writes benchmarks/results/truthfulqa-lmeval-<date>.json and
.md atomically, after each question count. The CPU may be shared: the runs alternate so that load falls on all
three alike, and every wall time is recorded.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `benchmarks` and `scripts` import from the checkout

from benchmarks.report import write_atomic  # noqa: E402
from scripts.truthfulqa_lmeval_parity import TASK_YAML, _lm_eval_tasks_dir, _samples  # noqa: E402

DATA = REPO.parent / "shared" / "data"
SETTINGS = ("mc1", "mc2")
BATCH_SIZE = 8
TARGET_RATIO = 5.0
VOCAB_SIZE = 8192
ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


# -- the workload ------------------------------------------------------------------------------------------------
def _corpus() -> list[str]:
    """Local English text for the tokenizer (nothing from the scored mc_task.jsonl file)."""
    from variformer.eval_harness.hallucination.prompts import TRUTHFULQA_QA_PRIMER

    texts = [TRUTHFULQA_QA_PRIMER]
    for path, fields in ((DATA / "multi30k" / "train.jsonl", ("en",)), (DATA / "sst2" / "train.jsonl", ("sentence",))):
        with path.open(encoding="utf-8") as handle:
            texts += [json.loads(line)[field] for line in handle for field in fields]
    with (DATA / "truthfulqa" / "generation.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            texts += [row["question"], row["best_answer"], *row["correct_answers"], *row["incorrect_answers"]]
    return texts


def build_model(folder: Path) -> None:
    """The tokenizer and the random GPT-2 of the module docstring, saved into `folder` (once)."""
    if (folder / "config.json").is_file():
        return
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, pad_token="<pad>", bos_token="<s>", eos_token="</s>", model_max_length=1024
    )
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=1024,
        n_embd=384,
        n_layer=6,
        n_head=6,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    GPT2LMHeadModel(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def write_tasks(workdir: Path, questions: int, lm_eval: str) -> tuple[Path, Path]:
    """The first `questions` rows as a JSON-lines file, and lm-eval task files reading it."""
    data = workdir / f"truthfulqa_mc_{questions}.jsonl"
    lines = (DATA / "truthfulqa" / "mc_task.jsonl").read_text(encoding="utf-8").splitlines()[:questions]
    if len(lines) < questions:
        raise SystemExit(f"--questions {questions}: mc_task.jsonl has only {len(lines)} rows")
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tasks = workdir / f"lm_eval_tasks_{questions}"
    tasks.mkdir(exist_ok=True)
    for setting in SETTINGS:
        (tasks / f"truthfulqa_{setting}_local.yaml").write_text(
            TASK_YAML.format(lm_eval_tasks=_lm_eval_tasks_dir(lm_eval), setting=setting, data=data), encoding="utf-8"
        )
    return data, tasks


# -- the commands ------------------------------------------------------------------------------------------------
def commands(args, model: Path, data: Path, tasks: Path, questions: int) -> dict[str, list[str]]:
    out = args.workdir / f"out_{questions}"
    ours = [
        str(Path(sys.executable).with_name("variformer")),
        "eval",
        "--model",
        str(model),
        "--tasks",
        "truthfulqa_mc1,truthfulqa_mc2",
        "--task-data",
        f"truthfulqa_mc1={data}",
        "--task-data",
        f"truthfulqa_mc2={data}",
        "--device",
        "cpu",
        "--no-cache",
        "--no-progress",
        # the same work lm-eval does: no robustness perturbations or other prompt formats (both on by default)
        "--robustness",
        "none",
        "--no-prompt-spread",
    ]
    return {
        "lm-eval": [
            args.lm_eval,
            "--model",
            "hf",
            "--model_args",
            f"pretrained={model},dtype=float32",
            "--tasks",
            "truthfulqa_mc1_local,truthfulqa_mc2_local",
            "--include_path",
            str(tasks),
            "--device",
            "cpu",
            "--batch_size",
            str(BATCH_SIZE),
            "--log_samples",
            "--output_path",
            str(out / "lm-eval"),
        ],
        f"variformer (batch {BATCH_SIZE})": ours + ["--batch-size", str(BATCH_SIZE), "--output", str(out / "ours8")],
        "variformer (batch auto)": ours + ["--batch-size", "auto", "--output", str(out / "ours-auto")],
    }


def run_timed(command: list[str]) -> float:
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def scores_lm_eval(output: Path) -> dict[str, list[float]]:
    return {s: [float(sample["acc"]) for sample in _samples(output, f"truthfulqa_{s}_local")] for s in SETTINGS}


def scores_ours(output: Path) -> tuple[dict[str, list[float]], dict]:
    """Per-question scores of the newest run under `output`, and its results.json."""
    folder = Path(max(glob.glob(str(output / "*" / "results.json")), key=os.path.getmtime)).parent
    scores = {}
    for setting in SETTINGS:
        with (folder / "samples" / f"truthfulqa_{setting}.jsonl").open(encoding="utf-8") as handle:
            records = sorted((json.loads(line) for line in handle), key=lambda record: record["index"])
        scores[setting] = [float(record["scores"][setting]) for record in records]
    return scores, json.loads((folder / "results.json").read_text(encoding="utf-8"))


def compare(ours: dict[str, list[float]], theirs: dict[str, list[float]]) -> dict:
    """Means and the largest per-question and mean differences per setting."""
    out = {}
    for setting in SETTINGS:
        if len(ours[setting]) != len(theirs[setting]):
            raise SystemExit(
                f"{setting}: {len(ours[setting])} questions scored by variformer, {len(theirs[setting])} by lm-eval"
            )
        mean_ours, mean_theirs = statistics.fmean(ours[setting]), statistics.fmean(theirs[setting])
        out[setting] = {
            "ours": mean_ours,
            "lm_eval": mean_theirs,
            "mean_abs_diff": abs(mean_ours - mean_theirs),
            "max_question_abs_diff": max(abs(a - b) for a, b in zip(ours[setting], theirs[setting])),
        }
    return out


def measure(args, model: Path, questions: int, repeats: int) -> dict:
    """Alternating timed runs of the three commands on the first `questions` questions."""
    data, tasks = write_tasks(args.workdir, questions, args.lm_eval)
    runs = commands(args, model, data, tasks, questions)
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in names[repeat % 3 :] + names[: repeat % 3]:
            times[name].append(run_timed(runs[name]))
    out = args.workdir / f"out_{questions}"
    theirs = scores_lm_eval(out / "lm-eval")
    row = {
        "questions": questions,
        "repeats": repeats,
        "commands": {name: " ".join(runs[name]) for name in names},
        "runs": {},
    }
    for name in names:
        row["runs"][name] = {
            "wall_s": times[name],
            "median_s": statistics.median(times[name]),
            "fastest_s": min(times[name]),
        }
    for name, folder in ((names[1], "ours8"), (names[2], "ours-auto")):
        scores, results = scores_ours(out / folder)
        run = row["runs"][name]
        run["ratio_vs_lm_eval"] = row["runs"]["lm-eval"]["median_s"] / run["median_s"]
        run["ratio_vs_lm_eval_fastest"] = row["runs"]["lm-eval"]["fastest_s"] / run["fastest_s"]
        run["scores"] = compare(scores, theirs)
        run["model_s"] = results["timing"]["model_s"]
        run["loglikelihood_tokens"] = results["model"].get("loglikelihood_tokens")
    row["lm_eval_scores"] = {s: statistics.fmean(theirs[s]) for s in SETTINGS}
    return row


# -- the report --------------------------------------------------------------------------------------------------
def versions(lm_eval: str) -> dict:
    python = Path(lm_eval).read_text(encoding="utf-8").splitlines()[0].removeprefix("#!").strip()
    code = (
        "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
        "('lm_eval', 'torch', 'transformers', 'tokenizers')}))"
    )
    theirs = json.loads(subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout)
    import importlib.metadata as metadata

    ours = {p: metadata.version(p) for p in ("variformer", "torch", "transformers", "tokenizers")}
    return {"lm_eval_venv": theirs, "variformer_venv": ours}


def git_commit() -> str | None:
    found = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return (found.stdout.strip() + (" (uncommitted changes)" if dirty else "")) if found.returncode == 0 else None


def to_markdown(report: dict) -> str:
    lines = [
        f"# TruthfulQA MC1 + MC2: variformer eval vs lm-evaluation-harness ({report['date']})",
        "",
        f"Generated by `benchmarks/lmeval_truthfulqa.py` on {report['machine']['cpu_count']} CPU cores "
        f"({report['machine']['processor']}); model: {report['model']['description']}. Versions: "
        f"{json.dumps(report['versions'])}. Commit: {report['git_commit']}.",
        "",
        "Wall time of each whole command (start-up to results written), runs alternating; ratio = lm-eval "
        f"time / variformer time, of the medians and of the fastest runs (target >= {TARGET_RATIO:g}).",
        "",
        "| questions | command | wall times (s) | median (s) | ratio (median) | ratio (fastest) | MC1 ours / "
        "lm-eval | MC2 ours / lm-eval | max per-question diff (MC1, MC2) | tokens run / scored whole |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        for name, run in row["runs"].items():
            times = ", ".join(f"{t:.1f}" for t in run["wall_s"])
            if "scores" not in run:
                lines.append(
                    f"| {row['questions']} | {name} | {times} | {run['median_s']:.1f} | 1 | 1 | "
                    f"{row['lm_eval_scores']['mc1']:.4f} | {row['lm_eval_scores']['mc2']:.4f} | | |"
                )
                continue
            s, tokens = run["scores"], run.get("loglikelihood_tokens") or {}
            lines.append(
                f"| {row['questions']} | {name} | {times} | {run['median_s']:.1f} | "
                f"{run['ratio_vs_lm_eval']:.2f} | {run['ratio_vs_lm_eval_fastest']:.2f} | "
                f"{s['mc1']['ours']:.4f} / {s['mc1']['lm_eval']:.4f} | "
                f"{s['mc2']['ours']:.4f} / {s['mc2']['lm_eval']:.4f} | "
                f"{s['mc1']['max_question_abs_diff']:.1e}, {s['mc2']['max_question_abs_diff']:.1e} | "
                f"{tokens.get('run', '?')} / {tokens.get('scored_whole', '?')} |"
            )
    lines += ["", "Commands:", ""]
    for row in report["rows"]:
        lines += [f"- {row['questions']} questions, {name}: `{command}`" for name, command in row["commands"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm-eval", required=True, help="the lm_eval executable of an lm-eval 0.4.13 venv")
    parser.add_argument("--questions", type=int, nargs="+", default=[200, 817])
    parser.add_argument(
        "--repeats",
        type=int,
        nargs="+",
        default=[3, 2],
        help="alternating timed runs of each command, per --questions value (one value: for all)",
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/truthfulqa-lmeval-bench"))
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    repeats = args.repeats * len(args.questions) if len(args.repeats) == 1 else args.repeats
    if len(repeats) != len(args.questions) or min(repeats) < 1:
        parser.error(f"--repeats takes one value >= 1 or one per --questions value, got {args.repeats}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    model = args.workdir / "gpt2-6x384-bpe8k"
    build_model(model)
    date = datetime.date.today().isoformat()
    report = {
        "schema_version": 1,
        "date": date,
        "git_commit": git_commit(),
        "versions": versions(args.lm_eval),
        "machine": {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "platform": platform.platform(),
        },
        "model": {
            "folder": str(model),
            "description": "random GPT2LMHeadModel, 6 layers, hidden 384, 6 heads, "
            f"1,024 positions, byte-level BPE of {VOCAB_SIZE} tokens, float32",
        },
        "data": str(DATA / "truthfulqa" / "mc_task.jsonl"),
        "batch_size": BATCH_SIZE,
        "target_ratio": TARGET_RATIO,
        "rows": [],
    }
    for questions, count in zip(args.questions, repeats):
        report["rows"].append(measure(args, model, questions, count))
        stem = args.results / f"truthfulqa-lmeval-{date}"
        write_atomic(stem.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
        write_atomic(stem.with_suffix(".md"), to_markdown(report))
    print(to_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
