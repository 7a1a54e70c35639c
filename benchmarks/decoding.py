"""Greedy decoding throughput with `generate()`: new tokens per second.

Every call generates exactly `new_tokens` tokens per sequence (`min_new_tokens` = `max_new_tokens`, so random
weights cannot stop early on an end-of-sequence token) after a random prompt of `prompt_len` tokens. The
cache is the model's default (transformers' dynamic cache, unless the model's generation config names
another) or `cache_implementation="static"`; on CUDA, `generate()` compiles
the forward pass itself for the static cache (both models), and the warm-up calls absorb that compilation.

Legend: batch, prompt = prompt length.
"""

from __future__ import annotations

import torch

from variformer import VariformerConfig

from .models import build_model, count_parameters
from .report import Side
from .settings import Settings
from .timing import measure, release_memory


def measure_decoding(side: str, config: VariformerConfig, batch_size: int, cache_implementation: str | None,
                     settings: Settings) -> Side:
    """New tokens/s (batch * new_tokens / median seconds per `generate()` call) of one model."""
    device, shapes = settings.device, settings.shapes
    release_memory(device)
    model = build_model(side, "decoder", config, settings.attn_implementation, device,
                        dtype=settings.inference_dtype, seed=settings.seed).eval()
    generator = torch.Generator().manual_seed(settings.seed)
    prompt = torch.randint(3, config.vocab_size, (batch_size, shapes.prompt_len), generator=generator).to(device)
    # prompt: (batch, prompt)
    options = dict(max_new_tokens=shapes.new_tokens, min_new_tokens=shapes.new_tokens, do_sample=False,
                   pad_token_id=config.eos_token_id)
    if cache_implementation is not None:
        options["cache_implementation"] = cache_implementation

    def step() -> None:
        output = model.generate(prompt, attention_mask=torch.ones_like(prompt), **options)
        if output.shape[1] != shapes.prompt_len + shapes.new_tokens:
            raise RuntimeError(f"generate() returned {output.shape[1] - shapes.prompt_len} new tokens, "
                               f"expected {shapes.new_tokens}")

    timing = measure(step, device, warmup=settings.call_warmup, repeats=settings.call_repeats)
    result = Side(
        label=f"{type(model).__name__} ({cache_implementation or 'default'} cache)",
        parameters=count_parameters(model),
        value=batch_size * shapes.new_tokens / timing.median_s,
        times_s=timing.times_s,
        extra={"first_call_s": timing.first_call_s},
    )
    return result


__all__ = ["measure_decoding"]
