"""`VariformerStack`: embeddings, one `nn.ModuleList` of layers and a final norm; an encoder or a decoder.

Legend: batch, seq = input length, past = cached length, kv = key length, src = encoder length,
hidden = `config.hidden_size`, heads = attention heads.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.masking_utils import create_bidirectional_mask, create_causal_mask
from transformers.modeling_outputs import BaseModelOutputWithPastAndCrossAttentions
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs
from transformers.utils.generic import merge_with_config_defaults
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from ..configuration import VariformerConfig
from .cache_names import CACHE_KWARG, MASK_CACHE_KWARG, cache_field, resolve_cache
from .layers import VariformerLayer
from .norms import build_norm
from .positions import VariformerRelativePositionBias, VariformerRotaryEmbedding, VariformerSinusoidalEmbedding
from .pretrained import VariformerPreTrainedModel


class VariformerStack(VariformerPreTrainedModel):
    """An encoder stack (bidirectional) or a decoder stack (causal, with cross-attention when `cross_attention`).

    forward(input_ids (batch, seq), ...) -> BaseModelOutputWithPastAndCrossAttentions, last_hidden_state
    (batch, seq, hidden).
    """

    def __init__(
        self,
        config: VariformerConfig,
        is_causal: bool,
        cross_attention: bool = False,
        embed_tokens: nn.Embedding | None = None,
    ):
        """`embed_tokens`: a token embedding to share (the encoder-decoder's decoder takes the encoder's)."""
        super().__init__(config)
        self.is_causal = is_causal
        num_layers = config.decoder_layers if cross_attention else config.num_hidden_layers
        if embed_tokens is None:
            embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.embed_tokens = embed_tokens
        self.embed_scale = math.sqrt(config.hidden_size) if config.scale_embeddings else 1.0
        self.embed_positions = _absolute_positions(config)
        self.embed_token_types = (
            nn.Embedding(config.type_vocab_size, config.hidden_size) if config.type_vocab_size else None
        )
        self.embed_norm = build_norm(config) if config.embedding_norm else None
        self.rotary_emb = VariformerRotaryEmbedding(config) if config.position_embedding_type == "rotary" else None
        self.relative_bias = (
            VariformerRelativePositionBias(config, bidirectional=not self.is_causal)
            if config.position_embedding_type == "relative_bias"
            else None
        )
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layers = nn.ModuleList(
            [
                VariformerLayer(config, i, is_causal=self.is_causal, has_cross_attention=cross_attention)
                for i in range(num_layers)
            ]
        )
        self.norm = build_norm(config) if config.norm_position == "pre" else nn.Identity()
        self.gradient_checkpointing = False  # set by `gradient_checkpointing_enable()`
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    @merge_with_config_defaults
    @capture_outputs
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        use_cache: bool | None = None,
        past_key_values: Cache | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> BaseModelOutputWithPastAndCrossAttentions:
        """`cache` and `past_key_values` are one argument under two names (see `cache_names`)."""
        if seq2seq_inputs := sorted(_SEQ2SEQ_INPUTS & kwargs.keys()):
            raise ValueError(
                f"{', '.join(seq2seq_inputs)} only apply to architecture='encoder-decoder', but this model is "
                f"architecture={self.config.architecture!r}; pass input_ids only."
            )
        cache = self._prepare_cache(resolve_cache(cache, past_key_values), use_cache, encoder_hidden_states is not None)
        self_cache = cache.self_attention_cache if isinstance(cache, EncoderDecoderCache) else cache
        past_length = self_cache.get_seq_length() if self_cache is not None else 0
        self._check_inputs(input_ids, inputs_embeds, token_type_ids, attention_mask, past_length)
        if inputs_embeds is None:
            inputs_embeds = embed_ids(self.embed_tokens, input_ids, self.config, "input_ids", "vocab_size")
            # inputs_embeds: (batch, seq, hidden)
        seq_length = inputs_embeds.shape[1]
        if position_ids is None:
            position_ids = (torch.arange(seq_length, device=inputs_embeds.device) + past_length).unsqueeze(0)
            # position_ids: (1, seq)
        hidden_states = self._embed(inputs_embeds, position_ids, token_type_ids)

        attention_mask = self._self_attention_mask(attention_mask, inputs_embeds, position_ids, self_cache)
        if encoder_hidden_states is not None:
            encoder_attention_mask = create_bidirectional_mask(
                config=self.config,
                inputs_embeds=inputs_embeds,
                attention_mask=encoder_attention_mask,
                encoder_hidden_states=encoder_hidden_states,
            )
        position_embeddings = self.rotary_emb(hidden_states, position_ids) if self.rotary_emb is not None else None
        position_bias = self._relative_bias(inputs_embeds.shape[0], seq_length, past_length, self_cache)

        for layer in self.layers:
            # tensors that carry gradients go positionally: reentrant checkpointing replays only positional inputs
            hidden_states = layer(
                hidden_states,
                attention_mask,
                encoder_hidden_states,
                encoder_attention_mask,
                position_bias,
                position_embeddings=position_embeddings,
                **{CACHE_KWARG: cache},
                **kwargs,
            )
        return BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=self.norm(hidden_states),
            **cache_field(cache if use_cache else None),
        )

    def _prepare_cache(self, cache: Cache | None, use_cache: bool | None, cross: bool) -> Cache | None:
        if not self.is_causal:
            return None  # encoders keep no cache
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            return None  # the backward replay would write (self) or read (cross) the cache a second time
        if use_cache and cache is None:
            if cross:
                return EncoderDecoderCache(DynamicCache(config=self.config), DynamicCache(config=self.config))
            return DynamicCache(config=self.config)
        return cache

    def _self_attention_mask(
        self,
        attention_mask: torch.Tensor | None,
        inputs_embeds: torch.Tensor,
        position_ids: torch.LongTensor,
        self_cache: Cache | None,
    ):
        """The self-attention mask in the form the attention backend takes (transformers' mask functions), with three
        shortcuts that give the same attention without the per-step cost of transformers' general mask function:

        - a 4-D mask is used as given (`generate()` prepares one for a static cache; transformers returns it as is);
        - a one-token decoding step through a growing cache, with no padding, sees every cached key: no mask (what
          transformers' sdpa path also returns, after slicing and converting the padding mask);
        - any other one-token step (padding, a static cache) gets `decode_step_mask`'s direct mask.
        """
        if isinstance(attention_mask, torch.Tensor) and attention_mask.dim() == 4:
            return attention_mask
        mask_kwargs = dict(config=self.config, inputs_embeds=inputs_embeds, attention_mask=attention_mask)
        if not self.is_causal:
            return create_bidirectional_mask(**mask_kwargs)
        if self._sees_every_key(attention_mask, inputs_embeds.shape[1], self_cache):
            return None
        if (step_mask := decode_step_mask(self.config, inputs_embeds, attention_mask, self_cache)) is not None:
            return step_mask
        return create_causal_mask(**mask_kwargs, position_ids=position_ids, **{MASK_CACHE_KWARG: self_cache})

    def _sees_every_key(self, attention_mask: torch.Tensor | None, seq_length: int, self_cache: Cache | None) -> bool:
        """Whether this is a one-token step that attends to every key: a cache that grows with the input (a static
        cache also holds unfilled slots), an eager/sdpa kernel, no padding. Reads the 2-D mask's values, as
        transformers' sdpa mask does; not while tracing (the graph keeps transformers' mask)."""
        if seq_length != 1 or getattr(self_cache, "is_compileable", False):
            return False
        if self.config._attn_implementation not in ("sdpa", "eager"):
            return False
        if attention_mask is None:
            return True
        if torch.compiler.is_compiling() or torch.jit.is_tracing():
            return False
        return attention_mask.dim() == 2 and bool(attention_mask.all())

    def _check_inputs(
        self,
        input_ids: torch.LongTensor | None,
        inputs_embeds: torch.Tensor | None,
        token_type_ids: torch.LongTensor | None,
        attention_mask: torch.Tensor | None,
        past_length: int,
    ) -> None:
        """Clear errors for inputs that would otherwise fail deep inside an embedding or a mask.

        Shape and length comparisons only (O(1) per step). Token ids out of range are reported by `embed_ids` when
        the lookup fails on the CPU; on an accelerator, where a failed lookup is a device-side assert, a multi-token
        input (a prompt) is checked here in eager mode, never the one-token steps of decoding, so a decoding step
        gets no host-device sync and a compiled one no graph break.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError(
                f"{type(self).__name__}.forward needs exactly one of `input_ids` or `inputs_embeds`, got "
                f"{'both' if input_ids is not None else 'neither'}; pass token ids as `input_ids` or vectors as "
                "`inputs_embeds`."
            )
        inputs = input_ids if input_ids is not None else inputs_embeds
        batch_size, seq_length = inputs.shape[:2]
        if input_ids is not None and _prechecks_values(input_ids):
            check_token_ids(input_ids, self.config.vocab_size, "input_ids", "vocab_size")
        if token_type_ids is not None and self.embed_token_types is None:
            raise ValueError(
                "`token_type_ids` were passed, but this model has no token-type embeddings "
                "(VariformerConfig.type_vocab_size=0); drop `token_type_ids` or build the config with "
                "type_vocab_size > 0."
            )
        if token_type_ids is not None and _prechecks_values(token_type_ids):
            check_token_ids(token_type_ids, self.config.type_vocab_size, "token_type_ids", "type_vocab_size")
        if not isinstance(past_length, int):
            # a static cache counts its length in a tensor: reading it would sync the device (and break a compiled
            # graph), so only the new tokens are checked here; the cache's own size bounds the rest
            past_length = 0 if torch.compiler.is_compiling() or past_length.device.type != "cpu" else int(past_length)
        if self.embed_positions is not None and past_length + seq_length > self.config.max_position_embeddings:
            raise ValueError(
                f"The input reaches position {past_length + seq_length} ({past_length} cached + {seq_length} new "
                f"tokens), but VariformerConfig.max_position_embeddings={self.config.max_position_embeddings} with "
                f"position_embedding_type={self.config.position_embedding_type!r}; truncate the input to "
                f"{self.config.max_position_embeddings} tokens or use a model with more positions "
                "('rotary' and 'relative_bias' have no fixed limit)."
            )
        if attention_mask is not None and attention_mask.dim() == 2:
            expected = (batch_size, past_length + seq_length)
            if tuple(attention_mask.shape) != expected and not (past_length == 0 and torch.compiler.is_compiling()):
                raise ValueError(
                    f"`attention_mask` has shape {tuple(attention_mask.shape)}, but the input needs {expected} "
                    f"(batch, cached + new tokens: {past_length} + {seq_length}); pass the tokenizer's mask for "
                    "the same batch, covering the cached tokens too."
                )

    def _embed(
        self, inputs_embeds: torch.Tensor, position_ids: torch.LongTensor, token_type_ids: torch.LongTensor | None
    ) -> torch.Tensor:
        """Token embeddings (scaled), plus token types and absolute positions, normalized and dropped out.

        Summed in BERT's order (tokens + types + positions): float addition is not associative, and imported BERT
        weights then reproduce BERT exactly, padding positions included.
        """
        hidden_states = inputs_embeds if self.embed_scale == 1.0 else inputs_embeds * self.embed_scale
        if self.embed_token_types is not None:
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(position_ids)
            token_types = embed_ids(
                self.embed_token_types, token_type_ids, self.config, "token_type_ids", "type_vocab_size"
            )
            hidden_states = hidden_states + token_types  # (batch, seq, hidden)
        if self.embed_positions is not None:
            hidden_states = hidden_states + self.embed_positions(position_ids)  # (batch, seq, hidden)
        if self.embed_norm is not None:
            hidden_states = self.embed_norm(hidden_states)
        return self.dropout(hidden_states) if self.training else hidden_states

    def _relative_bias(
        self, batch_size: int, seq_length: int, past_length, self_cache: Cache | None
    ) -> torch.Tensor | None:
        """T5 bias (batch, heads, seq, kv) for every layer of this stack, or None for other position schemes.

        Expanded (a view) to the batch: flex attention indexes the bias by batch element.
        """
        if self.relative_bias is None:
            return None
        if self.config._attn_implementation.startswith("flash"):
            raise ValueError(
                "position_embedding_type='relative_bias' adds a bias to the attention logits, which "
                f"attn_implementation={self.config._attn_implementation!r} cannot take; use 'sdpa' or 'eager'."
            )
        # the key length the attention sees: the whole static buffer, or the cached plus the new tokens
        key_length = self_cache.get_mask_sizes(seq_length, 0)[0] if self_cache is not None else seq_length
        bias = self.relative_bias(seq_length, key_length, past_length)  # (1, heads, seq, kv)
        return bias.expand(batch_size, -1, -1, -1)  # (batch, heads, seq, kv)


class VariformerSeq2SeqDecoderStack(VariformerStack):
    """The decoder of the encoder-decoder model: `config.decoder_layers` causal layers with cross-attention.

    A class of its own because transformers keys recorded-output specs by class, and this stack's hidden states
    are counted by `decoder_layers` (negative `output_hidden_states` indices), not `num_hidden_layers`.
    """

    _can_record_outputs = {
        **VariformerStack._can_record_outputs,
        "hidden_states": OutputRecorder(VariformerLayer, num_hidden_layers_key="decoder_layers"),
    }

    def __init__(self, config: VariformerConfig, embed_tokens: nn.Embedding | None = None):
        super().__init__(config, is_causal=True, cross_attention=True, embed_tokens=embed_tokens)


_SEQ2SEQ_INPUTS = {"decoder_input_ids", "decoder_attention_mask", "decoder_inputs_embeds", "encoder_outputs"}


def decode_step_mask(
    config: VariformerConfig, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor | None, cache: Cache | None
) -> torch.Tensor | None:
    """The 4-D self-attention mask of a one-token decoding step through a cache (static, or dynamic with padding),
    built in a few tensor ops; None where transformers' general mask function is needed (a prompt, a 4-D mask, a
    sliding window, other kernels, tracing).

    The query is the newest token, at the cache's query offset (`cache.get_query_offset()`, the number of cached
    tokens). It sees every filled slot up to itself and none of the unfilled ones; a 2-D `attention_mask` of (batch,
    seen) (padding) also hides the slots it zeroes. `generate()` drops an all-ones mask before decoding, so an
    unpadded batch arrives here with `attention_mask=None`. The result is the mask transformers' `sdpa_mask`
    (boolean, True = attend) or `eager_mask` (additive, 0 or the dtype's minimum) builds through its mask functions,
    which cost as much as a small model's layers per step.
    """
    implementation = config._attn_implementation
    if implementation not in ("sdpa", "eager") or cache is None or inputs_embeds.shape[1] != 1:
        return None
    if attention_mask is not None and (not isinstance(attention_mask, torch.Tensor) or attention_mask.dim() != 2):
        return None
    if torch.compiler.is_compiling():
        return None
    kv_length, kv_offset = cache.get_mask_sizes(1, 0)
    if kv_offset != 0:
        return None  # a sliding window: not a plain prefix of the cache
    batch_size, device = inputs_embeds.shape[0], inputs_embeds.device
    query_offset = cache.get_query_offset(0)  # an int, or a 0-d tensor for a static cache
    allowed = torch.arange(kv_length, device=device) <= query_offset  # (kv,)
    if attention_mask is None:
        allowed = allowed.expand(batch_size, 1, 1, kv_length)  # (batch, 1, 1, kv)
    else:
        seen = attention_mask.shape[1]
        if seen > kv_length:
            return None
        padding = torch.zeros((batch_size, kv_length), dtype=torch.bool, device=device)
        padding[:, :seen] = attention_mask.bool()
        allowed = (allowed & padding)[:, None, None, :]  # (batch, 1, 1, kv)
    if implementation == "sdpa":
        return allowed
    minimum = torch.finfo(inputs_embeds.dtype).min
    return torch.zeros(allowed.shape, dtype=inputs_embeds.dtype, device=device).masked_fill_(~allowed, minimum)


def check_token_ids(ids: torch.LongTensor, size: int, name: str, field: str) -> None:
    """ValueError unless every id is in [0, `size`): an embedding lookup would fail with an opaque IndexError (a
    device-side assert that kills the process on CUDA)."""
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= size:
        bad = low if low < 0 else high
        raise ValueError(
            f"`{name}` holds id {bad}, outside [0, {size}) (VariformerConfig.{field}={size}); encode the text with "
            f"this model's tokenizer, or resize the embeddings (model.resize_token_embeddings(n)) to cover id {bad}."
        )


def embed_ids(
    embedding: nn.Embedding, ids: torch.LongTensor, config: VariformerConfig, name: str, field: str
) -> torch.Tensor:
    """`embedding(ids)`, (batch, seq) -> (batch, seq, hidden). On the CPU an id outside the table fails the lookup
    with an IndexError, which becomes `check_token_ids`' ValueError naming `config.<field>`: the ids (and the
    config) are read only when the lookup fails."""
    if torch.compiler.is_compiling() or ids.device.type != "cpu":
        return embedding(ids)
    try:
        return embedding(ids)
    except IndexError:
        check_token_ids(ids, getattr(config, field), name, field)
        raise


def _prechecks_values(ids: torch.Tensor) -> bool:
    """Whether `_check_inputs` reads the values of `ids`: a multi-token input on an accelerator, in eager mode (on the
    CPU `embed_ids` reports a bad id for free)."""
    if ids.numel() == 0 or torch.compiler.is_compiling():
        return False
    return ids.device.type != "cpu" and ids.shape[-1] > 1


def _absolute_positions(config: VariformerConfig) -> nn.Module | None:
    if config.position_embedding_type == "learned":
        return nn.Embedding(config.max_position_embeddings, config.hidden_size)
    if config.position_embedding_type == "sinusoidal":
        return VariformerSinusoidalEmbedding(config.max_position_embeddings, config.hidden_size)
    return None


__all__ = ["VariformerStack", "VariformerSeq2SeqDecoderStack", "decode_step_mask"]
