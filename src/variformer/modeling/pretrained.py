"""`VariformerPreTrainedModel`: weight initialization, support flags and weight tying for the family."""

from __future__ import annotations

import re

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils.output_capturing import OutputRecorder

from ..configuration import VariformerConfig
from .attention import VariformerAttention
from .layers import VariformerLayer
from .norms import VariformerRMSNorm
from .positions import (
    VariformerRotaryEmbedding,
    VariformerSinusoidalEmbedding,
    rotary_inverse_frequencies,
    sinusoidal_table,
)


class VariformerPreTrainedModel(PreTrainedModel):
    config: VariformerConfig
    config_class = VariformerConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["VariformerLayer"]
    _skip_keys_device_placement = ["cache", "past_key_values"]  # the KV cache under either name (cache_names)
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _can_compile_fullgraph = True
    _can_record_outputs = {
        "hidden_states": VariformerLayer,
        "attentions": OutputRecorder(VariformerAttention, index=1, layer_name="self_attn"),
        "cross_attentions": OutputRecorder(VariformerAttention, index=1, layer_name="cross_attn"),
    }

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, VariformerRMSNorm):
            init.ones_(module.weight)
        elif isinstance(module, VariformerSinusoidalEmbedding):
            init.copy_(module.table, sinusoidal_table(*module.table.shape))
        elif isinstance(module, VariformerRotaryEmbedding):
            init.copy_(module.inv_freq, rotary_inverse_frequencies(self.config))

    def init_parallel_plans(self) -> None:
        """transformers' tensor/pipeline plans, less the rules that name nothing in this model.

        The config's plans are written for one stack; the encoder-decoder model (whose layers sit under `encoder.`
        and `decoder.`) and its encoder stack (no cross-attention) would otherwise carry rules that match nothing.
        """
        super().init_parallel_plans()
        # plans name layers by "*" instead of their number ("layers.*.mlp"), as transformers matches them
        named = [*self.named_modules(remove_duplicate=False), *self.named_parameters(remove_duplicate=False)]
        names = {re.sub(r"\.\d+(?=\.|$)", ".*", name) for name, _ in named}
        self._tp_plan = {rule: style for rule, style in self._tp_plan.items() if rule in names}
        self._pp_plan = {rule: io for rule, io in self._pp_plan.items() if rule in names}

    def _shift_right(self, input_ids: torch.LongTensor) -> torch.LongTensor:
        """Decoder inputs for teacher forcing: labels shifted one step right behind `decoder_start_token_id`."""
        start, pad = self.config.decoder_start_token_id, self.config.pad_token_id
        if start is None:
            # a config may leave it unset (transformers builds configs from defaults); teacher forcing cannot
            raise ValueError(
                "VariformerConfig.decoder_start_token_id=None: the encoder-decoder decoder needs a first input "
                "token to shift the labels behind; set decoder_start_token_id (or pad_token_id / bos_token_id, "
                "from which it defaults)."
            )
        shifted = input_ids.new_zeros(input_ids.shape)  # (batch, seq)
        shifted[..., 1:] = input_ids[..., :-1].clone()
        shifted[..., 0] = start
        return shifted.masked_fill_(shifted == -100, pad if pad is not None else start)


__all__ = ["VariformerPreTrainedModel"]
