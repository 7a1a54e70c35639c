"""Building the two models of a comparison: Variformer and the stock transformers model of the same shape.

Both are built from configs (random weights, no download) with the same attention implementation, seeded the
same way, and moved to the benchmark device.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import BertForMaskedLM, GPT2LMHeadModel, T5ForConditionalGeneration

from variformer import (
    VariformerConfig,
    VariformerForCausalLM,
    VariformerForConditionalGeneration,
    VariformerForMaskedLM,
)

from .shapes import stock_config

VARIFORMER_CLASSES = {
    "decoder": VariformerForCausalLM,
    "encoder": VariformerForMaskedLM,
    "encoder-decoder": VariformerForConditionalGeneration,
}
STOCK_CLASSES = {
    "decoder": GPT2LMHeadModel,
    "encoder": BertForMaskedLM,
    "encoder-decoder": T5ForConditionalGeneration,
}


def build_model(
    side: str,
    workload: str,
    config: VariformerConfig,
    attn_implementation: str,
    device: str | torch.device,
    dtype: torch.dtype | None = None,
    seed: int = 0,
) -> nn.Module:
    """The "variformer" or "stock" model of `workload`, shaped by the Variformer `config`."""
    torch.manual_seed(seed)
    if side == "variformer":
        model_class, model_config = VARIFORMER_CLASSES[workload], config
    else:
        model_class, model_config = STOCK_CLASSES[workload], stock_config(config, workload)
    model = model_class._from_config(model_config, attn_implementation=attn_implementation)
    return model.to(device=device, dtype=dtype)


def count_parameters(model: nn.Module) -> int:
    """Number of distinct parameters (tied weights counted once)."""
    return sum(parameter.numel() for parameter in model.parameters())


def parameter_counts_on_meta(workload: str, config: VariformerConfig) -> dict[str, int]:
    """Parameter counts of both models, built on the meta device (no memory, no time, any size)."""
    with torch.device("meta"):
        counts = {
            side: count_parameters(build_model(side, workload, config, "sdpa", "meta"))
            for side in ("variformer", "stock")
        }
    return counts


__all__ = ["VARIFORMER_CLASSES", "STOCK_CLASSES", "build_model", "count_parameters", "parameter_counts_on_meta"]
