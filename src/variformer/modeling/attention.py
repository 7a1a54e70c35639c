"""Multi-head / grouped-query attention, self and cross, through transformers' attention interface.

The projections live in `VariformerAttention`; the kernel is looked up in `ALL_ATTENTION_FUNCTIONS` by
`config._attn_implementation` ("eager", "sdpa", "flash_attention_2", "flex_attention", or any registered
backend), with `eager_attention_forward` as the reference.

Legend: batch, seq = query length, kv = key length, heads = query heads, kv_heads = key/value heads,
head_dim = per-head width, hidden = `config.hidden_size`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from transformers.cache_utils import Cache, EncoderDecoderCache
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs

from ..configuration import VariformerConfig
from .positions import apply_rotary_pos_emb


def repeat_kv(hidden_states: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(batch, kv_heads, kv, head_dim) -> (batch, kv_heads * n_rep, kv, head_dim)."""
    if n_rep == 1:
        return hidden_states
    batch, kv_heads, length, head_dim = hidden_states.shape
    hidden_states = hidden_states[:, :, None].expand(batch, kv_heads, n_rep, length, head_dim)
    return hidden_states.reshape(batch, kv_heads * n_rep, length, head_dim)  # (batch, heads, kv, head_dim)


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    position_bias: torch.Tensor | None = None,
    **kwargs: Unpack[TransformersKwargs],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference kernel. Returns (batch, seq, heads, head_dim) outputs and (batch, heads, seq, kv) weights."""
    key = repeat_kv(key, module.num_key_value_groups)  # (batch, heads, kv, head_dim)
    value = repeat_kv(value, module.num_key_value_groups)  # (batch, heads, kv, head_dim)
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling  # (batch, heads, seq, kv)
    if position_bias is not None:
        scores = scores + position_bias
    if attention_mask is not None:
        scores = scores + attention_mask
    weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()  # (batch, seq, heads, head_dim)
    return output, weights


class VariformerAttention(nn.Module):
    """Self-attention (causal or bidirectional) or cross-attention over encoder states.

    forward(hidden_states (batch, seq, hidden), ...) -> (output (batch, seq, hidden), weights or None).
    """

    def __init__(self, config: VariformerConfig, layer_idx: int, is_causal: bool, is_cross_attention: bool = False):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.is_causal = is_causal
        self.is_cross_attention = is_cross_attention
        self.head_dim = config.head_dim
        self.num_key_value_groups = config.num_key_value_groups
        self.scaling = config.attention_scale if config.attention_scale is not None else self.head_dim**-0.5
        self.attention_dropout = config.attention_dropout
        q_width = config.num_attention_heads * self.head_dim
        kv_width = config.num_key_value_heads * self.head_dim
        self.q_proj = nn.Linear(config.hidden_size, q_width, bias=config.attention_bias)
        self.k_proj = nn.Linear(config.hidden_size, kv_width, bias=config.attention_bias)
        self.v_proj = nn.Linear(config.hidden_size, kv_width, bias=config.attention_bias)
        self.o_proj = nn.Linear(q_width, config.hidden_size, bias=config.attention_bias)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        position_bias: torch.Tensor | None = None,
        key_value_states: torch.Tensor | None = None,
        cache: Cache | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        input_shape = hidden_states.shape[:-1]
        query_states = self.q_proj(hidden_states).view(*input_shape, -1, self.head_dim).transpose(1, 2)
        # query_states: (batch, heads, seq, head_dim)
        if self.is_cross_attention:
            key_states, value_states = self._cross_key_value(key_value_states, cache)
        else:
            key_states = self._split_heads(self.k_proj(hidden_states))  # (batch, kv_heads, seq, head_dim)
            value_states = self._split_heads(self.v_proj(hidden_states))  # (batch, kv_heads, seq, head_dim)
            if position_embeddings is not None:
                cos, sin = position_embeddings
                query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)
            self_cache = _self_attention_cache(cache)
            if self_cache is not None:
                key_states, value_states = self_cache.update(key_states, value_states, self.layer_idx)
                # (batch, kv_heads, kv, head_dim)

        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        if position_bias is not None:
            kwargs["position_bias"] = position_bias
        attn_output, attn_weights = attention_interface(
            self,
            query_states,
            key_states,
            value_states,
            attention_mask,
            dropout=self.attention_dropout if self.training else 0.0,
            scaling=self.scaling,
            **kwargs,
        )
        attn_output = attn_output.reshape(*input_shape, -1).contiguous()  # (batch, seq, heads * head_dim)
        return self.o_proj(attn_output), attn_weights

    def _split_heads(self, projected: torch.Tensor) -> torch.Tensor:
        """(batch, length, kv_heads * head_dim) -> (batch, kv_heads, length, head_dim)."""
        return projected.view(*projected.shape[:-1], -1, self.head_dim).transpose(1, 2)

    def _cross_key_value(self, encoder_states: torch.Tensor, cache: Cache | None):
        """Keys/values over the encoder states; computed once per generation and then read from the cache."""
        if isinstance(cache, EncoderDecoderCache) and cache.is_updated.get(self.layer_idx):
            layer = cache.cross_attention_cache.layers[self.layer_idx]
            return layer.keys, layer.values  # (batch, kv_heads, src, head_dim)
        key_states = self._split_heads(self.k_proj(encoder_states))  # (batch, kv_heads, src, head_dim)
        value_states = self._split_heads(self.v_proj(encoder_states))  # (batch, kv_heads, src, head_dim)
        if isinstance(cache, EncoderDecoderCache):
            key_states, value_states = cache.cross_attention_cache.update(key_states, value_states, self.layer_idx)
            cache.is_updated[self.layer_idx] = True
        return key_states, value_states


def _self_attention_cache(cache: Cache | None) -> Cache | None:
    if isinstance(cache, EncoderDecoderCache):
        return cache.self_attention_cache
    return cache


__all__ = ["VariformerAttention", "eager_attention_forward", "repeat_kv"]
