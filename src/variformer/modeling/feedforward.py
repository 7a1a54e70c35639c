"""Position-wise feed-forward blocks: plain (act(x W_up) W_down) and gated (act(x W_gate) * x W_up) W_down.

Legend: batch, seq, hidden = `config.hidden_size`, inner = `config.intermediate_size`.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.activations import ACT2FN

from ..configuration import VariformerConfig


class VariformerMLP(nn.Module):
    """(batch, seq, hidden) -> (batch, seq, hidden). `gate_proj` exists only for gated activations."""

    def __init__(self, config: VariformerConfig):
        super().__init__()
        self.is_gated = config.is_gated_mlp
        if self.is_gated:
            self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=config.mlp_bias)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=config.mlp_bias)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias)
        self.act_fn = ACT2FN[config.mlp_activation]

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.is_gated:
            inner = self.act_fn(self.gate_proj(hidden_states)) * self.up_proj(hidden_states)  # (batch, seq, inner)
        else:
            inner = self.act_fn(self.up_proj(hidden_states))  # (batch, seq, inner)
        return self.down_proj(inner)


__all__ = ["VariformerMLP"]
