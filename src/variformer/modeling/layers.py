"""One Transformer layer: self-attention, optional cross-attention, feed-forward, each a residual sublayer.

Legend: batch, seq = target length, src = encoder length, hidden = `config.hidden_size`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from transformers.cache_utils import Cache
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs

from ..configuration import VariformerConfig
from .attention import VariformerAttention
from .cache_names import resolve_cache
from .feedforward import VariformerMLP
from .norms import build_norm


class VariformerLayer(GradientCheckpointingLayer):
    """A layer of an encoder (bidirectional), a decoder (causal) or a decoder with cross-attention.

    Pre-LN computes x + sublayer(norm(x)); post-LN computes norm(x + sublayer(x)).
    forward(hidden_states (batch, seq, hidden), ...) -> (batch, seq, hidden).
    """

    def __init__(self, config: VariformerConfig, layer_idx: int, is_causal: bool, has_cross_attention: bool):
        super().__init__()
        self.pre_norm = config.norm_position == "pre"
        self.self_attn = VariformerAttention(config, layer_idx, is_causal=is_causal)
        self.self_attn_norm = build_norm(config)
        if has_cross_attention:
            self.cross_attn = VariformerAttention(config, layer_idx, is_causal=False, is_cross_attention=True)
            self.cross_attn_norm = build_norm(config)
        self.mlp = VariformerMLP(config)
        self.mlp_norm = build_norm(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        position_bias: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: Cache | None = None,
        past_key_values: Cache | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> torch.Tensor:
        """The stack passes the tensors that carry gradients positionally, and the cache under the installed
        transformers' name, which `GradientCheckpointingLayer` drops while checkpointing."""
        cache = resolve_cache(cache, past_key_values)
        hidden_states = self._residual(
            hidden_states,
            self.self_attn_norm,
            lambda normed: self.self_attn(
                normed,
                attention_mask=attention_mask,
                position_embeddings=position_embeddings,
                position_bias=position_bias,
                cache=cache,
                **kwargs,
            )[0],
        )
        if encoder_hidden_states is not None:
            hidden_states = self._residual(
                hidden_states,
                self.cross_attn_norm,
                lambda normed: self.cross_attn(
                    normed,
                    attention_mask=encoder_attention_mask,
                    key_value_states=encoder_hidden_states,
                    cache=cache,
                    **kwargs,
                )[0],
            )
        return self._residual(hidden_states, self.mlp_norm, self.mlp)

    def _residual(self, hidden_states: torch.Tensor, norm: nn.Module, sublayer: Callable) -> torch.Tensor:
        if self.pre_norm:
            return hidden_states + self._dropout(sublayer(norm(hidden_states)))
        return norm(hidden_states + self._dropout(sublayer(hidden_states)))

    def _dropout(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Dropout while training; in eval mode dropout is the identity, so the module call is skipped."""
        return self.dropout(hidden_states) if self.training else hidden_states


__all__ = ["VariformerLayer"]
