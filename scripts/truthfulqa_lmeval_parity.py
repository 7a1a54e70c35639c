"""Compare our truthfulqa_mc1 / truthfulqa_mc2 with lm-evaluation-harness's on the same model and data.

    python scripts/truthfulqa_lmeval_parity.py --lm-eval /tmp/lmeval-venv/bin/lm_eval [--model DIR] [--rows 100]

lm-eval runs in its own environment (the `lm_eval` executable given; it is not a dependency of this project).
Without --model, a tiny random GPT-2 (or with --tiny t5 a T5, scored by lm-eval's seq2seq backend; with --tiny llama
a Llama whose tokenizer puts <s> before every text) with a byte-level BPE trained on the shipped slices is built and
saved.
The data are the first --rows rows of our shipped TruthfulQA slice (or --data), given to lm-eval through two task
files that `include` lm-eval's own truthfulqa_mc1.yaml / truthfulqa_mc2.yaml (its prompt, choices and scoring)
and only swap the Hub data set for the local JSON-lines file (--gen-rows N: also truthfulqa_gen, comparing the
completions and every per-question BLEU / ROUGE number). Exits 1 when any per-question score differs by more
than --tolerance (default 1e-4).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASK_YAML = """include: {lm_eval_tasks}/truthfulqa/truthfulqa_{setting}.yaml
task: truthfulqa_{setting}_local
tag: []
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files:
    validation: {data}
"""


def _lm_eval_tasks_dir(lm_eval: str) -> str:
    python = Path(lm_eval).read_text(encoding="utf-8").splitlines()[0].removeprefix("#!").strip()
    code = "import lm_eval, os; print(os.path.join(os.path.dirname(lm_eval.__file__), 'tasks'))"
    return subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def _tiny_model(folder: Path, kind: str) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from eval_harness.hallucination.tiny import tiny_gpt2, tiny_llama, tiny_llama_tokenizer, tiny_t5, tiny_tokenizer

    tokenizer = tiny_llama_tokenizer() if kind == "llama" else tiny_tokenizer()
    build = {"gpt2": tiny_gpt2, "t5": tiny_t5, "llama": tiny_llama}[kind]
    build(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _run_lm_eval(args, model: Path, tasks_dir: Path, out: Path, env: dict) -> dict[str, list[float]]:
    backend = ",backend=seq2seq" if args.tiny == "t5" else ""
    command = [
        args.lm_eval,
        "--model",
        "hf",
        "--model_args",
        f"pretrained={model},dtype=float32{backend}",
        "--tasks",
        "truthfulqa_mc1_local,truthfulqa_mc2_local",
        "--include_path",
        str(tasks_dir),
        "--device",
        "cpu",
        "--batch_size",
        str(args.batch_size),
        "--log_samples",
        "--output_path",
        str(out),
    ]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, env=env)
    scores = {}
    for setting in ("mc1", "mc2"):
        samples = _samples(out, f"truthfulqa_{setting}_local")
        scores[setting] = [float(sample["acc"]) for sample in samples]
    return scores


def _samples(out: Path, task: str) -> list[dict]:
    """lm-eval's logged samples of `task` (newest run), in document order."""
    path = max(glob.glob(str(out / "**" / f"samples_{task}_*.jsonl"), recursive=True))
    with open(path, encoding="utf-8") as handle:
        return sorted((json.loads(line) for line in handle), key=lambda sample: sample["doc_id"])


def _run_ours(model: Path, data: Path) -> dict[str, list[float]]:
    from variformer.eval_harness import evaluate

    result = evaluate(
        str(model),
        tasks=["truthfulqa_mc1", "truthfulqa_mc2"],
        batch_size=8,
        cache_dir=None,
        bootstrap_iters=0,
        progress=False,
        robustness="none",
        prompt_spread=False,
        task_data={"truthfulqa_mc1": str(data), "truthfulqa_mc2": str(data)},
    )
    return {s: [r.scores[s] for r in result.samples[f"truthfulqa_{s}"]] for s in ("mc1", "mc2")}


GEN_METRICS = (
    "bleu_max",
    "bleu_acc",
    "bleu_diff",
    "rouge1_max",
    "rouge1_acc",
    "rouge1_diff",
    "rouge2_max",
    "rouge2_acc",
    "rouge2_diff",
    "rougeL_max",
    "rougeL_acc",
    "rougeL_diff",
)


def _compare_generation(args, model: Path, lm_eval_tasks: str, env: dict) -> float:
    """truthfulqa_gen on the first --gen-rows questions: same completions and per-question metrics?"""
    from variformer.eval_harness import evaluate

    data = args.workdir / "truthfulqa_gen.jsonl"
    lines = args.gen_data.read_text(encoding="utf-8").splitlines()[: args.gen_rows]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tasks_dir = args.workdir / "gen_tasks"
    tasks_dir.mkdir(exist_ok=True)
    (tasks_dir / "truthfulqa_gen_local.yaml").write_text(
        TASK_YAML.format(lm_eval_tasks=lm_eval_tasks, setting="gen", data=data), encoding="utf-8"
    )
    out = args.workdir / "lm_eval_gen_out"
    backend = ",backend=seq2seq" if args.tiny == "t5" else ""
    subprocess.run(
        [
            args.lm_eval,
            "--model",
            "hf",
            "--model_args",
            f"pretrained={model},dtype=float32{backend}",
            "--tasks",
            "truthfulqa_gen_local",
            "--include_path",
            str(tasks_dir),
            "--device",
            "cpu",
            "--batch_size",
            "1",
            "--log_samples",
            "--output_path",
            str(out),
        ],
        check=True,
        env=env,
    )
    theirs = _samples(out, "truthfulqa_gen_local")
    result = evaluate(
        str(model),
        tasks=["truthfulqa_gen"],
        batch_size=1,
        cache_dir=None,
        bootstrap_iters=0,
        progress=False,
        robustness="none",
        prompt_spread=False,
        task_data={"truthfulqa_gen": str(data)},
    )
    ours = result.samples["truthfulqa_gen"]
    same = sum(o.prediction == t["filtered_resps"][0] for o, t in zip(ours, theirs))
    worst = max(abs(o.scores[k] - float(t[k])) for o, t in zip(ours, theirs) for k in GEN_METRICS)
    print(f"truthfulqa_gen: identical completions {same} of {len(ours)}, max per-question metric |diff| {worst:.2e}")
    return worst if same == len(ours) else float("inf")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm-eval", default="lm_eval", help="the lm_eval executable of an lm-eval install")
    parser.add_argument("--model", type=Path, help="a local causal LM folder (default: build a tiny GPT-2)")
    parser.add_argument(
        "--tiny",
        choices=("gpt2", "t5", "llama"),
        default="gpt2",
        help="without --model: build a tiny GPT-2 (causal), T5 (seq2seq) or Llama (causal, with a tokenizer that "
        "puts BOS first, as Llama's does)",
    )
    parser.add_argument("--data", type=Path, default=REPO / "src/variformer/data/hallucination/truthfulqa_mc.jsonl")
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/truthfulqa-lmeval-parity"))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--gen-rows", type=int, default=0, help="also compare truthfulqa_gen on this many questions")
    parser.add_argument(
        "--gen-data", type=Path, default=REPO / "src/variformer/data/hallucination/truthfulqa_gen.jsonl"
    )
    args = parser.parse_args(argv)

    args.workdir.mkdir(parents=True, exist_ok=True)
    model = args.model or args.workdir / f"tiny-{args.tiny}"
    if args.model is None:
        _tiny_model(model, args.tiny)
    data = args.workdir / "truthfulqa_mc.jsonl"
    lines = args.data.read_text(encoding="utf-8").splitlines()[: args.rows]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tasks_dir = args.workdir / "tasks"
    tasks_dir.mkdir(exist_ok=True)
    lm_eval_tasks = _lm_eval_tasks_dir(args.lm_eval)
    for setting in ("mc1", "mc2"):
        (tasks_dir / f"truthfulqa_{setting}_local.yaml").write_text(
            TASK_YAML.format(lm_eval_tasks=lm_eval_tasks, setting=setting, data=data), encoding="utf-8"
        )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    theirs = _run_lm_eval(args, model, tasks_dir, args.workdir / "lm_eval_out", env)
    ours = _run_ours(model, data)
    worst = 0.0
    for setting in ("mc1", "mc2"):
        diffs = [abs(a - b) for a, b in zip(ours[setting], theirs[setting])]
        assert len(ours[setting]) == len(theirs[setting]) == len(lines), (setting, len(ours[setting]))
        mean_ours, mean_theirs = sum(ours[setting]) / len(lines), sum(theirs[setting]) / len(lines)
        worst = max(worst, max(diffs), abs(mean_ours - mean_theirs))
        print(
            f"truthfulqa_{setting}: ours {mean_ours:.6f}  lm-eval {mean_theirs:.6f}  "
            f"|diff| {abs(mean_ours - mean_theirs):.2e}  max per-question |diff| {max(diffs):.2e}  (n={len(lines)})"
        )
    if args.gen_rows:
        worst = max(worst, _compare_generation(args, model, lm_eval_tasks, env))
    print("PARITY OK" if worst <= args.tolerance else f"PARITY FAILED: {worst:.2e} > {args.tolerance}")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
