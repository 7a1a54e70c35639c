"""The whole GPU work of the project in one call (issue 18): run by `benchmarks/gpu_check.sh`, which installs first.

    bash benchmarks/gpu_check.sh [--wheels DIR]        # on one H100/H200: about 8 minutes (budgets below)
    bash benchmarks/gpu_check.sh --cpu-smoke            # the same stages at tiny sizes on the CPU, end to end

Stages, in this order, each a subprocess with its own time budget (killed and recorded as "timeout" past it, so the
call ends within the sum of the budgets, `TOTAL_BUDGET_S`, installation excluded):

1. `tests`: the GPU-only tests (`pytest -m gpu`: bf16, SDPA's flash kernel, compiled static-cache generation, the
   chunked loss under autocast and compiled, QLoRA when bitsandbytes is installed);
2. `bench/*`: `benchmarks/run.py` at the target shapes, one part per process (each writes its own JSON): the
   decoding-overhead rows, greedy decoding (batch 1 both caches, batch 32 default cache), compiled decoder training
   vs compiled GPT-2, compiled encoder training vs compiled BERT, encoder-decoder training vs T5;
3. `multi30k`: a short run of recipes/multi30k-de-en-transformer.yaml (`variformer train --max-steps ...`), with
   its sacreBLEU on test2016.

Writes benchmarks/results/<date>-<gpu>.json (schema below) and .md, atomically, with every stage's status, the
test counts, the Multi30k metrics and all benchmark rows (the `benchmarks/report.py` row schema). The budgets are
estimates: this script has not run on a GPU yet.

`--list-missing` prints the requirements of the project (and pytest) that the installed packages do not satisfy,
one per line, for gpu_check.sh to install; it needs only the standard library and `packaging`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_VERSION = 1
TOTAL_BUDGET_S = 420  # the stages' budgets below; gpu_check.sh's installation comes on top (8 minutes in all)
EXTRA_REQUIREMENTS = ("pytest>=8",)  # the tests stage; not a runtime dependency
BENCH_PARTS = {  # part name -> (run.py --only prefixes, budget in seconds)
    "decoding-overhead": (["decoding-overhead"], 30),
    "decoding": (["decoding/batch1/", "decoding/batch32/dynamic"], 60),
    "decoder-compiled": (["decoder/train/compiled"], 70),
    "encoder-compiled": (["encoder/train/compiled"], 55),
    "encoder-decoder-eager": (["encoder-decoder/train/eager"], 25),
}
TESTS_BUDGET_S, MULTI30K_BUDGET_S = 60, 120
MULTI30K_GPU = (
    "recipes/multi30k-de-en-transformer.yaml",
    400,
    [
        "training.warmup_steps=100",
        "training.eval_strategy='steps'",
        "training.eval_steps=200",
        "training.save_strategy='steps'",
        "training.save_steps=80",
        "training.logging_steps=50",
    ],
)
MULTI30K_SMOKE = (
    "recipes/tiny/multi30k-de-en-transformer.yaml",
    10,
    [
        "training.eval_steps=5",
        "training.save_steps=5",
    ],
)


# ---------------------------------------------------------------------------------------------- requirements
def missing_requirements() -> list[str]:
    """Requirements (build system, project dependencies, `EXTRA_REQUIREMENTS`) no installed distribution meets."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    project = _read_pyproject()
    wanted = [*project["build-system"]["requires"], *project["project"]["dependencies"], *EXTRA_REQUIREMENTS]
    missing = []
    for text in wanted:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            missing.append(str(requirement))
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            missing.append(str(requirement))
    return missing


def _read_pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------- stages
@dataclass
class Stage:
    """One subprocess of the check and what came of it."""

    name: str
    command: list[str]
    budget_s: float
    status: str = "not run"  # ok, failed, timeout
    wall_s: float | None = None
    returncode: int | None = None
    output_tail: str = ""
    detail: dict = field(default_factory=dict)

    def run(self, log_dir: Path) -> Stage:
        print(f"[gpu_check] {self.name}: {' '.join(self.command)} (budget {self.budget_s:.0f} s)", flush=True)
        log_path = log_dir / f"{self.name.replace('/', '_')}.log"
        started = time.perf_counter()
        with log_path.open("w", encoding="utf-8") as log:
            process = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
                start_new_session=True,
            )
            try:
                self.returncode = process.wait(timeout=self.budget_s)
                self.status = "ok" if self.returncode == 0 else "failed"
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
                self.status = "timeout"
        self.wall_s = round(time.perf_counter() - started, 1)
        self.output_tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        print(f"[gpu_check] {self.name}: {self.status} in {self.wall_s} s", flush=True)
        return self


def tests_stage(work: Path) -> Stage:
    junit = work / "tests.xml"
    stage = Stage(
        "tests",
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-m",
            "gpu",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            "tests/modeling/test_gpu.py",
            "tests/training/test_lora.py",
        ],
        TESTS_BUDGET_S,
    )
    stage.run(work)
    if junit.is_file():
        stage.detail = _junit_counts(junit)
    if stage.status == "failed" and stage.detail.get("failed", 0) == 0 and stage.detail.get("errors", 0) == 0:
        stage.status = "ok"  # pytest exits 5 when every test is deselected or skipped (the CPU smoke run)
    return stage


def _junit_counts(path: Path) -> dict:
    suite = ElementTree.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    failed = [case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None]
    return {
        "tests": counts["tests"],
        "failed": counts["failures"],
        "errors": counts["errors"],
        "skipped": counts["skipped"],
        "passed": counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"],
        "failed_tests": failed,
    }


def bench_stages(work: Path, smoke: bool) -> list[Stage]:
    device = (
        ["--device", "cpu", "--quick", "--warmup", "0", "--repeats", "1", "--harness-questions", "1"]
        if smoke
        else ["--device", "cuda", "--warmup", "2", "--repeats", "5"]
    )
    stages = []
    for part, (prefixes, budget) in BENCH_PARTS.items():
        command = [
            sys.executable,
            "benchmarks/run.py",
            *device,
            "--only",
            *prefixes,
            "--output-dir",
            str(work),
            "--name",
            f"bench-{part}",
        ]
        stage = Stage(f"bench/{part}", command, budget).run(work)
        result = work / f"bench-{part}.json"
        if result.is_file():
            stage.detail = json.loads(result.read_text(encoding="utf-8"))
            if stage.status == "failed":
                stage.status = "ok, with row errors"  # run.py exits 1 when a row failed; the others are valid
        stages.append(stage)
    return stages


def multi30k_stage(work: Path, smoke: bool) -> Stage:
    recipe, steps, overrides = MULTI30K_SMOKE if smoke else MULTI30K_GPU
    output = work / "multi30k"
    command = [
        sys.executable,
        "-m",
        "variformer.cli",
        "train",
        recipe,
        "--output-dir",
        str(output),
        "--max-steps",
        str(steps),
        *[argument for text in overrides for argument in ("--set", text)],
    ]
    stage = Stage("multi30k", command, MULTI30K_BUDGET_S).run(work)
    metrics = output / "metrics.json"
    if metrics.is_file():
        stage.detail = json.loads(metrics.read_text(encoding="utf-8"))
    return stage


# ---------------------------------------------------------------------------------------------- report
def build_report(stages: list[Stage], started: datetime.datetime, smoke: bool, device_name: str) -> dict:
    bench = [stage.detail for stage in stages if stage.name.startswith("bench/") and stage.detail]
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "gpu_check",
        "created_utc": started.isoformat(timespec="seconds"),
        "mode": "cpu-smoke (tiny sizes; not GPU figures)" if smoke else "gpu",
        "device_name": device_name,
        "budget_s": TOTAL_BUDGET_S,
        "wall_s": round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(), 1),
        "environment": bench[0]["environment"] if bench else {},
        "stages": [
            {
                "name": stage.name,
                "status": stage.status,
                "wall_s": stage.wall_s,
                "budget_s": stage.budget_s,
                "returncode": stage.returncode,
                "command": stage.command,
                "output_tail": stage.output_tail if not stage.status.startswith("ok") else "",
            }
            for stage in stages
        ],
        "tests": next((stage.detail for stage in stages if stage.name == "tests"), {}),
        "multi30k": _multi30k_summary(next((stage.detail for stage in stages if stage.name == "multi30k"), {})),
        "rows": [row for part in bench for row in part["rows"]],
        "formulas": bench[0]["formulas"] if bench else {},
    }


def _multi30k_summary(metrics: dict) -> dict:
    keep = ("recipe", "global_step", "wall_time_s", "train_runtime_s", "validation", "test", "device", "versions")
    return {key: metrics[key] for key in keep if key in metrics}


def to_markdown(report: dict) -> str:
    from benchmarks.report import row_from_dict, rows_table

    lines = [
        f"# GPU check ({report['mode']}): {report['device_name']}",
        "",
        f"- Created (UTC): {report['created_utc']}; wall {report['wall_s']} s (stage budgets: "
        f"{report['budget_s']} s, installation excluded)",
        "",
        "## Stages",
        "",
        "| Stage | Status | Wall s | Budget s |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {stage['name']} | {stage['status']} | {stage['wall_s']} | {stage['budget_s']:.0f} |"
        for stage in report["stages"]
    ]
    tests = report["tests"]
    lines += [
        "",
        "## GPU tests (`pytest -m gpu`)",
        "",
        f"passed {tests.get('passed', '-')}, failed {tests.get('failed', '-')}, errors "
        f"{tests.get('errors', '-')}, skipped {tests.get('skipped', '-')}"
        + (f"; failing: {', '.join(tests['failed_tests'])}" if tests.get("failed_tests") else ""),
        "",
    ]
    lines += [
        "## Multi30k short run",
        "",
        "```",
        json.dumps(report["multi30k"], indent=2, default=str)[:3000],
        "```",
        "",
    ]
    if report["rows"]:
        lines += ["## Benchmarks (ratio = Variformer / baseline)", ""]
        lines += rows_table([row_from_dict(row) for row in report["rows"]])
    return "\n".join(lines) + "\n"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "gpu"


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="every stage at tiny sizes on the CPU")
    parser.add_argument("--list-missing", action="store_true", help="print unmet requirements and exit")
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    if args.list_missing:
        print("\n".join(missing_requirements()))
        return 0
    sys.path.insert(0, str(REPO_ROOT))
    import torch

    from benchmarks.report import write_atomic

    if not args.cpu_smoke and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device; run with --cpu-smoke to check the stages on the CPU")
    device_name = torch.cuda.get_device_name(0) if not args.cpu_smoke else "cpu"
    started = datetime.datetime.now(datetime.timezone.utc)
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as scratch:
        work = Path(scratch)
        stages = [tests_stage(work), *bench_stages(work, args.cpu_smoke), multi30k_stage(work, args.cpu_smoke)]
        report = build_report(stages, started, args.cpu_smoke, device_name)
    stem = f"{started.date().isoformat()}-{'cpu-smoke' if args.cpu_smoke else _slug(device_name)}"
    write_atomic(args.output_dir / f"{stem}.json", json.dumps(report, indent=2, default=str) + "\n")
    write_atomic(args.output_dir / f"{stem}.md", to_markdown(report))
    print(f"[gpu_check] wrote {args.output_dir / stem}.json and .md", flush=True)
    return 0 if all(stage.status.startswith("ok") for stage in stages) else 1


if __name__ == "__main__":
    sys.exit(main())
