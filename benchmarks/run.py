"""Variformer vs the stock transformers models of the same shape, side by side in one process.

    python benchmarks/run.py --device cuda          # the issue's shapes (GPT-2 small, BERT-base, T5-base), bf16
    python benchmarks/run.py --device cpu --quick   # tiny shapes, few steps: runs anywhere in about a minute
    python benchmarks/run.py --device cpu --only decoding-overhead memory   # issue 18's CPU comparisons

Writes benchmarks/results/<date>-<device>.json (schema in benchmarks/report.py) and the same run as a Markdown
table (.md), each atomically (temporary file + os.replace), and prints progress to stderr. Every row reports
ratio = Variformer / baseline. GPU-only rows (torch.compile, MFU, peak memory, flash-attn) are kept in CPU mode
as "skipped: <reason>".

Rows:
- training (forward + backward + fused AdamW step), tokens/s, eager and compiled, plus peak memory, for
  decoder "gpt2-small" vs GPT2LMHeadModel (also MFU), encoder "bert-base" vs BertForMaskedLM, encoder-decoder
  "t5-base" vs T5ForConditionalGeneration;
- greedy decoding, new tokens/s, batch 1 and 32, dynamic and static cache, vs GPT2LMHeadModel;
- per-step decoding overhead (issue 18): batch-1 greedy decoding of a stock GPT-2 with random weights against the
  Variformer model converted from it (same tokens), dynamic and static cache, alternating calls;
- training-step memory (issue 18, CPU): peak RSS of a fresh subprocess per model (benchmarks/memory.py);
- log-likelihood scoring of TruthfulQA MC2 requests, batched (sorted by length) vs one at a time, and
  Variformer vs GPT2LMHeadModel with the batched scorer.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `benchmarks` is imported as a package from the checkout
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is built from configs; nothing is downloaded
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import transformers  # noqa: E402

import variformer  # noqa: E402
from benchmarks import decoding, harness, memory, training  # noqa: E402
from benchmarks import shapes as shape_sets  # noqa: E402
from benchmarks.models import STOCK_CLASSES, parameter_counts_on_meta  # noqa: E402
from benchmarks.report import SCHEMA_VERSION, Row, RunReport, Side, Target, to_markdown, write_atomic  # noqa: E402
from benchmarks.settings import H100_BF16_DENSE_PEAK_FLOPS, Settings  # noqa: E402

DEFAULT_TRUTHFULQA = REPO_ROOT.parent / "shared" / "data" / "truthfulqa" / "mc_task.jsonl"
WORKLOADS = ("decoder", "encoder", "encoder-decoder")
CONFIG_BUILDERS = shape_sets.CONFIG_BUILDERS

GPU_ONLY = "GPU-only"
SKIP_COMPILE = (
    f"{GPU_ONLY}: torch.compile timings are taken on CUDA (CPU inductor compiles take minutes on a "
    "shared CPU and say nothing about the GPU targets)"
)
SKIP_MFU = f"{GPU_ONLY}: MFU is defined against the H100 bf16 dense peak (989 TFLOP/s)"
SKIP_MEMORY = f"{GPU_ONLY}: peak memory is torch.cuda.max_memory_allocated"
SKIP_FLASH_DEVICE = f"{GPU_ONLY}: flash_attention_2 kernels run on CUDA only"
SKIP_FLASH_PACKAGE = "flash-attn is not installed (pip install flash-attn); the sdpa rows use PyTorch's kernels"

FORMULAS = {
    "tokens_per_s": "tokens per training step / median step time; decoder and encoder: batch * seq, "
    "encoder-decoder: batch * (source + target)",
    "mfu": "training_flops_per_token * tokens_per_s / 989e12 (H100 bf16 dense peak); training_flops_per_token = "
    "6 * N + 12 * layers * heads * head_dim * seq, N = parameters without the position table "
    "(PaLM appendix B, nanoGPT); the same FLOPs are used for both models of the pair",
    "new_tokens_per_s": "batch * new tokens / median seconds per generate() call (prompt processing included)",
    "requests_per_s": "scored requests / median seconds per pass over all requests",
    "peak_rss": "ru_maxrss of a fresh process that builds the model and a fused AdamW, runs a 1 x 8-token warm-up "
    "step (the optimizer state then exists) and one training step on the row's batch; the JSON adds "
    "the RSS before that step and the difference (step_rss_bytes)",
    "decoding_overhead": "new tokens / median wall seconds per generate() call, calls of the two models "
    "alternating (a, b, b, a, ...); the process CPU seconds are in extra.cpu_times_s",
    "ratio": "Variformer / baseline (higher is better for throughput and MFU, lower is better for memory)",
}


@dataclass
class Case:
    """One comparison: the rows it fills, and how (`measure(rows)`), or why it is skipped."""

    name: str
    rows: list[Row]
    measure: Callable[[list[Row]], None] | None = None
    skip_reason: str | None = None


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- training
def training_shape(workload: str, settings: Settings) -> dict:
    s = settings.shapes
    if workload == "decoder":
        return {"batch": s.decoder_batch, "seq": s.decoder_seq}
    if workload == "encoder":
        return {"batch": s.encoder_batch, "seq": s.encoder_seq}
    return {"batch": s.seq2seq_batch, "source": s.source_len, "target": s.target_len}


TRAINING_TARGETS = {
    ("decoder", "compiled"): Target(1.5, ">=", "issue: >= 1.5x compiled GPT2LMHeadModel tokens/s"),
    ("encoder", "compiled"): Target(1.3, ">=", "issue: >= 1.3x compiled BertForMaskedLM tokens/s"),
    ("encoder-decoder", "eager"): Target(2.5, ">=", "issue: >= 2.5x T5ForConditionalGeneration tokens/s"),
}


def training_case(workload: str, variant: str, settings: Settings) -> Case:
    """Tokens/s and peak memory (and MFU for the decoder) of one training variant: eager, compiled, flash."""
    shape = training_shape(workload, settings)
    title = f"{workload} training step ({variant})"

    def row(metric: str, unit: str, higher: bool, target: Target | None = None) -> Row:
        return Row(
            id=f"{workload}/train/{variant}/{metric}",
            section="training",
            title=title,
            metric=metric,
            unit=unit,
            higher_is_better=higher,
            shape=shape,
            target=target,
        )

    rows = [row("tokens_per_s", "tokens/s", True, _copy(TRAINING_TARGETS.get((workload, variant))))]
    if workload == "decoder":
        rows.append(row("mfu", "fraction", True))
    rows.append(
        row("peak_memory", "bytes", False, Target(0.7, "<=", "issue 18: peak memory of a training step <= 0.7x stock"))
    )
    skip = _training_skip_reason(variant, settings)
    if skip is not None:
        return Case(f"{workload}/train/{variant}", rows, skip_reason=skip)
    attn = "flash_attention_2" if variant == "flash_attention_2" else settings.attn_implementation
    return Case(
        f"{workload}/train/{variant}",
        rows,
        measure=lambda rows: _measure_training(workload, variant == "compiled", attn, rows, settings),
    )


def _copy(target: Target | None) -> Target | None:
    return replace(target) if target is not None else None


def _training_skip_reason(variant: str, settings: Settings) -> str | None:
    if variant == "compiled" and not settings.on_gpu:
        return SKIP_COMPILE
    if variant == "flash_attention_2":
        if not settings.on_gpu:
            return SKIP_FLASH_DEVICE
        if importlib.util.find_spec("flash_attn") is None:
            return SKIP_FLASH_PACKAGE
    return None


def _measure_training(workload: str, compiled: bool, attn: str, rows: list[Row], settings: Settings) -> None:
    config = CONFIG_BUILDERS[workload](settings.shapes)
    batch, tokens = training.make_batch(workload, settings, config.vocab_size)
    sides = {}
    for side in ("variformer", "stock"):
        log(f"  {rows[0].id}: {side} ...")
        sides[side] = training.measure_training(side, workload, config, batch, tokens, settings, compiled, attn)
        log(
            f"  {rows[0].id}: {side} {sides[side].value:,.0f} tokens/s "
            f"(first step {sides[side].extra['first_step_s'] or 0:.2f} s)"
        )
    flops = training.training_flops_per_token(config, sides["variformer"].parameters, settings.shapes.decoder_seq)
    for row in rows:
        if row.metric == "tokens_per_s":
            row.variformer, row.baseline = sides["variformer"], sides["stock"]
        elif row.metric == "mfu":
            _fill_derived(
                row,
                sides,
                lambda side: flops * side.value / H100_BF16_DENSE_PEAK_FLOPS,
                None if settings.on_gpu else SKIP_MFU,
                {"flops_per_token": flops},
            )
        elif row.metric == "peak_memory":
            _fill_derived(
                row, sides, lambda side: side.extra["peak_memory_bytes"], None if settings.on_gpu else SKIP_MEMORY, {}
            )


def _fill_derived(
    row: Row, sides: dict[str, Side], value: Callable[[Side], float], skip: str | None, extra: dict
) -> None:
    if skip is not None:
        row.skip(skip)
        return
    row.variformer, row.baseline = (
        Side(label=sides[name].label, parameters=sides[name].parameters, value=value(sides[name]), extra=extra)
        for name in ("variformer", "stock")
    )


# ---------------------------------------------------------------------------------------------- decoding
def decoding_case(batch_size: int, cache: str, settings: Settings) -> Case:
    s = settings.shapes
    target = (
        Target(1.0, ">=", "issue: >= 1.0x stock static cache at batch 1")
        if cache == "static"
        else Target(2.0, ">=", "issue: >= 2x stock default (dynamic) cache")
    )
    row = Row(
        id=f"decoding/batch{batch_size}/{cache}/new_tokens_per_s",
        section="decoding",
        title="greedy generate(), "
        + (
            "static cache"
            if cache == "static"
            else "default cache (transformers' dynamic cache unless the model's generation config sets another)"
        ),
        metric="new_tokens_per_s",
        unit="tokens/s",
        higher_is_better=True,
        shape={"batch": batch_size, "prompt": s.prompt_len, "new": s.new_tokens},
        target=target if (cache == "dynamic" or batch_size == 1) else None,
    )

    def measure(rows: list[Row]) -> None:
        config = shape_sets.decoder_config(settings.shapes)
        implementation = "static" if cache == "static" else None
        for side, attribute in (("variformer", "variformer"), ("stock", "baseline")):
            result = decoding.measure_decoding(side, config, batch_size, implementation, settings)
            setattr(rows[0], attribute, result)
            log(f"  {rows[0].id}: {side} {result.value:,.1f} new tokens/s")

    return Case(row.id, [row], measure=measure)


# ---------------------------------------------------------------------------------------------- decoding overhead
def decoding_overhead_case(model_name: str, cache: str, settings: Settings) -> Case:
    """Batch-1 greedy decoding of a stock GPT-2 against its conversion (same tokens), alternating calls."""
    levers = settings.levers
    wanted = 1.2 if cache == "static" else 1.0
    target = Target(
        wanted, ">=", f"issue 18: >= {wanted}x stock GPT-2 tokens/s at batch 1, {cache} cache", judged_on="any"
    )
    row = Row(
        id=f"decoding-overhead/{model_name}/batch1/{cache}/new_tokens_per_s",
        section="decoding-overhead",
        title=f"greedy generate(), {cache} cache, GPT-2 vs its conversion (same tokens), fp32",
        metric="new_tokens_per_s",
        unit="tokens/s",
        higher_is_better=True,
        shape={"model": model_name, "batch": 1, "prompt": levers.decode_prompt, "new": levers.decode_new},
        target=target,
    )

    def measure(rows: list[Row]) -> None:
        sides = decoding.measure_decoding_overhead(model_name, "static" if cache == "static" else None, settings)
        rows[0].variformer, rows[0].baseline = sides["variformer"], sides["stock"]
        log(
            f"  {rows[0].id}: variformer {sides['variformer'].value:,.1f}, stock {sides['stock'].value:,.1f} "
            "new tokens/s"
        )

    return Case(row.id, [row], measure=measure)


# ---------------------------------------------------------------------------------------------- memory
SKIP_RSS_ON_GPU = (
    "CPU-only: peak RSS of a subprocess; on the GPU the */train/*/peak_memory rows report "
    "torch.cuda.max_memory_allocated at the target shapes"
)


def memory_case(workload: str, settings: Settings) -> Case:
    """Peak RSS of one training step, each model in a fresh subprocess (benchmarks/memory.py)."""
    levers = settings.levers
    batch = levers.memory_batch.get(workload)
    shape = dict(
        training_shape(workload, replace(settings, shapes=levers.memory_shapes)),
        batch=batch,
        dims=levers.memory_shapes.name,
    )
    row = Row(
        id=f"memory/{workload}/train_step/peak_rss",
        section="memory",
        title=f"{workload} training step (fp32, dropout off), peak RSS of a fresh process",
        metric="peak_rss",
        unit="bytes",
        higher_is_better=False,
        shape=shape,
        target=Target(0.7, "<=", "issue 18: peak RSS of a training step <= 0.7x stock", judged_on="any"),
    )
    if settings.on_gpu:
        return Case(row.id, [row], skip_reason=SKIP_RSS_ON_GPU)
    if batch is None:
        return Case(
            row.id,
            [row],
            skip_reason=f"{levers.name} sizes measure the memory of {', '.join(levers.memory_batch)} only",
        )
    return Case(row.id, [row], measure=lambda rows: _measure_memory(workload, batch, rows, settings))


def _measure_memory(workload: str, batch: int, rows: list[Row], settings: Settings) -> None:
    sides = {}
    for side in ("variformer", "stock"):
        child = memory.measure_peak_rss(
            side, workload, settings.levers.memory_shapes.name, batch, threads=torch.get_num_threads()
        )
        sides[side] = Side(
            label=child["label"],
            value=child["peak_rss_bytes"],
            times_s=[child["wall_s"]],
            extra={key: child[key] for key in ("rss_before_step_bytes", "step_rss_bytes", "tokens", "loss")},
        )
        log(
            f"  {rows[0].id}: {side} peak RSS {child['peak_rss_bytes'] / 2**30:.2f} GiB "
            f"(step {child['step_rss_bytes'] / 2**30:.2f} GiB)"
        )
    ours, stock = sides["variformer"].extra["step_rss_bytes"], sides["stock"].extra["step_rss_bytes"]
    sides["variformer"].extra["step_rss_ratio"] = ours / stock if stock else None
    rows[0].variformer, rows[0].baseline = sides["variformer"], sides["stock"]


# ---------------------------------------------------------------------------------------------- harness
def harness_case(settings: Settings) -> Case:
    """Two rows: batched vs one-at-a-time scorer (Variformer), and Variformer vs GPT-2 (batched scorer)."""
    shape = {"questions": settings.harness_questions or "all", "batch": settings.shapes.harness_batch}
    common = dict(section="harness", metric="requests_per_s", unit="requests/s", higher_is_better=True, shape=shape)
    rows = [
        Row(
            id="harness/loglikelihood/batched_vs_single/requests_per_s",
            title="TruthfulQA MC2 log-likelihood, batched+sorted vs one at a time (Variformer)",
            **common,
        ),
        Row(
            id="harness/loglikelihood/variformer_vs_stock/requests_per_s",
            title="TruthfulQA MC2 log-likelihood, batched scorer, Variformer vs GPT2LMHeadModel",
            **common,
        ),
    ]
    if not settings.truthfulqa_path.is_file():
        return Case("harness", rows, skip_reason=f"TruthfulQA file not found: {settings.truthfulqa_path}")
    return Case("harness", rows, measure=lambda rows: _measure_harness(rows, settings))


def _measure_harness(rows: list[Row], settings: Settings) -> None:
    config = shape_sets.decoder_config(settings.shapes)
    requests = harness.load_requests(settings.truthfulqa_path, settings.harness_questions)
    tokenizer = harness.build_tokenizer(requests, config.vocab_size)
    batch = settings.shapes.harness_batch
    log(
        f"  harness: {len(requests)} requests, scorer "
        f"{'HFAdapter (variformer.eval_harness)' if harness.HFAdapter is not None else 'MinimalScorer (benchmarks)'}"
    )
    batched, batched_scores = harness.measure_scoring("variformer", config, requests, tokenizer, batch, settings)
    log(f"  harness: variformer batched {batched.value:,.1f} requests/s")
    single, single_scores = harness.measure_scoring("variformer", config, requests, tokenizer, 1, settings)
    log(f"  harness: variformer one at a time {single.value:,.1f} requests/s")
    stock, _ = harness.measure_scoring("stock", config, requests, tokenizer, batch, settings)
    log(f"  harness: stock batched {stock.value:,.1f} requests/s")
    difference = max(abs(a - b) for a, b in zip(batched_scores, single_scores))
    batched.extra["max_abs_score_difference_vs_single"] = difference
    rows[0].variformer, rows[0].baseline = batched, single
    rows[1].variformer, rows[1].baseline = batched, stock
    for row in rows:
        row.title += f"; scorer: {batched.extra['scorer']}"


# ---------------------------------------------------------------------------------------------- the run
def build_cases(settings: Settings, only: list[str] | None) -> list[Case]:
    """Every case, or those whose name starts with one of the prefixes `only` (e.g. "decoder/train")."""
    cases = []
    for workload in WORKLOADS:
        variants = ("eager", "compiled") + (("flash_attention_2",) if workload == "decoder" else ())
        cases += [training_case(workload, variant, settings) for variant in variants]
    cases += [
        decoding_case(batch, cache, settings)
        for batch in settings.shapes.decode_batches
        for cache in ("dynamic", "static")
    ]
    cases += [
        decoding_overhead_case(model_name, cache, settings)
        for model_name in shape_sets.DECODE_OVERHEAD_MODELS
        for cache in ("dynamic", "static")
    ]
    cases += [memory_case(workload, settings) for workload in WORKLOADS]
    cases.append(harness_case(settings))
    if only:
        cases = [case for case in cases if case.name.startswith(tuple(only))]
    return cases


def run_cases(cases: list[Case], judge_targets: bool) -> list[Row]:
    """Measure each case in turn; a failing case marks its rows "error" and the run goes on. Targets are
    judged only when `judge_targets` (the target shapes on a GPU)."""
    rows = []
    for index, case in enumerate(cases, start=1):
        if case.skip_reason is not None:
            log(f"[{index}/{len(cases)}] {case.name}: skipped ({case.skip_reason})")
            for row in case.rows:
                row.skip(case.skip_reason)
        else:
            log(f"[{index}/{len(cases)}] {case.name}")
            started = time.perf_counter()
            try:
                case.measure(case.rows)
            except Exception as error:  # noqa: BLE001 - reported in the row, the other cases still run
                traceback.print_exc(file=sys.stderr)
                for row in case.rows:
                    row.fail(f"{type(error).__name__}: {error}".splitlines()[0][:300])
            log(f"[{index}/{len(cases)}] {case.name}: done in {time.perf_counter() - started:.1f} s")
        rows += [row.finish(judge_targets) for row in case.rows]
    return rows


def parameter_counts(settings: Settings) -> dict:
    """Parameter counts of both models per workload, at the run's shapes and at the target (GPU) shapes."""
    counts = {}
    for workload in WORKLOADS:
        config = CONFIG_BUILDERS[workload](settings.shapes)
        run_counts = parameter_counts_on_meta(workload, config)
        full = parameter_counts_on_meta(workload, CONFIG_BUILDERS[workload](shape_sets.TARGET))
        counts[workload] = {**run_counts, "stock_class": STOCK_CLASSES[workload].__name__, "target_shape": full}
        log(
            f"parameters {workload}: Variformer {run_counts['variformer']:,} vs {STOCK_CLASSES[workload].__name__} "
            f"{run_counts['stock']:,} (target shape: {full['variformer']:,} vs {full['stock']:,})"
        )
        if run_counts["variformer"] != run_counts["stock"] or full["variformer"] != full["stock"]:
            log(f"WARNING: parameter counts differ for {workload}; the shapes do not match")
    return counts


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict:
    cuda = device.type == "cuda"
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "variformer": variformer.__version__,
        "device_name": torch.cuda.get_device_name(device) if cuda else cpu_name(),
        "cuda": torch.version.cuda if cuda else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="fewer iterations and TruthfulQA questions")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes on CUDA too (always on for CPU)")
    parser.add_argument("--warmup", type=int, help="untimed iterations per measurement (default 3, quick 2)")
    parser.add_argument("--repeats", type=int, help="timed iterations per measurement (default 10, quick 5)")
    parser.add_argument(
        "--harness-questions", type=int, help="TruthfulQA questions to score; 0 = all 817 (default all, quick 5)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="PREFIX",
        help="run only the cases whose name starts with a prefix, e.g. decoder/train decoding "
        "harness (to split a GPU run into shorter commands); the file name gets a suffix",
    )
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads (default 1 on CPU: steadier timings on a shared machine)"
    )
    parser.add_argument(
        "--memory-batch",
        nargs="+",
        default=[],
        metavar="WORKLOAD=N",
        type=_memory_batch,
        help="training batch of a memory row, e.g. decoder=4 (default decoder=1 encoder=2 encoder-decoder=1; the "
        "weights, gradients and optimizer state weigh less in the ratio as the batch grows)",
    )
    parser.add_argument("--attn-implementation", default="sdpa", help="attention backend of both models")
    parser.add_argument("--truthfulqa", type=Path, default=DEFAULT_TRUTHFULQA, help="mc_task.jsonl")
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    parser.add_argument("--name", help="file name stem (default <date>-<device>)")
    return parser.parse_args(argv)


def _memory_batch(text: str) -> tuple[str, int]:
    workload, _, batch = text.partition("=")
    if workload not in WORKLOADS or not batch.isdigit() or int(batch) < 1:
        raise argparse.ArgumentTypeError(
            f"--memory-batch {text!r}: write WORKLOAD=N with WORKLOAD one of {', '.join(WORKLOADS)} and N >= 1, "
            "e.g. decoder=4"
        )
    return workload, int(batch)


def resolve_settings(args: argparse.Namespace) -> Settings:
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available; use --device cpu")
    tiny = args.tiny or args.device == "cpu"
    threads = args.threads if args.threads is not None else (1 if args.device == "cpu" else None)
    if threads is not None:
        torch.set_num_threads(threads)
    questions = args.harness_questions if args.harness_questions is not None else (5 if args.quick else 0)
    return Settings(
        device=torch.device(args.device),
        shapes=shape_sets.TINY if tiny else shape_sets.TARGET,
        quick=args.quick,
        warmup=args.warmup if args.warmup is not None else (2 if args.quick else 3),
        repeats=args.repeats if args.repeats is not None else (5 if args.quick else 10),
        attn_implementation=args.attn_implementation,
        harness_questions=questions or None,
        truthfulqa_path=args.truthfulqa,
        levers=_levers(args),
    )


def _levers(args: argparse.Namespace) -> shape_sets.LeverSizes:
    levers = shape_sets.QUICK_LEVERS if args.quick else shape_sets.FULL_LEVERS
    if not args.memory_batch:
        return levers
    return replace(levers, memory_batch={**levers.memory_batch, **dict(args.memory_batch)})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = resolve_settings(args)
    started = datetime.datetime.now(datetime.timezone.utc)
    label = (
        f"{args.device.upper()}, {settings.shapes.name} shapes"
        + (", quick" if settings.quick else "")
        + (" (NOT the GPU targets)" if settings.shapes.name == "tiny" else "")
    )
    log(f"Variformer benchmarks: {label}; output to {args.output_dir}")
    env = environment(settings.device)
    counts = parameter_counts(settings)
    judge_targets = settings.on_gpu and settings.shapes is shape_sets.TARGET
    cases = build_cases(settings, args.only)
    if not cases:
        raise SystemExit(f"--only {' '.join(args.only)}: no case matches")
    rows = run_cases(cases, judge_targets)
    report = RunReport(
        schema_version=SCHEMA_VERSION,
        created_utc=started.isoformat(timespec="seconds"),
        label=label,
        mode={
            "device": args.device,
            "shapes": settings.shapes.name,
            "quick": settings.quick,
            "training_dtype": settings.training_dtype,
            "inference_dtype": str(settings.inference_dtype),
            "attn_implementation": settings.attn_implementation,
            "warmup": settings.warmup,
            "repeats": settings.repeats,
            "generate_calls": {"warmup": settings.call_warmup, "repeats": settings.call_repeats},
            "harness_passes": settings.harness_passes,
            "only": args.only,
            "seed": settings.seed,
            "targets_judged": judge_targets,
            "torch_threads": torch.get_num_threads(),
            "wall_s": round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(), 1),
        },
        environment=env,
        parameter_counts=counts,
        formulas=FORMULAS,
        rows=rows,
    )
    suffix = "-" + "+".join(prefix.replace("/", "_") for prefix in args.only) if args.only else ""
    stem = args.name or f"{started.date().isoformat()}-{args.device}{suffix}"
    write_atomic(args.output_dir / f"{stem}.json", report.to_json())
    write_atomic(args.output_dir / f"{stem}.md", to_markdown(report))
    log(
        f"wrote {args.output_dir / stem}.json and .md ({len(rows)} rows, "
        f"{sum(row.status == 'skipped' for row in rows)} skipped, {sum(row.status == 'error' for row in rows)} errors)"
    )
    return 1 if any(row.status == "error" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
