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
from pathlib import Path

import torch
from transformers.cache_utils import StaticCache
from transformers.masking_utils import create_masks_for_generate

from variformer._files import atomic_write_text
from variformer.modeling.cache_names import CACHE_KWARG, MASK_CACHE_KWARG

from .decoding import overhead_inputs, overhead_models
from .shapes import DECODE_OVERHEAD_MODELS
from .timing import measure, measure_alternating


def _general_mask(config, inputs_embeds, attention_mask, **kwargs):
    return create_masks_for_generate(
        config=config, inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs
    )


def mask_call_us(model, prompt: torch.Tensor, calls: int = 3000) -> dict:
    """Median microseconds per call of each mask function for one decoding step after `prompt` in a static cache of
    128 slots, with the arguments `generate()` passes: `attention_mask=None` for an unpadded batch (generate() drops
    an all-ones mask) and a 2-D mask for a padded one; and whether the two functions' masks are equal."""
    cache = StaticCache(config=model.config, max_cache_len=128)
    with torch.no_grad():
        model(input_ids=prompt, **{CACHE_KWARG: cache}, use_cache=True)
    padding = torch.ones(1, prompt.shape[1] + 1, dtype=torch.long)
    padding[0, 0] = 0
    cpu = torch.device("cpu")
    result = {}
    for case, attention_mask in {"unpadded": None, "padded": padding}.items():
        arguments = dict(
            config=model.config,
            inputs_embeds=torch.empty((1, 1, 0)),
            attention_mask=attention_mask,
            **{MASK_CACHE_KWARG: cache},
        )
        functions = {
            "general": lambda arguments=arguments: _general_mask(**arguments),
            "direct": lambda arguments=arguments: model.create_masks_for_generate(**arguments),
        }
        timings = {
            name: measure(function, cpu, warmup=100, repeats=calls).median_s * 1e6
            for name, function in functions.items()
        }
        result[case] = {**timings, "equal": bool(torch.equal(functions["general"](), functions["direct"]()))}
    return result


def measure_static(model_name: str, rounds: int) -> dict:
    """The three generate() calls on `model_name`, static cache, alternating; same tokens checked first."""
    cpu = torch.device("cpu")
    models = overhead_models(model_name, "sdpa", seed=0, device=cpu)
    prompt, options = overhead_inputs(model_name, 64, 64, "static", seed=0, device=cpu)
    ours = models["variformer"]

    def general() -> torch.Tensor:
        ours.create_masks_for_generate = _general_mask  # an instance attribute shadows the method
        try:
            return ours.generate(prompt, **options)
        finally:
            del ours.create_masks_for_generate

    calls = {
        "stock": lambda: models["stock"].generate(prompt, **options),
        "variformer": lambda: ours.generate(prompt, **options),
        "variformer_general_mask": general,
    }
    tokens = {name: call().tolist() for name, call in calls.items()}  # also the warm-up round
    if len({json.dumps(value) for value in tokens.values()}) != 1:
        raise RuntimeError(f"{model_name}: the three models generated different tokens")
    timings = measure_alternating(calls, cpu, warmup=0, repeats=rounds)
    medians = {name: timing.median_s for name, timing in timings.items()}
    return {
        "model": model_name,
        "cache": "static",
        "median_s": medians,
        "times_s": {name: timing.times_s for name, timing in timings.items()},
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
    rows = [measure_static(name, args.rounds) for name in DECODE_OVERHEAD_MODELS]
    report = {
        "what": "greedy generate(), batch 1, prompt 64, new 64, fp32, 1 thread; speed_vs_stock = stock median / median",
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
        "rows": rows,
    }
    atomic_write_text(args.output, json.dumps(report, indent=2) + "\n")
    for row in rows:
        ratios = ", ".join(f"{name} {ratio:.3f}x" for name, ratio in row["speed_vs_stock"].items())
        masks = "; ".join(
            f"{case} {m['general']:.1f} us (general) vs {m['direct']:.1f} us (direct), equal: {m['equal']}"
            for case, m in row["mask_call_us"].items()
        )
        print(f"{row['model']} {row['cache']} cache: {ratios}; mask per step: {masks}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
