"""Position schemes: sinusoidal and learned absolute tables, rotary embeddings, T5 relative bias.

Legend: batch = batch size, seq = query length, kv = key length, heads = attention heads,
head_dim = per-head width, hidden = `config.hidden_size`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..configuration import VariformerConfig


def sinusoidal_table(num_positions: int, dim: int) -> torch.Tensor:
    """The 2017 table: PE[pos, 2i] = sin(pos / 10000^(2i/dim)), PE[pos, 2i+1] = cos(same). (positions, dim)."""
    position = torch.arange(num_positions, dtype=torch.float32)[:, None]  # (positions, 1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (dim/2,)
    table = torch.zeros(num_positions, dim)
    table[:, 0::2] = torch.sin(position * frequency)  # (positions, dim/2)
    table[:, 1::2] = torch.cos(position * frequency)  # (positions, dim/2)
    return table


class VariformerSinusoidalEmbedding(nn.Module):
    """Fixed sinusoidal position table (not saved in checkpoints). position_ids (batch, seq) -> (batch, seq, hidden)."""

    def __init__(self, num_positions: int, dim: int):
        super().__init__()
        self.register_buffer("table", sinusoidal_table(num_positions, dim), persistent=False)

    def forward(self, position_ids: torch.LongTensor) -> torch.Tensor:
        return self.table[position_ids]  # (batch, seq, hidden)


def rotary_inverse_frequencies(config: VariformerConfig) -> torch.Tensor:
    """RoPE frequencies theta^(-2i/head_dim), i = 0 .. head_dim/2 - 1. (head_dim/2,)."""
    dim = config.head_dim
    return 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))


class VariformerRotaryEmbedding(nn.Module):
    """RoPE (Su et al. 2021) in the half-rotation layout used by GPT-NeoX and Llama.

    forward(x, position_ids (batch, seq)) -> cos, sin, each (batch, seq, head_dim).
    """

    def __init__(self, config: VariformerConfig):
        super().__init__()
        self.register_buffer("inv_freq", rotary_inverse_frequencies(config), persistent=False)  # (head_dim/2,)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, position_ids: torch.LongTensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = position_ids[..., None].float() * self.inv_freq.to(x.device)  # (batch, seq, head_dim/2)
        emb = torch.cat((freqs, freqs), dim=-1)  # (batch, seq, head_dim)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(..., head_dim) -> (..., head_dim) with halves swapped and the first negated."""
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def apply_rotary_pos_emb(query, key, cos, sin):
    """Rotate query (batch, heads, seq, head_dim) and key (batch, kv_heads, seq, head_dim) by position."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # (batch, 1, seq, head_dim)
    return query * cos + rotate_half(query) * sin, key * cos + rotate_half(key) * sin


def relative_position_bucket(
    relative_position: torch.Tensor, bidirectional: bool, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """T5's bucketing of (key - query) distances: exact buckets for small distances, logarithmic beyond."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).long() * num_buckets
        distance = relative_position.abs()
    else:
        distance = -torch.clamp(relative_position, max=0)
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    log_ratio = torch.log(distance.float() / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + (log_ratio * (num_buckets - max_exact)).long()
    large = torch.clamp(large, max=num_buckets - 1)
    return buckets + torch.where(is_small, distance, large)


class VariformerRelativePositionBias(nn.Module):
    """T5 relative attention bias, one learned scalar per (bucket, head), shared by all layers of a stack.

    forward(query_length, key_length, past_length) -> (1, heads, seq, kv).
    """

    def __init__(self, config: VariformerConfig, bidirectional: bool):
        super().__init__()
        self.bidirectional = bidirectional
        self.num_buckets = config.relative_attention_num_buckets
        self.max_distance = config.relative_attention_max_distance
        self.relative_attention_bias = nn.Embedding(self.num_buckets, config.num_attention_heads)

    def forward(self, query_length: int, key_length: int, past_length=0) -> torch.Tensor:
        device = self.relative_attention_bias.weight.device
        query_position = torch.arange(query_length, device=device)[:, None] + past_length  # (seq, 1)
        key_position = torch.arange(key_length, device=device)[None, :]  # (1, kv)
        buckets = relative_position_bucket(
            key_position - query_position, self.bidirectional, self.num_buckets, self.max_distance
        )  # (seq, kv)
        bias = self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)  # (1, heads, seq, kv)
        return bias.contiguous()  # made contiguous once here rather than by the kernel in every layer


__all__ = [
    "VariformerSinusoidalEmbedding",
    "VariformerRotaryEmbedding",
    "VariformerRelativePositionBias",
    "apply_rotary_pos_emb",
    "relative_position_bucket",
    "rotary_inverse_frequencies",
    "sinusoidal_table",
]
