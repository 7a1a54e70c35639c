"""A/B of the static-cache decoding mask: Variformer with `decode_step_mask` against the same model with
transformers' general `create_masks_for_generate`, and stock GPT-2, in one process (issue 18, section 2).

The three are timed in alternating order (a, b, c, c, b, a, ...) over `--rounds` greedy `generate()` calls each
(batch 1, 64-token prompt, 64 new tokens, fp32, 1 torch thread), after checking that all three give the same
tokens; the medians and ratios go to a JSON file, with the cost of one call of each mask function
(`mask_call_us`, which does not drown in the machine's noise as whole `generate()` calls can). One process and
alternation keep a shared machine's load on all three alike, which separate benchmark runs on this machine do not
(their ratios vary by up to 0.2).

    python -m benchmarks.decode_mask_ab --output benchmarks/results/<date>-cpu-decode-mask-ab.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.cache_utils import StaticCache
from transformers.masking_utils import create_masks_for_generate

from variformer._files import atomic_write_text
from variformer.convert import from_transformers
from variformer.modeling.cache_names import CACHE_KWARG, MASK_CACHE_KWARG

from .shapes import DECODE_OVERHEAD_MODELS


def _general_mask(config, inputs_embeds, attention_mask, **kwargs):
    return create_masks_for_generate(
        config=config, inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs
    )


def mask_call_us(model, prompt: torch.Tensor, calls: int = 3000) -> dict:
    """Microseconds per call of each mask function for one decoding step after `prompt` in a static cache of 128
    slots (the arguments `generate()` passes), and whether the two masks are equal."""
    cache = StaticCache(config=model.config, max_cache_len=128)
    with torch.no_grad():
        model(input_ids=prompt, **{CACHE_KWARG: cache}, use_cache=True)
    arguments = dict(
        config=model.config,
        inputs_embeds=torch.empty((1, 1, 0)),
        attention_mask=torch.ones(1, prompt.shape[1] + 1, dtype=torch.long),
        **{MASK_CACHE_KWARG: cache},
    )
    functions = {
        "general": lambda: _general_mask(**arguments),
        "direct": lambda: model.create_masks_for_generate(**arguments),
    }
    timings = {}
    for name, function in functions.items():
        for _ in range(100):
            function()
        started = time.perf_counter()
        for _ in range(calls):
            function()
        timings[name] = (time.perf_counter() - started) / calls * 1e6
    return {**timings, "equal": bool(torch.equal(functions["general"](), functions["direct"]()))}


def measure(model_name: str, cache_implementation: str | None, rounds: int) -> dict:
    shape = DECODE_OVERHEAD_MODELS[model_name]
    vocab_size = shape["vocab_size"]
    config = GPT2Config(**shape, n_positions=1024, bos_token_id=vocab_size - 1, eos_token_id=vocab_size - 1)
    torch.manual_seed(0)
    stock = GPT2LMHeadModel._from_config(config, attn_implementation="sdpa").eval()
    ours = from_transformers(stock).eval()
    prompt = torch.randint(0, vocab_size - 1, (1, 64), generator=torch.Generator().manual_seed(0))
    options = dict(
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=64,
        min_new_tokens=64,
        do_sample=False,
        pad_token_id=vocab_size - 1,
        cache_implementation=cache_implementation,
    )

    def general() -> torch.Tensor:
        ours.create_masks_for_generate = _general_mask  # an instance attribute shadows the method
        try:
            return ours.generate(prompt, **options)
        finally:
            del ours.create_masks_for_generate

    calls = {
        "stock": lambda: stock.generate(prompt, **options),
        "variformer": lambda: ours.generate(prompt, **options),
        "variformer_general_mask": general,
    }
    tokens = {name: call().tolist() for name, call in calls.items()}
    if len({json.dumps(value) for value in tokens.values()}) != 1:
        raise RuntimeError(f"{model_name}: the three models generated different tokens")
    times = {name: [] for name in calls}
    for index in range(rounds):
        for name in list(calls) if index % 2 == 0 else list(calls)[::-1]:
            started = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "model": model_name,
        "cache": cache_implementation or "dynamic",
        "median_s": medians,
        "times_s": times,
        "speed_vs_stock": {name: medians["stock"] / medians[name] for name in calls},
        "mask_call_us": mask_call_us(ours, prompt),
        "same_tokens": True,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = [measure(name, "static", args.rounds) for name in DECODE_OVERHEAD_MODELS]
    report = {
        "what": "greedy generate(), batch 1, prompt 64, new 64, fp32, 1 thread; speed_vs_stock = stock median / median",
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
        "rows": rows,
    }
    atomic_write_text(args.output, json.dumps(report, indent=2) + "\n")
    for row in rows:
        ratios = ", ".join(f"{name} {ratio:.3f}x" for name, ratio in row["speed_vs_stock"].items())
        masks = row["mask_call_us"]
        print(
            f"{row['model']} {row['cache']} cache: {ratios}; mask per step {masks['general']:.1f} us (general) vs "
            f"{masks['direct']:.1f} us (direct), equal: {masks['equal']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
