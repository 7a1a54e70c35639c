"""`VariformerModel`: the bare Transformer of any variant (no task head).

`VariformerModel(config)` builds one of two classes: for the encoder and decoder variants a `VariformerStackModel`,
which *is* a single stack (`embed_tokens`, `layers`, `norm` are its direct children, as engines expect); for the
encoder-decoder variant a `VariformerEncoderDecoderModel`, which holds `encoder` and `decoder` stacks that share one
token-embedding module.

Legend: batch, src = encoder length, tgt = decoder length, hidden = `config.hidden_size`.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.cache_utils import Cache
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqModelOutput
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs, can_return_tuple

from ..configuration import VariformerConfig
from .cache_names import cache_field, output_cache, resolve_cache
from .pretrained import VariformerPreTrainedModel
from .stacks import VariformerSeq2SeqDecoderStack, VariformerStack


class VariformerModel(VariformerPreTrainedModel):
    """Bare Variformer of any variant. `VariformerModel(config)` builds the class for `config.architecture`, as
    `pathlib.Path()` builds a `PosixPath`: a `VariformerStackModel` (one stack) for the encoder and decoder
    variants, a `VariformerEncoderDecoderModel` (two stacks) for the encoder-decoder; both are `VariformerModel`s,
    so one class serves `AutoModel` for every variant."""

    def __new__(cls, config: VariformerConfig | None = None, *args, **kwargs):
        if cls is VariformerModel and config is not None:
            cls = VariformerEncoderDecoderModel if config.is_encoder_decoder else VariformerStackModel
        return super().__new__(cls)


class VariformerStackModel(VariformerModel, VariformerStack):
    """Bare encoder or decoder: the model is its one stack (`embed_tokens`, `layers`, `norm` are direct children, as
    engines and checkpoints expect); forward as `VariformerStack`."""

    def __init__(self, config: VariformerConfig):
        _require_variant(config, type(self).__name__, encoder_decoder=False)
        super().__init__(config, is_causal=config.architecture == "decoder")


class VariformerEncoderDecoderModel(VariformerModel):
    """Bare encoder-decoder: `encoder` and `decoder` stacks that share one token-embedding module, as in T5 and BART.

    forward(input_ids (batch, src), decoder_input_ids (batch, tgt), ...) -> Seq2SeqModelOutput, last_hidden_state
    (batch, tgt, hidden).
    """

    # the decoder holds the encoder's embedding module (shared whatever `tie_word_embeddings` says); the declaration
    # lets transformers save one copy and tie the parameter on load
    _tied_weights_keys = {"decoder.embed_tokens.weight": "encoder.embed_tokens.weight"}

    def __init__(self, config: VariformerConfig):
        _require_variant(config, type(self).__name__, encoder_decoder=True)
        super().__init__(config)
        self.encoder = VariformerStack(config, is_causal=False)
        self.decoder = VariformerSeq2SeqDecoderStack(config, embed_tokens=self.encoder.embed_tokens)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.encoder.embed_tokens = value
        self.decoder.embed_tokens = value

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        position_ids: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        past_key_values: Cache | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ):
        cache = resolve_cache(cache, past_key_values)
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            raise ValueError(
                "The encoder-decoder model (VariformerConfig.architecture='encoder-decoder') needs decoder inputs: "
                "pass `decoder_input_ids` (or `decoder_inputs_embeds`), or `labels` to a "
                "VariformerForConditionalGeneration, which shifts them right into `decoder_input_ids`."
            )
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                inputs_embeds=inputs_embeds,
                return_dict=True,
                **kwargs,
            )
        elif isinstance(encoder_outputs, tuple):
            encoder_outputs = BaseModelOutput(*encoder_outputs)
        decoder_outputs = self.decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_attention_mask,
            position_ids=position_ids,
            inputs_embeds=decoder_inputs_embeds,
            encoder_hidden_states=encoder_outputs.last_hidden_state,  # (batch, src, hidden)
            encoder_attention_mask=attention_mask,
            cache=cache,
            use_cache=use_cache,
            return_dict=True,
            **kwargs,
        )
        return Seq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            **cache_field(output_cache(decoder_outputs)),
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )


def _require_variant(config: VariformerConfig, name: str, encoder_decoder: bool) -> None:
    if config.is_encoder_decoder != encoder_decoder:
        wanted = "'encoder-decoder'" if encoder_decoder else "'encoder' or 'decoder'"
        raise ValueError(
            f"{name} builds architecture={wanted}, but the config has architecture={config.architecture!r}; "
            "build VariformerModel(config), which picks the class for the config's architecture."
        )


__all__ = ["VariformerModel", "VariformerStackModel", "VariformerEncoderDecoderModel"]
