"""Training throughput: forward + backward + fused AdamW step on a fixed synthetic batch.

Tokens per step: batch * seq for the decoder and the encoder, batch * (source + target) for the encoder-decoder.
Both models of a pair get the same batch (same ids, same labels, no padding, no attention mask), the same
optimizer and the same autocast.

Legend: batch, seq = sequence length, src / tgt = encoder / decoder lengths.
"""

from __future__ import annotations

import torch
from torch import nn

from variformer import VariformerConfig

from .models import build_model, count_parameters
from .report import Side
from .settings import Settings
from .timing import autocast, measure, peak_memory_bytes, release_memory, reset_peak_memory

MLM_PROBABILITY = 0.15


def make_batch(workload: str, settings: Settings, vocab_size: int) -> tuple[dict[str, torch.Tensor], int]:
    """Synthetic inputs and labels for one step, and the number of tokens the step processes."""
    shapes, device = settings.shapes, settings.device
    generator = torch.Generator().manual_seed(settings.seed)

    def ids(batch: int, length: int) -> torch.Tensor:
        return torch.randint(3, vocab_size, (batch, length), generator=generator).to(device)  # (batch, length)

    if workload == "decoder":
        input_ids = ids(shapes.decoder_batch, shapes.decoder_seq)  # (batch, seq)
        return {"input_ids": input_ids, "labels": input_ids}, input_ids.numel()
    if workload == "encoder":
        input_ids = ids(shapes.encoder_batch, shapes.encoder_seq)  # (batch, seq)
        masked = torch.rand(input_ids.shape, generator=generator).to(device) < MLM_PROBABILITY  # (batch, seq)
        return {"input_ids": input_ids, "labels": input_ids.masked_fill(~masked, -100)}, input_ids.numel()
    input_ids = ids(shapes.seq2seq_batch, shapes.source_len)  # (batch, src)
    labels = ids(shapes.seq2seq_batch, shapes.target_len)  # (batch, tgt)
    return {"input_ids": input_ids, "labels": labels}, input_ids.numel() + labels.numel()


def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """AdamW with the fused kernel (available on CUDA and, in recent torch, on CPU); foreach otherwise."""
    try:
        return torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)


def measure_training(
    side: str,
    workload: str,
    config: VariformerConfig,
    batch: dict[str, torch.Tensor],
    tokens_per_step: int,
    settings: Settings,
    compiled: bool,
    attn_implementation: str,
) -> Side:
    """Tokens/s (median of the timed steps) of one model; peak memory and the first step's time in `extra`."""
    device = settings.device
    release_memory(device)
    model = build_model(side, workload, config, attn_implementation, device, seed=settings.seed).train()
    optimizer = make_optimizer(model)
    forward = torch.compile(model) if compiled else model

    def step() -> None:
        with autocast(device, enabled=True):
            loss = forward(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    warm = measure(step, device, warmup=settings.warmup, repeats=0)
    reset_peak_memory(device)  # after warm-up: weights, gradients and optimizer state exist, as in steady state
    timing = measure(step, device, warmup=0, repeats=settings.repeats)
    label = f"{type(model).__name__} ({attn_implementation}{', compiled' if compiled else ''})"
    result = Side(
        label=label,
        parameters=count_parameters(model),
        value=tokens_per_step / timing.median_s,
        times_s=timing.times_s,
        extra={
            "first_step_s": warm.first_call_s,
            "peak_memory_bytes": peak_memory_bytes(device),
            "optimizer": "AdamW(fused)" if optimizer.defaults.get("fused") else "AdamW(foreach)",
        },
    )
    return result


def training_flops_per_token(config: VariformerConfig, parameters: int, seq_len: int) -> float:
    """Training FLOPs per token: 6 * N + 12 * layers * heads * head_dim * seq (PaLM appendix B, nanoGPT).

    N is the parameter count without the position-embedding table (a lookup, no matmul); the tied token
    embedding is counted once, as the language-model head's matmul. The attention term counts the QK^T and
    AV matmuls forward and backward over the full (non-causally-discounted) seq x seq score matrix.
    """
    position_table = (
        config.max_position_embeddings * config.hidden_size if config.position_embedding_type == "learned" else 0
    )
    dense = 6 * (parameters - position_table)
    attention = 12 * config.num_hidden_layers * config.num_attention_heads * config.head_dim * seq_len
    return float(dense + attention)


__all__ = ["make_batch", "make_optimizer", "measure_training", "training_flops_per_token"]
