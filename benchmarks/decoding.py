"""Greedy decoding throughput with `generate()`: new tokens per second.

Two comparisons. `measure_decoding`: the Variformer preset against the stock GPT-2 of the same shape, each with its
own random weights. `measure_decoding_overhead` (issue 18): a stock GPT-2 with random weights against the
Variformer model converted from it (`variformer.convert.from_transformers`), which must produce the same tokens,
at batch 1 in fp32, where a step's cost is mostly per-step work outside the matmuls; the two models' calls
alternate so that load on a shared machine falls on both alike.

Every call generates exactly `new_tokens` tokens per sequence (`min_new_tokens` = `max_new_tokens`, so random
weights cannot stop early on an end-of-sequence token) after a random prompt of `prompt_len` tokens. The
cache is the model's default (transformers' dynamic cache, unless the model's generation config names
another) or `cache_implementation="static"`; on CUDA, `generate()` compiles
the forward pass itself for the static cache (both models), and the warm-up calls absorb that compilation.

Legend: batch, prompt = prompt length.
"""

from __future__ import annotations

import statistics

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from variformer import VariformerConfig
from variformer.convert import from_transformers

from .models import build_model, count_parameters
from .report import Side
from .settings import Settings
from .shapes import DECODE_OVERHEAD_MODELS
from .timing import measure, measure_alternating, release_memory


def measure_decoding(
    side: str, config: VariformerConfig, batch_size: int, cache_implementation: str | None, settings: Settings
) -> Side:
    """New tokens/s (batch * new_tokens / median seconds per `generate()` call) of one model."""
    device, shapes = settings.device, settings.shapes
    release_memory(device)
    model = build_model(
        side,
        "decoder",
        config,
        settings.attn_implementation,
        device,
        dtype=settings.inference_dtype,
        seed=settings.seed,
    ).eval()
    generator = torch.Generator().manual_seed(settings.seed)
    prompt = torch.randint(3, config.vocab_size, (batch_size, shapes.prompt_len), generator=generator).to(device)
    # prompt: (batch, prompt)
    options = dict(
        max_new_tokens=shapes.new_tokens,
        min_new_tokens=shapes.new_tokens,
        do_sample=False,
        pad_token_id=config.eos_token_id,
    )
    if cache_implementation is not None:
        options["cache_implementation"] = cache_implementation

    def step() -> None:
        output = model.generate(prompt, attention_mask=torch.ones_like(prompt), **options)
        if output.shape[1] != shapes.prompt_len + shapes.new_tokens:
            raise RuntimeError(
                f"generate() returned {output.shape[1] - shapes.prompt_len} new tokens, expected {shapes.new_tokens}"
            )

    timing = measure(step, device, warmup=settings.call_warmup, repeats=settings.call_repeats)
    result = Side(
        label=f"{type(model).__name__} ({cache_implementation or 'default'} cache)",
        parameters=count_parameters(model),
        value=batch_size * shapes.new_tokens / timing.median_s,
        times_s=timing.times_s,
        extra={"first_call_s": timing.first_call_s},
    )
    return result


def overhead_models(model_name: str, attn_implementation: str, seed: int, device: torch.device) -> dict:
    """{"stock": a GPT2LMHeadModel of `DECODE_OVERHEAD_MODELS[model_name]` with random weights, "variformer": its
    conversion}, both in eval mode."""
    vocab_size = DECODE_OVERHEAD_MODELS[model_name]["vocab_size"]
    config = GPT2Config(
        **DECODE_OVERHEAD_MODELS[model_name], n_positions=1024, bos_token_id=vocab_size - 1, eos_token_id=vocab_size - 1
    )
    torch.manual_seed(seed)
    stock = GPT2LMHeadModel._from_config(config, attn_implementation=attn_implementation).to(device).eval()
    return {"stock": stock, "variformer": from_transformers(stock).eval()}


def overhead_inputs(
    model_name: str, prompt_len: int, new_tokens: int, cache_implementation: str | None, seed: int, device
) -> tuple[torch.Tensor, dict]:
    """A random prompt (1, prompt) and the greedy `generate()` options that make exactly `new_tokens` tokens."""
    vocab_size = DECODE_OVERHEAD_MODELS[model_name]["vocab_size"]
    generator = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, vocab_size - 1, (1, prompt_len), generator=generator).to(device)
    options = dict(
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        pad_token_id=vocab_size - 1,
    )
    if cache_implementation is not None:
        options["cache_implementation"] = cache_implementation
    return prompt, options


def measure_decoding_overhead(model_name: str, cache_implementation: str | None, settings: Settings) -> dict[str, Side]:
    """New tokens/s of a stock GPT-2 ("stock") and of its conversion ("variformer"), batch 1, fp32.

    Raises RuntimeError if the two do not generate the same tokens (the comparison would be meaningless).
    """
    device, levers = settings.device, settings.levers
    release_memory(device)
    models = overhead_models(model_name, settings.attn_implementation, settings.seed, device)
    prompt, options = overhead_inputs(
        model_name, levers.decode_prompt, levers.decode_new, cache_implementation, settings.seed, device
    )
    outputs = {name: model.generate(prompt, **options) for name, model in models.items()}
    if outputs["variformer"].tolist() != outputs["stock"].tolist():
        raise RuntimeError(f"{model_name}: the converted model generated other tokens than GPT2LMHeadModel")
    steps = {name: (lambda model=model: model.generate(prompt, **options)) for name, model in models.items()}
    timings = measure_alternating(steps, device, warmup=settings.call_warmup, repeats=settings.call_repeats)
    return {
        name: Side(
            label=f"{type(models[name]).__name__} ({cache_implementation or 'default'} cache)",
            parameters=count_parameters(models[name]),
            value=levers.decode_new / timing.median_s,
            times_s=timing.times_s,
            extra={
                "cpu_times_s": timing.cpu_times_s,
                "same_tokens": True,
                "cpu_new_tokens_per_s": levers.decode_new / statistics.median(timing.cpu_times_s),
            },
        )
        for name, timing in timings.items()
    }


__all__ = ["measure_decoding", "measure_decoding_overhead", "overhead_inputs", "overhead_models"]
