"""`VariformerConfig`: one configuration class for the whole family.

The variant is chosen by a single field, `architecture`; every Hugging Face flag that depends on it
(`is_encoder_decoder`) is derived in `_derive_architecture_flags` and nowhere else.
Each field is documented in the class docstring under "Fields" (a test keeps that list complete).
"""

from __future__ import annotations

from typing import Literal

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

ARCHITECTURES = ("encoder", "decoder", "encoder-decoder")
POSITION_EMBEDDING_TYPES = ("sinusoidal", "learned", "relative_bias", "rotary", "none")
NORM_TYPES = ("layernorm", "rmsnorm")
NORM_POSITIONS = ("pre", "post")
PLAIN_ACTIVATIONS = ("relu", "gelu", "gelu_new", "silu")
# gated activation -> activation applied to the gate projection
GATED_ACTIVATIONS = {"swiglu": "silu", "geglu": "gelu", "geglu_tanh": "gelu_new", "reglu": "relu"}
CLASSIFIER_POOLINGS = ("first", "last", "mean")


@strict(accept_kwargs=True)
class VariformerConfig(PreTrainedConfig):
    r"""Configuration of a Variformer model (encoder, decoder or encoder-decoder Transformer).

    Build one directly, `VariformerConfig(architecture="decoder", hidden_size=256, ...)`, or from a named
    preset, `VariformerConfig.from_preset("gpt2-small", vocab_size=8000)`.

    Fields:
        architecture: Which Transformer shape to build: "encoder" (BERT-like, bidirectional), "decoder"
            (GPT-like, causal) or "encoder-decoder" (original Transformer / T5-like). All variants.
        vocab_size: Number of token ids; shared by source and target in encoder-decoder models. All variants.
        hidden_size: Width d_model of the residual stream, in features. All variants.
        num_hidden_layers: Number of layers of the single stack (encoder or decoder variant), or of the
            encoder stack in the encoder-decoder variant.
        decoder_layers: Number of decoder layers in the encoder-decoder variant; defaults to
            `num_hidden_layers`. Must stay unset (None) for the other variants.
        num_attention_heads: Number of query heads per attention layer. All variants.
        num_key_value_heads: Number of key/value heads: equal to `num_attention_heads` for multi-head
            attention, a divisor of it for grouped-query attention, 1 for multi-query attention. Defaults to
            `num_attention_heads`. All variants.
        head_dim: Width of one attention head, in features; defaults to hidden_size // num_attention_heads.
        intermediate_size: Width of the feed-forward hidden layer, in features; defaults to 4 * hidden_size.
        hidden_act: Feed-forward activation. Plain: "relu", "gelu", "gelu_new" (tanh approximation, GPT-2),
            "silu". Gated (GLU: act(x W_gate) * (x W_up)): "swiglu" (SiLU, Llama), "geglu" (GELU), "geglu_tanh"
            (tanh GELU, T5 v1.1), "reglu" (ReLU).
        max_position_embeddings: Longest sequence, in tokens, the position scheme is built for (learned
            table size; the sinusoidal table length). All variants.
        position_embedding_type: How positions enter the model: "sinusoidal" (fixed table of Vaswani et al.
            2017, added to the token embeddings), "learned" (trained table, BERT/GPT-2), "relative_bias" (T5
            bucketed bias added to attention logits), "rotary" (RoPE applied to queries and keys) or "none".
        relative_attention_num_buckets: Number of buckets of the T5 relative bias ("relative_bias" only).
        relative_attention_max_distance: Distance, in tokens, beyond which relative positions share the last
            bucket ("relative_bias" only).
        rope_theta: Base of the rotary frequencies ("rotary" only).
        type_vocab_size: Number of token-type (segment) embeddings added to the input, as in BERT; 0 disables
            them. Encoder and decoder variants.
        norm_type: Normalization layer: "layernorm" (with bias) or "rmsnorm" (scale only, T5/Llama).
        norm_position: "pre" (normalize the input of each sublayer, plus a final norm; GPT-2, T5, Llama) or
            "post" (normalize after each residual addition; the 2017 paper, BERT).
        layer_norm_eps: Epsilon added to the variance inside every normalization layer.
        embedding_norm: Normalize the summed input embeddings before the first layer (BERT).
        attention_bias: Use biases in the query/key/value/output projections.
        mlp_bias: Use biases in the feed-forward projections.
        attention_scale: Multiplier of the query-key dot products; None means 1/sqrt(head_dim). T5 uses 1.0.
        scale_embeddings: Multiply token embeddings by sqrt(hidden_size) (the 2017 paper).
        lm_head_scale: Multiplier of the final hidden states before the language-model projection; T5 with
            tied embeddings uses hidden_size ** -0.5. Language-model heads only.
        lm_loss_chunk_size: Tokens per chunk of the language-model loss in training mode: with `labels`, a model
            in training mode computes the cross-entropy chunk by chunk from the final hidden states
            (`variformer.modeling.losses`), never holding the full logits, and returns `logits=None`; the masked
            LM also runs its head over the labelled positions only. None: the full logits and transformers' loss,
            as in eval mode. Language-model heads only (causal, masked and seq2seq).
        hidden_dropout_prob: Dropout probability on embeddings and on each sublayer output before the residual
            addition.
        attention_dropout: Dropout probability on attention weights.
        classifier_dropout: Dropout before the classification / token-classification projection; None
            means `hidden_dropout_prob`.
        classifier_pooling: How sequence classification pools the sequence: "first" token through a
            dense+tanh pooler (BERT), "last" non-padding token (GPT-style) or "mean" over non-padding tokens.
            Defaults to "first" for encoders and "last" otherwise.
        initializer_range: Standard deviation of the normal initialization of weight matrices.
        tie_word_embeddings: Share the output projection (`lm_head`) with the input token embeddings.
        use_cache: Return key/value caches from decoder forward passes (used by `generate()`).
        pad_token_id: Id of the padding token.
        bos_token_id: Id of the beginning-of-sequence token.
        eos_token_id: Id of the end-of-sequence token (or a list of ids).
        decoder_start_token_id: First decoder input id of encoder-decoder models; defaults to `pad_token_id`
            when unset (T5 convention) or `bos_token_id` if there is no pad token.
        sep_token_id: Id of the separator token (encoder inputs; informational).
    """

    model_type = "variformer"
    keys_to_ignore_at_inference = ["cache", "past_key_values"]  # the KV cache under either transformers name
    # Pipeline plan of one stack: the single-stack base model, or each stack of the encoder-decoder model.
    base_model_pp_plan = {
        "embed_tokens": (["input_ids"], ["inputs_embeds"]),
        "layers": (["hidden_states", "attention_mask"], ["hidden_states"]),
        "norm": (["hidden_states"], ["hidden_states"]),
    }

    architecture: Literal["encoder", "decoder", "encoder-decoder"] = "decoder"
    vocab_size: int = 32000
    hidden_size: int = 512
    num_hidden_layers: int = 6
    decoder_layers: int | None = None
    num_attention_heads: int = 8
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    intermediate_size: int | None = None
    hidden_act: str = "gelu"
    max_position_embeddings: int = 1024
    position_embedding_type: Literal["sinusoidal", "learned", "relative_bias", "rotary", "none"] = "rotary"
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    rope_theta: float = 10000.0
    type_vocab_size: int = 0
    norm_type: Literal["layernorm", "rmsnorm"] = "layernorm"
    norm_position: Literal["pre", "post"] = "pre"
    layer_norm_eps: float = 1e-5
    embedding_norm: bool = False
    attention_bias: bool = True
    mlp_bias: bool = True
    attention_scale: float | None = None
    scale_embeddings: bool = False
    lm_head_scale: float = 1.0
    lm_loss_chunk_size: int | None = 512
    hidden_dropout_prob: float = 0.1
    attention_dropout: float = 0.0
    classifier_dropout: float | None = None
    classifier_pooling: Literal["first", "last", "mean"] | None = None
    initializer_range: float = 0.02
    tie_word_embeddings: bool = True
    use_cache: bool = True
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    decoder_start_token_id: int | None = None
    sep_token_id: int | None = None

    def __post_init__(self, **kwargs):
        # HF flags that follow from `architecture` must not be set by hand; `is_decoder` was written by earlier
        # versions (transformers no longer reads it) and is dropped from their saved configs.
        for derived in ("is_encoder_decoder", "is_decoder"):
            kwargs.pop(derived, None)
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None and self.num_attention_heads > 0:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.intermediate_size is None:
            self.intermediate_size = 4 * self.hidden_size
        if self.classifier_pooling is None:
            self.classifier_pooling = "first" if self.architecture == "encoder" else "last"
        if self.architecture == "encoder-decoder" and self.decoder_layers is None:
            self.decoder_layers = self.num_hidden_layers
        if self.architecture == "encoder-decoder" and self.decoder_start_token_id is None:
            self.decoder_start_token_id = self.pad_token_id if self.pad_token_id is not None else self.bos_token_id
        self._derive_architecture_flags()
        super().__post_init__(**kwargs)
        # Validated here as well so that users get the plain ValueError: the strict dataclass runs
        # `validate()` after __init__ and would wrap it in a StrictDataclassClassValidationError (no ValueError).
        self.validate_architecture()

    def _derive_architecture_flags(self) -> None:
        """The one place where Hugging Face's variant flags are derived from `architecture`."""
        self.is_encoder_decoder = self.architecture == "encoder-decoder"

    # ------------------------------------------------------------------ derived properties
    @property
    def is_gated_mlp(self) -> bool:
        return self.hidden_act in GATED_ACTIVATIONS

    @property
    def mlp_activation(self) -> str:
        """Name (in `transformers.activations.ACT2FN`) of the activation inside the feed-forward block."""
        return GATED_ACTIVATIONS.get(self.hidden_act, self.hidden_act)

    @property
    def base_model_tp_plan(self) -> dict[str, str]:
        """Tensor-parallel plan of one stack (keys relative to it), naming only the projections this config
        builds: `gate_proj` for gated activations, `cross_attn` for the encoder-decoder's decoder stack.
        transformers matches keys after replacing layer numbers by `*`."""
        attentions = ("self_attn", "cross_attn") if self.is_encoder_decoder else ("self_attn",)
        plan = {}
        for attention in attentions:
            plan.update({f"layers.*.{attention}.{name}_proj": "colwise" for name in ("q", "k", "v")})
            plan[f"layers.*.{attention}.o_proj"] = "rowwise"
        if self.is_gated_mlp:
            plan["layers.*.mlp.gate_proj"] = "colwise"
        plan.update({"layers.*.mlp.up_proj": "colwise", "layers.*.mlp.down_proj": "rowwise"})
        return plan

    @property
    def num_key_value_groups(self) -> int:
        return self.num_attention_heads // self.num_key_value_heads

    @property
    def effective_classifier_dropout(self) -> float:
        return self.hidden_dropout_prob if self.classifier_dropout is None else self.classifier_dropout

    # ------------------------------------------------------------------ validation
    def validate_architecture(self):
        """Cross-field rules; every failure names the field, the value and the fix."""
        _check_choice("architecture", self.architecture, ARCHITECTURES)
        _check_choice("position_embedding_type", self.position_embedding_type, POSITION_EMBEDDING_TYPES)
        _check_choice("norm_type", self.norm_type, NORM_TYPES)
        _check_choice("norm_position", self.norm_position, NORM_POSITIONS)
        _check_choice("hidden_act", self.hidden_act, PLAIN_ACTIVATIONS + tuple(GATED_ACTIVATIONS))
        _check_choice("classifier_pooling", self.classifier_pooling, CLASSIFIER_POOLINGS)
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "intermediate_size",
            "max_position_embeddings",
        ):
            value = getattr(self, name)
            if value is None or value < 1:
                raise ValueError(f"VariformerConfig.{name}={value!r} must be a positive integer.")
        for name in ("hidden_dropout_prob", "attention_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"VariformerConfig.{name}={value!r} must be a probability in [0, 1).")
        if (
            self.hidden_size % self.num_attention_heads != 0
            and self.head_dim == self.hidden_size // self.num_attention_heads
        ):
            raise ValueError(
                f"VariformerConfig.hidden_size={self.hidden_size} is not divisible by num_attention_heads="
                f"{self.num_attention_heads}; choose a hidden_size that is a multiple of the head count or set "
                "head_dim explicitly."
            )
        if self.num_attention_heads % self.num_key_value_heads != 0:
            raise ValueError(
                f"VariformerConfig.num_key_value_heads={self.num_key_value_heads} must divide num_attention_heads="
                f"{self.num_attention_heads} (use {self.num_attention_heads} for multi-head, 1 for multi-query, "
                "or another divisor for grouped-query attention)."
            )
        if self.position_embedding_type == "rotary" and self.head_dim % 2 != 0:
            raise ValueError(
                f"VariformerConfig.head_dim={self.head_dim} is odd, but position_embedding_type='rotary' rotates "
                "pairs of features; use an even head_dim or another position_embedding_type."
            )
        if self.position_embedding_type == "sinusoidal" and self.hidden_size % 2 != 0:
            raise ValueError(
                f"VariformerConfig.hidden_size={self.hidden_size} is odd, but the sinusoidal table pairs sin/cos "
                "features; use an even hidden_size or another position_embedding_type."
            )
        if self.decoder_layers is not None and self.architecture != "encoder-decoder":
            raise ValueError(
                f"VariformerConfig.decoder_layers={self.decoder_layers} only applies to architecture="
                f"'encoder-decoder' (got {self.architecture!r}); use num_hidden_layers for the single stack."
            )
        if self.lm_loss_chunk_size is not None and self.lm_loss_chunk_size < 1:
            raise ValueError(
                f"VariformerConfig.lm_loss_chunk_size={self.lm_loss_chunk_size!r} must be a positive number of "
                "tokens, or None to compute the training loss from the full logits."
            )
        if self.decoder_layers is not None and self.decoder_layers < 1:
            raise ValueError(f"VariformerConfig.decoder_layers={self.decoder_layers} must be a positive integer.")
        if self.type_vocab_size and self.architecture == "encoder-decoder":
            raise ValueError(
                f"VariformerConfig.type_vocab_size={self.type_vocab_size} is not supported for architecture="
                "'encoder-decoder'; set type_vocab_size=0."
            )

    # ------------------------------------------------------------------ presets
    @classmethod
    def from_preset(cls, name: str, **overrides) -> VariformerConfig:
        """A named configuration (see `variformer.configuration.presets.PRESETS`) with `overrides` applied."""
        from .presets import preset_kwargs

        return cls(**{**preset_kwargs(name), **overrides})


def _check_choice(field: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"VariformerConfig.{field}={value!r} is not supported; choose one of {list(choices)}.")


__all__ = ["VariformerConfig"]
