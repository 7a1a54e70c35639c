"""Every size the benchmarks use, and the stock transformers model of the same shape for each workload.

Two sets of sizes: `TARGET` (the issue's GPU shapes: GPT-2 small, BERT-base, T5-base) and `TINY` (a few-layer,
64-wide version of each, so the CPU mode runs anywhere in seconds). The stock configs are derived from the
Variformer config field by field, so both models of a pair always have the same shape; `run.py` also prints and
records both parameter counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from transformers import BertConfig, GPT2Config, PreTrainedConfig, T5Config

from variformer import VariformerConfig

# Overrides turning each preset into a tiny model (hidden 64, 2 layers, 4 heads, vocabulary 1024).
_TINY_COMMON = dict(
    vocab_size=1024,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=256,
    max_position_embeddings=256,
)


@dataclass(frozen=True)
class Shapes:
    """Sizes of one benchmark mode. Lengths are in tokens."""

    name: str
    decoder_overrides: dict = field(default_factory=dict)
    encoder_overrides: dict = field(default_factory=dict)
    seq2seq_overrides: dict = field(default_factory=dict)
    decoder_batch: int = 16
    decoder_seq: int = 1024
    encoder_batch: int = 32
    encoder_seq: int = 512
    seq2seq_batch: int = 32
    source_len: int = 512
    target_len: int = 128
    prompt_len: int = 128
    new_tokens: int = 256
    decode_batches: tuple[int, ...] = (1, 32)
    harness_batch: int = 64


TARGET = Shapes(name="target")
TINY = Shapes(
    name="tiny",
    decoder_overrides=dict(_TINY_COMMON, bos_token_id=1023, eos_token_id=1023),
    encoder_overrides=dict(_TINY_COMMON),
    seq2seq_overrides=dict(_TINY_COMMON, decoder_layers=2, head_dim=16, lm_head_scale=64**-0.5),
    decoder_batch=4,
    decoder_seq=64,
    encoder_batch=4,
    encoder_seq=64,
    seq2seq_batch=4,
    source_len=64,
    target_len=16,
    prompt_len=16,
    new_tokens=32,
    harness_batch=16,
)


# GPT-2 configs (random weights) whose converted Variformer decoders the decoding-overhead rows compare: a model so
# small that a decoding step is nearly all per-step Python work (the case of a GPU), and the 6-layer, 384-wide,
# 8k-vocabulary GPT-2 of the TruthfulQA harness comparison (issue 18), where the matmuls weigh more.
DECODE_OVERHEAD_MODELS = {
    "gpt2-2x64": dict(n_layer=2, n_embd=64, n_head=4, vocab_size=1024),
    "gpt2-6x384": dict(n_layer=6, n_embd=384, n_head=6, vocab_size=8192),
}


@dataclass(frozen=True)
class LeverSizes:
    """Sizes of the issue-18 rows: greedy decoding of the `DECODE_OVERHEAD_MODELS` at batch 1, and the peak RSS
    of one training step of each workload (model dims of `memory_shapes`, batch `memory_batch[workload]`;
    workloads missing from it are skipped)."""

    name: str
    decode_prompt: int
    decode_new: int
    memory_shapes: Shapes
    memory_batch: dict


FULL_LEVERS = LeverSizes(
    name="full",
    decode_prompt=64,
    decode_new=64,
    memory_shapes=TARGET,
    memory_batch={"decoder": 1, "encoder": 2, "encoder-decoder": 1},
)
# `--quick`: a few tokens, and only the decoder's memory at tiny shapes (each measurement starts a process).
QUICK_LEVERS = LeverSizes(name="quick", decode_prompt=8, decode_new=8, memory_shapes=TINY, memory_batch={"decoder": 2})


def decoder_config(shapes: Shapes) -> VariformerConfig:
    """The "gpt2-small" preset (or its tiny version)."""
    return VariformerConfig.from_preset("gpt2-small", **shapes.decoder_overrides)


def encoder_config(shapes: Shapes) -> VariformerConfig:
    """The "bert-base" preset (or its tiny version)."""
    return VariformerConfig.from_preset("bert-base", **shapes.encoder_overrides)


def seq2seq_config(shapes: Shapes) -> VariformerConfig:
    """The "t5-base" preset (or its tiny version), with T5's dropout on attention weights.

    T5 applies `dropout_rate` to the attention probabilities too; the preset leaves `attention_dropout` at 0,
    so the benchmark sets it to the hidden dropout to run the same computation as the stock model.
    """
    config = VariformerConfig.from_preset("t5-base", **shapes.seq2seq_overrides)
    config.attention_dropout = config.hidden_dropout_prob
    return config


CONFIG_BUILDERS = {"decoder": decoder_config, "encoder": encoder_config, "encoder-decoder": seq2seq_config}


def with_batch(shapes: Shapes, workload: str, batch: int) -> Shapes:
    """`shapes` with the training batch of `workload` set to `batch` sequences."""
    name = {"decoder": "decoder_batch", "encoder": "encoder_batch", "encoder-decoder": "seq2seq_batch"}[workload]
    return replace(shapes, **{name: batch})


def with_tokens(shapes: Shapes, batch: int, length: int) -> Shapes:
    """`shapes` with every training batch `batch` x `length` tokens (a warm-up step that costs nothing)."""
    return replace(
        shapes,
        decoder_batch=batch,
        decoder_seq=length,
        encoder_batch=batch,
        encoder_seq=length,
        seq2seq_batch=batch,
        source_len=length,
        target_len=length,
    )


def gpt2_config(config: VariformerConfig) -> GPT2Config:
    """`GPT2Config` of the same shape as a "gpt2-small"-style Variformer config."""
    return GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.max_position_embeddings,
        n_embd=config.hidden_size,
        n_layer=config.num_hidden_layers,
        n_head=config.num_attention_heads,
        n_inner=config.intermediate_size,
        activation_function=config.hidden_act,
        resid_pdrop=config.hidden_dropout_prob,
        embd_pdrop=config.hidden_dropout_prob,
        attn_pdrop=config.attention_dropout,
        layer_norm_epsilon=config.layer_norm_eps,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        tie_word_embeddings=config.tie_word_embeddings,
    )


def bert_config(config: VariformerConfig) -> BertConfig:
    """`BertConfig` of the same shape as a "bert-base"-style Variformer config."""
    return BertConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        hidden_act=config.hidden_act,
        hidden_dropout_prob=config.hidden_dropout_prob,
        attention_probs_dropout_prob=config.attention_dropout,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        layer_norm_eps=config.layer_norm_eps,
        pad_token_id=config.pad_token_id,
        tie_word_embeddings=config.tie_word_embeddings,
    )


def t5_config(config: VariformerConfig) -> T5Config:
    """`T5Config` of the same shape as a "t5-base"-style Variformer config."""
    return T5Config(
        vocab_size=config.vocab_size,
        d_model=config.hidden_size,
        d_kv=config.head_dim,
        d_ff=config.intermediate_size,
        num_layers=config.num_hidden_layers,
        num_decoder_layers=config.decoder_layers,
        num_heads=config.num_attention_heads,
        relative_attention_num_buckets=config.relative_attention_num_buckets,
        relative_attention_max_distance=config.relative_attention_max_distance,
        dropout_rate=config.hidden_dropout_prob,
        layer_norm_epsilon=config.layer_norm_eps,
        feed_forward_proj=config.hidden_act,
        tie_word_embeddings=config.tie_word_embeddings,
        pad_token_id=config.pad_token_id,
        eos_token_id=config.eos_token_id,
        decoder_start_token_id=config.decoder_start_token_id,
    )


def stock_config(config: VariformerConfig, workload: str) -> PreTrainedConfig:
    """The stock transformers config of the same shape as `config` for `workload`."""
    builders = {"decoder": gpt2_config, "encoder": bert_config, "encoder-decoder": t5_config}
    return builders[workload](config)


__all__ = [
    "CONFIG_BUILDERS",
    "DECODE_OVERHEAD_MODELS",
    "FULL_LEVERS",
    "LeverSizes",
    "QUICK_LEVERS",
    "Shapes",
    "TARGET",
    "TINY",
    "decoder_config",
    "encoder_config",
    "seq2seq_config",
    "stock_config",
    "with_batch",
    "with_tokens",
]
