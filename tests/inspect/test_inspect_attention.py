"""The attention arrays and pictures equal what the model returns with output_attentions=True."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from inspect_helpers import (  # noqa: F401 (fixtures)
    LONG_TEXT,
    TARGET,
    TEXT,
    VARIANTS,
    build_model,
    models,
    tokenizer,
)

from variformer.inspect import attention_maps, plot_head, plot_layer
from variformer.inspect.attention_plots import eager_eval


def _reference(model, tokenizer, text, target):
    """The model's own output_attentions, computed independently of variformer.inspect."""
    input_ids = torch.tensor([tokenizer(text)["input_ids"]])
    inputs = dict(input_ids=input_ids)
    if model.config.is_encoder_decoder:
        target_ids = [model.config.decoder_start_token_id] + tokenizer(target, add_special_tokens=False)["input_ids"]
        inputs["decoder_input_ids"] = torch.tensor([target_ids])
    model.set_attn_implementation("eager")
    with torch.no_grad():
        outputs = model(**inputs, output_attentions=True)
    if model.config.is_encoder_decoder:
        return {
            "encoder": outputs.encoder_attentions,
            "decoder": outputs.decoder_attentions,
            "cross": outputs.cross_attentions,
        }
    return {"self": outputs.attentions}


def _image_data(axes) -> np.ndarray:
    return np.asarray(np.ma.getdata(axes.images[0].get_array()))


@pytest.fixture(scope="module")
def results(models, tokenizer):
    return {name: attention_maps(model, tokenizer, TEXT, target=TARGET) for name, model in models.items()}


@pytest.mark.parametrize("name", VARIANTS)
def test_arrays_equal_output_attentions(name, models, tokenizer, results):
    result = results[name]
    reference = _reference(models[name], tokenizer, TEXT, TARGET)
    assert set(result.maps) == set(reference)
    for kind, per_layer in reference.items():
        expected = np.stack([layer[0].numpy() for layer in per_layer])  # (layers, heads, q, k)
        np.testing.assert_array_equal(result.maps[kind].weights, expected)
        np.testing.assert_allclose(result.maps[kind].weights.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", VARIANTS)
def test_causal_maps_are_zero_above_the_diagonal(name, results):
    for kind, amap in results[name].maps.items():
        upper = np.triu(np.ones(amap.weights.shape[-2:], dtype=bool), k=1)
        assert amap.causal == (kind == "decoder" or name.startswith("decoder"))
        if amap.causal:
            assert (amap.weights[..., upper] == 0).all()
        elif kind != "cross":
            assert (amap.weights[..., upper] > 0).all()


@pytest.mark.parametrize("name", ["decoder-rotary-gqa", "encdec-relative-bias"])
def test_plotted_values_are_the_arrays(name, results):
    result = results[name]
    for kind, amap in result.maps.items():
        overview = result.figures[kind]
        for index, axes in enumerate(overview.axes):
            layer, head = divmod(index, amap.num_heads)
            np.testing.assert_array_equal(_image_data(axes), amap.weights[layer, head])
        figure = plot_layer(amap, amap.num_layers - 1)
        heads = [axes for axes in figure.axes if axes.images][: amap.num_heads]
        for head, axes in enumerate(heads):
            np.testing.assert_array_equal(_image_data(axes), amap.weights[-1, head])
            assert [tick.get_text() for tick in axes.get_xticklabels()] in ([], amap.key_tokens)
        head_figure = plot_head(amap, 0, 1)
        np.testing.assert_array_equal(_image_data(head_figure.axes[0]), amap.weights[0, 1])
        assert [t.get_text() for t in head_figure.axes[0].get_yticklabels()] == amap.query_tokens


def test_token_labels_and_cross_shape(results, tokenizer):
    result = results["encdec-relative-bias"]
    assert result.source_tokens == tokenizer.convert_ids_to_tokens(tokenizer(TEXT)["input_ids"])
    cross = result.maps["cross"]
    assert cross.weights.shape[-2:] == (len(result.target_tokens), len(result.source_tokens))
    assert cross.query_tokens == result.target_tokens and cross.key_tokens == result.source_tokens
    assert result.target_tokens[0] == tokenizer.convert_ids_to_tokens(0)  # decoder start token


def test_long_text_is_truncated_with_a_visible_note(models, tokenizer):
    result = attention_maps(models["encoder-learned-postln"], tokenizer, LONG_TEXT, max_tokens=40)
    assert result.maps["self"].weights.shape[-1] == 40
    assert any("Truncated" in note and "first 40" in note for note in result.notes)
    assert "Truncated" in result.figure.get_suptitle()
    assert "Truncated" in plot_layer(result.maps["self"], 0, result.notes).get_suptitle()
    np.testing.assert_allclose(result.maps["self"].weights.sum(-1), 1.0, atol=1e-5)


def test_sequence_is_capped_by_the_position_table(models, tokenizer):
    model = models["encoder-learned-postln"]  # learned table of 64 positions
    result = attention_maps(model, tokenizer, LONG_TEXT * 2, max_tokens=500, draw=False)
    assert result.maps["self"].weights.shape[-1] == model.config.max_position_embeddings


def test_eager_eval_restores_implementation_and_mode(tokenizer):
    model = build_model("decoder-rotary-gqa", len(tokenizer))
    model.set_attn_implementation("sdpa")
    model.train()
    with eager_eval(model):
        assert model.config._attn_implementation == "eager" and not model.training
    assert model.config._attn_implementation == "sdpa" and model.training


def test_no_target_for_encoder_decoder_is_explained(models, tokenizer):
    result = attention_maps(models["encdec-relative-bias"], tokenizer, TEXT, draw=False)
    assert result.maps["cross"].weights.shape[-2] == 1
    assert any("No target" in note for note in result.notes)


def test_tokenizer_larger_than_vocabulary_is_an_error(tokenizer):
    from variformer import VariformerConfig, VariformerForCausalLM

    model = VariformerForCausalLM(VariformerConfig.from_preset("tiny-decoder"))  # vocab 99
    with pytest.raises(ValueError, match="vocab_size is 99"):
        attention_maps(model, tokenizer, TEXT)


def test_every_variant_is_covered():
    assert {preset for preset, _, _ in VARIANTS.values()} == {"tiny-decoder", "tiny-encoder", "tiny-encoder-decoder"}
