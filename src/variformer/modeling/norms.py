"""Normalization layers: LayerNorm and RMSNorm.

Legend: batch = batch size, seq = sequence length, hidden = `config.hidden_size`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..configuration import VariformerConfig


class VariformerRMSNorm(nn.Module):
    """Root-mean-square norm with a learned scale, computed in fp32 (T5, Llama). (batch, seq, hidden) -> same."""

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)  # (batch, seq, 1)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}, eps={self.variance_epsilon}"


def build_norm(config: VariformerConfig) -> nn.Module:
    """The normalization layer `config.norm_type` asks for."""
    if config.norm_type == "rmsnorm":
        return VariformerRMSNorm(config.hidden_size, eps=config.layer_norm_eps)
    return nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)


__all__ = ["VariformerRMSNorm", "build_norm"]
