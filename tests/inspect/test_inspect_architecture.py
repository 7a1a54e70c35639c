"""Architecture sheet and parameter/FLOPs table: counts add up to num_parameters(), FLOPs follow the formula."""

from __future__ import annotations

import pytest
import torch
from inspect_helpers import VARIANTS, models, tokenizer  # noqa: F401 (fixtures)

from variformer.inspect import describe_architecture, draw_architecture, measure_forward_flops, parameter_table
from variformer.inspect.attention_plots import eager_eval
from variformer.inspect.parameter_table import COMPONENTS, component_of


def _forward_inputs(model, source_len: int, target_len: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    inputs = dict(input_ids=torch.randint(3, 500, (1, source_len), generator=generator))
    if model.config.is_encoder_decoder:
        inputs["decoder_input_ids"] = torch.randint(3, 500, (1, target_len), generator=generator)
    return inputs


@pytest.mark.parametrize("name", VARIANTS)
def test_parameters_sum_to_num_parameters(name, models):
    model = models[name]
    table = parameter_table(model, seq_len=7, source_len=11)
    assert sum(row.parameters for row in table.rows) == table.total_parameters == model.num_parameters()
    assert all(row.component in COMPONENTS and row.component != "other" for row in table.rows)
    expected = {"embeddings", "attention", "FFN", "norms", "heads"}
    expected |= {"cross-attention"} if model.config.is_encoder_decoder else set()
    assert expected <= {row.component for row in table.rows}


@pytest.mark.parametrize("name", VARIANTS)
def test_flops_formula_equals_pytorch_flop_counter(name, models):
    model = models[name]
    table = parameter_table(model, seq_len=7 if model.config.is_encoder_decoder else 11, source_len=11)
    with eager_eval(model):
        measured = measure_forward_flops(model, **_forward_inputs(model, 11, 7))
    assert table.forward_flops == measured


def test_flops_formula_by_hand(models):
    """Decoder (rotary, GQA 4q/2kv, SwiGLU, tied head): every term of the documented formula."""
    model = models["decoder-rotary-gqa"]
    config, tokens = model.config, 13
    d, inner, vocab, layers = config.hidden_size, config.intermediate_size, config.vocab_size, config.num_hidden_layers
    q_width, kv_width = config.num_attention_heads * config.head_dim, config.num_key_value_heads * config.head_dim
    attention = layers * (2 * d * q_width * 2 + 2 * d * kv_width * 2 + 4 * q_width * tokens)
    ffn = layers * 3 * 2 * d * inner
    rows = {row.component: row for row in parameter_table(model, seq_len=tokens).rows}
    assert rows["attention"].flops_per_token == attention
    assert rows["FFN"].flops_per_token == ffn
    assert rows["heads"].flops_per_token == 2 * d * vocab and rows["heads"].parameters == 0  # tied
    assert rows["embeddings"].flops_per_token == 0 and rows["norms"].flops_per_token == 0


def test_stock_transformers_models_sum_and_flops(tokenizer):
    from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel

    vocab = len(tokenizer)
    stock = [
        BertForMaskedLM(
            BertConfig(
                vocab_size=vocab, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=20
            )
        ),
        GPT2LMHeadModel(
            GPT2Config(vocab_size=vocab, n_embd=16, n_layer=2, n_head=2, n_positions=40, bos_token_id=1, eos_token_id=2)
        ),
    ]
    for model in stock:
        model.eval()
        table = parameter_table(model, seq_len=9)
        assert table.total_parameters == model.num_parameters()
        assert "other" not in {row.component for row in table.rows}
        with eager_eval(model):
            assert table.forward_flops == measure_forward_flops(model, **_forward_inputs(model, 9, 9))


@pytest.mark.parametrize(
    "name, kind, norm, stacks",
    [
        ("decoder-rotary-gqa", "GQA", "pre", [("decoder", 2, True, False)]),
        ("encoder-learned-postln", "MHA", "post", [("encoder", 2, False, False)]),
        ("encdec-relative-bias", "MHA", "pre", [("encoder", 2, False, False), ("decoder", 2, True, True)]),
        ("decoder-none-mqa", "MQA", "pre", [("decoder", 2, True, False)]),
    ],
)
def test_architecture_spec_from_config(name, kind, norm, stacks, models):
    spec = describe_architecture(models[name])
    assert spec.attention_kind == kind and spec.norm_position == norm
    assert [(s.role, s.num_layers, s.causal, s.cross_attention) for s in spec.stacks] == stacks
    assert spec.hidden_size == 32 and spec.intermediate_size == 37
    figure = draw_architecture(spec)
    words = " ".join(text.get_text() for axes in figure.axes for text in axes.texts)
    assert "Cross-attention" in words if spec.variant == "encoder-decoder" else "Cross-attention" not in words
    assert ("Masked self-attention" in words) == (spec.variant != "encoder")
    assert f"x {stacks[0][1]}" in words


def test_ffn_kind_words(models):
    assert describe_architecture(models["decoder-rotary-gqa"]).ffn_words.startswith("SwiGLU")
    assert describe_architecture(models["encdec-sinusoidal-postln"]).ffn_words.startswith("relu")


@pytest.mark.parametrize(
    "name, component",
    [
        ("model.layers.0.self_attn.q_proj.weight", "attention"),
        ("model.decoder.layers.1.cross_attn.k_proj.weight", "cross-attention"),
        ("model.layers.0.self_attn_norm.weight", "norms"),
        ("model.embed_positions.weight", "positions"),
        ("bert.encoder.layer.0.attention.output.dense.weight", "attention"),
        ("bert.encoder.layer.0.output.dense.weight", "FFN"),
        ("bert.encoder.layer.0.attention.output.LayerNorm.weight", "norms"),
        ("transformer.h.0.mlp.c_fc.weight", "FFN"),
        ("decoder.block.0.layer.1.EncDecAttention.q.weight", "cross-attention"),
        ("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", "positions"),
    ],
)
def test_component_names(name, component):
    assert component_of(name) == component
