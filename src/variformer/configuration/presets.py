"""Named configurations of the literature's classic models, as `VariformerConfig` keyword arguments."""

from __future__ import annotations

_TINY = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    hidden_dropout_prob=0.0,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)

PRESETS: dict[str, dict] = {
    # Vaswani et al. 2017, "base": post-LN encoder-decoder, sinusoidal positions, ReLU, shared embeddings.
    "transformer-base": dict(
        architecture="encoder-decoder", vocab_size=37000, hidden_size=512, num_hidden_layers=6, decoder_layers=6,
        num_attention_heads=8, intermediate_size=2048, hidden_act="relu", position_embedding_type="sinusoidal",
        norm_position="post", norm_type="layernorm", layer_norm_eps=1e-6, scale_embeddings=True,
        hidden_dropout_prob=0.1, max_position_embeddings=1024, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        decoder_start_token_id=1,
    ),
    # Devlin et al. 2019, BERT-base (uncased vocabulary size).
    "bert-base": dict(
        architecture="encoder", vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, hidden_act="gelu", position_embedding_type="learned", max_position_embeddings=512,
        type_vocab_size=2, norm_position="post", embedding_norm=True, layer_norm_eps=1e-12,
        hidden_dropout_prob=0.1, attention_dropout=0.1, pad_token_id=0, sep_token_id=102,
    ),
    # Radford et al. 2019, GPT-2 small (124M).
    "gpt2-small": dict(
        architecture="decoder", vocab_size=50257, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, hidden_act="gelu_new", position_embedding_type="learned",
        max_position_embeddings=1024, norm_position="pre", layer_norm_eps=1e-5, hidden_dropout_prob=0.1,
        attention_dropout=0.1, bos_token_id=50256, eos_token_id=50256,
    ),
    # Raffel et al. 2020, T5-small (original ReLU flavour).
    "t5-small": dict(
        architecture="encoder-decoder", vocab_size=32128, hidden_size=512, num_hidden_layers=6, decoder_layers=6,
        num_attention_heads=8, head_dim=64, intermediate_size=2048, hidden_act="relu",
        position_embedding_type="relative_bias", relative_attention_num_buckets=32,
        relative_attention_max_distance=128, norm_type="rmsnorm", norm_position="pre", layer_norm_eps=1e-6,
        attention_bias=False, mlp_bias=False, attention_scale=1.0, hidden_dropout_prob=0.1, attention_dropout=0.1,
        max_position_embeddings=512, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
        lm_head_scale=512**-0.5,
    ),
    # T5-base shape (used by the benchmarks).
    "t5-base": dict(
        architecture="encoder-decoder", vocab_size=32128, hidden_size=768, num_hidden_layers=12, decoder_layers=12,
        num_attention_heads=12, head_dim=64, intermediate_size=3072, hidden_act="relu",
        position_embedding_type="relative_bias", norm_type="rmsnorm", norm_position="pre", layer_norm_eps=1e-6,
        attention_bias=False, mlp_bias=False, attention_scale=1.0, hidden_dropout_prob=0.1, attention_dropout=0.1,
        max_position_embeddings=512, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
        lm_head_scale=768**-0.5,
    ),
    # A small Llama-style decoder: RMSNorm, SwiGLU, rotary, grouped-query attention, no biases.
    "llama-tiny": dict(
        architecture="decoder", vocab_size=32000, hidden_size=256, num_hidden_layers=4, num_attention_heads=8,
        num_key_value_heads=2, intermediate_size=688, hidden_act="swiglu", position_embedding_type="rotary",
        norm_type="rmsnorm", norm_position="pre", layer_norm_eps=1e-6, attention_bias=False, mlp_bias=False,
        hidden_dropout_prob=0.0, max_position_embeddings=2048, tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    ),
    # Tiny configurations for tests (odd sizes expose shape bugs).
    "tiny-encoder": dict(_TINY, architecture="encoder", position_embedding_type="learned", type_vocab_size=2,
                         norm_position="post", embedding_norm=True),
    "tiny-decoder": dict(_TINY, architecture="decoder", position_embedding_type="rotary", num_key_value_heads=2,
                         hidden_act="swiglu", norm_type="rmsnorm"),
    "tiny-encoder-decoder": dict(_TINY, architecture="encoder-decoder", decoder_layers=3,
                                 position_embedding_type="relative_bias", decoder_start_token_id=0),
}


def preset_kwargs(name: str) -> dict:
    """A copy of the keyword arguments of preset `name`; unknown names raise with the list of known ones."""
    if name not in PRESETS:
        raise ValueError(f"Unknown Variformer preset {name!r}; choose one of {sorted(PRESETS)}.")
    return dict(PRESETS[name])


__all__ = ["PRESETS", "preset_kwargs"]
