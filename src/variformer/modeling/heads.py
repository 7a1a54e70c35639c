"""Task heads. Each is thin: a base `VariformerModel` plus one projection, and checks at construction that the
config's `architecture` can serve it.

Legend: batch, seq, hidden = `config.hidden_size`, vocab = `config.vocab_size`, labels = `config.num_labels`.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.cache_utils import Cache
from transformers.generation import GenerationMixin
from transformers.loss.loss_utils import ForMaskedLMLoss
from transformers.masking_utils import create_masks_for_generate
from transformers.modeling_outputs import (
    BaseModelOutput,
    CausalLMOutputWithPast,
    MaskedLMOutput,
    QuestionAnsweringModelOutput,
    Seq2SeqLMOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.modeling_utils import slice_logits_to_keep
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs, can_return_tuple

from ..configuration import VariformerConfig
from .cache_names import MASK_CACHE_KWARG, cache_field, output_cache, resolve_cache
from .feedforward import build_activation
from .losses import fusable_head, linear_cross_entropy
from .models import VariformerEncoderDecoderModel, VariformerModel
from .norms import build_norm
from .pretrained import VariformerPreTrainedModel
from .stacks import decode_step_mask


def _scaled(hidden_states: torch.Tensor, scale: float) -> torch.Tensor:
    """`hidden_states * scale`, skipping the extra pass over the activations when the scale is 1."""
    return hidden_states if scale == 1.0 else hidden_states * scale


def _trains_without_logits(
    model: VariformerPreTrainedModel, labels: torch.Tensor | None, logits_to_keep: int | torch.Tensor = 0
) -> bool:
    """Whether the loss is computed chunk by chunk without the full logits (see `lm_loss_chunk_size`): training
    mode with labels, a plain linear head, every position kept."""
    return (
        labels is not None
        and model.training
        and model.config.lm_loss_chunk_size is not None
        and isinstance(logits_to_keep, int)
        and logits_to_keep == 0
        and fusable_head(model.lm_head)
    )


def _chunked_loss(
    model: VariformerPreTrainedModel,
    hidden_states: torch.Tensor,
    labels: torch.LongTensor,
    num_items_in_batch: torch.Tensor | int | None = None,
    ignore_index: int = -100,
    **kwargs,
) -> torch.Tensor:
    """The head's cross-entropy of `hidden_states` (..., hidden) against `labels` (...), as transformers' loss
    reduces it (mean over labelled tokens, or sum / `num_items_in_batch`), without the full logits."""
    return linear_cross_entropy(
        _scaled(hidden_states, model.config.lm_head_scale),
        model.lm_head,
        labels,
        num_items_in_batch=num_items_in_batch,
        ignore_index=ignore_index,
        chunk_size=model.config.lm_loss_chunk_size,
    )


def _require_architecture(config: VariformerConfig, head: str, allowed: tuple[str, ...]) -> None:
    if config.architecture not in allowed:
        raise ValueError(
            f"{head} needs VariformerConfig.architecture in {list(allowed)}, got {config.architecture!r}; "
            f"build the config with architecture={allowed[0]!r} or pick the head for your variant "
            "(decoder: VariformerForCausalLM, encoder: VariformerForMaskedLM, "
            "encoder-decoder: VariformerForConditionalGeneration)."
        )


class VariformerForCausalLM(VariformerPreTrainedModel, GenerationMixin):
    """Decoder-only language model: logits (batch, seq, vocab); `labels` give the shifted next-token loss.

    In training mode with `labels` the loss is computed chunk by chunk without the full logits and `logits` is
    None (Trainer's training step reads only the loss); eval mode, or `config.lm_loss_chunk_size=None`, returns
    the logits as usual.
    """

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}
    _tp_plan = {"lm_head": "colwise_gather_output"}
    _pp_plan = {"lm_head": (["hidden_states"], ["logits"])}

    def __init__(self, config: VariformerConfig):
        _require_architecture(config, type(self).__name__, ("decoder",))
        super().__init__(config)
        self.model = VariformerModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def create_masks_for_generate(self, config, inputs_embeds, attention_mask, **kwargs):
        """`generate()`'s 4-D mask for a static cache: built directly for a one-token step (`decode_step_mask`), by
        transformers' general function otherwise."""
        mask = decode_step_mask(config, inputs_embeds, attention_mask, kwargs.get(MASK_CACHE_KWARG))
        if mask is not None:
            return mask
        return create_masks_for_generate(
            config=config, inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs
        )

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        past_key_values: Cache | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> CausalLMOutputWithPast:
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=resolve_cache(cache, past_key_values),
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            **kwargs,
        )
        if _trains_without_logits(self, labels, logits_to_keep):
            logits, loss = (
                None,
                _chunked_loss(self, outputs.last_hidden_state, _next_tokens(labels, **kwargs), **kwargs),
            )
        else:
            hidden_states = slice_logits_to_keep(outputs.last_hidden_state, logits_to_keep)
            logits = self.lm_head(_scaled(hidden_states, self.config.lm_head_scale))  # (batch, seq, vocab)
            loss = None
            if labels is not None:
                loss = self.loss_function(logits=logits, labels=labels, vocab_size=self.config.vocab_size, **kwargs)
        return CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            **cache_field(output_cache(outputs)),
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


def _next_tokens(
    labels: torch.LongTensor, shift_labels: torch.LongTensor | None = None, ignore_index: int = -100, **kwargs
) -> torch.LongTensor:
    """The causal-LM targets (batch, seq): `shift_labels` when given, else `labels` shifted one step left with
    `ignore_index` last (transformers' `ForCausalLMLoss`)."""
    if shift_labels is not None:
        return shift_labels
    return nn.functional.pad(labels, (0, 1), value=ignore_index)[..., 1:]  # (batch, seq)


class VariformerMaskedLMTransform(nn.Module):
    """BERT's prediction transform: dense, activation, norm. (batch, seq, hidden) -> same."""

    def __init__(self, config: VariformerConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act_fn = build_activation(config.mlp_activation)
        self.norm = build_norm(config)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.norm(self.act_fn(self.dense(hidden_states)))


class VariformerForMaskedLM(VariformerPreTrainedModel):
    """Encoder masked language model: logits (batch, seq, vocab); `labels` (-100 = unmasked) give the loss.

    In training mode with `labels`, only the labelled positions go through the prediction transform and the head,
    the loss is computed chunk by chunk, and `logits` is None; eval mode (metrics read the logits), or
    `config.lm_loss_chunk_size=None`, returns the full logits and the same loss.
    """

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: VariformerConfig):
        _require_architecture(config, type(self).__name__, ("encoder",))
        super().__init__(config)
        self.model = VariformerModel(config)
        self.transform = VariformerMaskedLMTransform(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=True)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> MaskedLMOutput:
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            **kwargs,
        )
        if _trains_without_logits(self, labels):
            hidden_states, labels = _labelled_positions(outputs.last_hidden_state, labels, **kwargs)
            logits, loss = None, _chunked_loss(self, self.transform(hidden_states), labels, **kwargs)
        else:
            logits = self.lm_head(_scaled(self.transform(outputs.last_hidden_state), self.config.lm_head_scale))
            loss = None
            if labels is not None:
                loss = self.loss_function(logits=logits, labels=labels, vocab_size=self.config.vocab_size, **kwargs)
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


def _labelled_positions(
    hidden_states: torch.Tensor, labels: torch.LongTensor, ignore_index: int = -100, **kwargs
) -> tuple[torch.Tensor, torch.LongTensor]:
    """The hidden states (labelled, hidden) and labels (labelled,) of the positions with a label. Inside
    torch.compile every position is kept (a data-dependent shape would break the graph); ignored labels then
    add nothing to the loss."""
    if torch.compiler.is_compiling():
        return hidden_states, labels
    labelled = labels != ignore_index  # (batch, seq)
    return hidden_states[labelled], labels[labelled]


class VariformerForConditionalGeneration(VariformerPreTrainedModel, GenerationMixin):
    """Encoder-decoder model for translation/summarization: logits (batch, tgt, vocab); `labels` (batch, tgt)
    are shifted right into `decoder_input_ids` when those are not given.

    In training mode with `labels` the loss is computed chunk by chunk without the full logits and `logits` is
    None; eval mode (generation, metrics), or `config.lm_loss_chunk_size=None`, returns the logits as usual.
    """

    _tied_weights_keys = {"lm_head.weight": "model.encoder.embed_tokens.weight"}
    _tp_plan = {"lm_head": "colwise_gather_output"}

    def __init__(self, config: VariformerConfig):
        _require_architecture(config, type(self).__name__, ("encoder-decoder",))
        super().__init__(config)
        self.model = VariformerEncoderDecoderModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_encoder(self, modality: str | None = None):
        return self.model.encoder

    def get_decoder(self):
        return self.model.decoder

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        past_key_values: Cache | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> Seq2SeqLMOutput:
        if labels is not None and decoder_input_ids is None and decoder_inputs_embeds is None:
            decoder_input_ids = self._shift_right(labels)  # (batch, tgt)
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            cache=resolve_cache(cache, past_key_values),
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            **kwargs,
        )
        if _trains_without_logits(self, labels, logits_to_keep):
            logits, loss = None, _chunked_loss(self, outputs.last_hidden_state, labels, **kwargs)
        else:
            hidden_states = slice_logits_to_keep(outputs.last_hidden_state, logits_to_keep)
            logits = self.lm_head(_scaled(hidden_states, self.config.lm_head_scale))  # (batch, tgt, vocab)
            loss = None
            if labels is not None:
                loss = ForMaskedLMLoss(logits, labels.contiguous(), vocab_size=self.config.vocab_size, **kwargs)
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            **cache_field(output_cache(outputs)),
            decoder_hidden_states=outputs.decoder_hidden_states,
            decoder_attentions=outputs.decoder_attentions,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            encoder_attentions=outputs.encoder_attentions,
        )

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return self._shift_right(labels)


def pool_sequence(hidden_states: torch.Tensor, mode: str, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """(batch, seq, hidden) -> (batch, hidden): the first token, the last non-padding token or the masked mean.

    The last non-padding token is the rightmost position whose mask is 1, so left and right padding both work.
    """
    if mode == "first":
        return hidden_states[:, 0]
    if attention_mask is None:
        return hidden_states[:, -1] if mode == "last" else hidden_states.mean(dim=1)
    mask = attention_mask.to(hidden_states.device, hidden_states.dtype)  # (batch, seq)
    if mode == "mean":
        return (hidden_states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
    positions = torch.arange(mask.shape[1], device=mask.device, dtype=mask.dtype)  # (seq,)
    last = (positions * mask).argmax(-1)  # (batch,)
    return hidden_states[torch.arange(hidden_states.shape[0], device=hidden_states.device), last]


class VariformerForSequenceClassification(VariformerPreTrainedModel):
    """Sequence classification for every variant: logits (batch, labels).

    Pooling follows `config.classifier_pooling` ("first" goes through a dense+tanh pooler, as in BERT). The
    encoder-decoder variant reads the decoder fed with the input shifted right (as BART does).
    """

    # The loss is a mean over examples and ignores `num_items_in_batch`: Trainer must not pass it, so that it
    # divides the loss by the gradient-accumulation steps itself.
    accepts_loss_kwargs = False

    def __init__(self, config: VariformerConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = VariformerModel(config)
        self.pooler = (
            nn.Linear(config.hidden_size, config.hidden_size) if config.classifier_pooling == "first" else None
        )
        self.dropout = nn.Dropout(config.effective_classifier_dropout)
        self.score = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> SequenceClassifierOutput:
        attention_mask = self._padding_mask(input_ids, inputs_embeds, attention_mask)
        if self.config.is_encoder_decoder:
            decoder_input_ids = self._shift_right(input_ids) if input_ids is not None else None
            outputs = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                inputs_embeds=inputs_embeds,
                decoder_input_ids=decoder_input_ids,
                use_cache=False,
                **kwargs,
            )
        else:
            outputs = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                position_ids=position_ids,
                inputs_embeds=inputs_embeds,
                use_cache=False,
                **kwargs,
            )
        pooled = pool_sequence(
            outputs.last_hidden_state, self.config.classifier_pooling, attention_mask
        )  # (batch, hidden)
        if self.pooler is not None:
            pooled = torch.tanh(self.pooler(pooled))
        logits = self.score(self.dropout(pooled))  # (batch, labels)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits=logits, labels=labels, pooled_logits=logits, config=self.config)
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=_hidden(outputs), attentions=_attentions(outputs)
        )

    def _padding_mask(
        self,
        input_ids: torch.LongTensor | None,
        inputs_embeds: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
    ) -> torch.Tensor | None:
        """The mask pooling reads: the given one, else non-padding tokens. Pooling the last token of a batch with
        neither would read padding positions, so that is an error (as in GPT-2)."""
        if attention_mask is not None:
            return attention_mask
        if input_ids is not None and self.config.pad_token_id is not None:
            return (input_ids != self.config.pad_token_id).long()  # (batch, seq)
        batch_size = (input_ids if input_ids is not None else inputs_embeds).shape[0]
        if batch_size > 1 and self.config.classifier_pooling != "first":
            raise ValueError(
                f"A batch of {batch_size} sequences with no `attention_mask` and no padding token "
                f"(VariformerConfig.pad_token_id=None) cannot be pooled with "
                f"classifier_pooling={self.config.classifier_pooling!r}: padding positions would be read as tokens. "
                "Pass the tokenizer's `attention_mask`, or set `config.pad_token_id`."
            )
        return None


def _hidden(outputs):
    return getattr(outputs, "hidden_states", None) or getattr(outputs, "decoder_hidden_states", None)


def _attentions(outputs):
    return getattr(outputs, "attentions", None) or getattr(outputs, "decoder_attentions", None)


class VariformerForTokenClassification(VariformerPreTrainedModel):
    """Encoder token classification (NER, tagging): logits (batch, seq, labels)."""

    def __init__(self, config: VariformerConfig):
        _require_architecture(config, type(self).__name__, ("encoder",))
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = VariformerModel(config)
        self.dropout = nn.Dropout(config.effective_classifier_dropout)
        self.score = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> TokenClassifierOutput:
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            **kwargs,
        )
        logits = self.score(self.dropout(outputs.last_hidden_state))  # (batch, seq, labels)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, self.config, **kwargs)
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class VariformerForQuestionAnswering(VariformerPreTrainedModel):
    """Encoder extractive QA: start and end logits, each (batch, seq)."""

    accepts_loss_kwargs = False  # mean over examples; see VariformerForSequenceClassification

    def __init__(self, config: VariformerConfig):
        _require_architecture(config, type(self).__name__, ("encoder",))
        super().__init__(config)
        self.model = VariformerModel(config)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        start_positions: torch.LongTensor | None = None,
        end_positions: torch.LongTensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> QuestionAnsweringModelOutput:
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            **kwargs,
        )
        logits = self.qa_outputs(outputs.last_hidden_state)  # (batch, seq, 2)
        start_logits, end_logits = (part.squeeze(-1).contiguous() for part in logits.split(1, dim=-1))
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = self.loss_function(start_logits, end_logits, start_positions, end_positions, **kwargs)
        return QuestionAnsweringModelOutput(
            loss=loss,
            start_logits=start_logits,
            end_logits=end_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


__all__ = [
    "VariformerForCausalLM",
    "VariformerForMaskedLM",
    "VariformerForConditionalGeneration",
    "VariformerForSequenceClassification",
    "VariformerForTokenClassification",
    "VariformerForQuestionAnswering",
    "pool_sequence",
]
