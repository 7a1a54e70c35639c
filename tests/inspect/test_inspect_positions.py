"""The positional pictures show the scheme the model really uses, with the model's own numbers."""

from __future__ import annotations

import numpy as np
import pytest
from inspect_helpers import SCHEMES, VARIANTS, models, tokenizer  # noqa: F401 (fixtures)

from variformer.inspect import positional_pictures
from variformer.modeling.positions import sinusoidal_table


@pytest.fixture(scope="module")
def reports(models):
    return {name: positional_pictures(model, max_positions=32, length=10) for name, model in models.items()}


@pytest.mark.parametrize("name", VARIANTS)
def test_scheme_is_recognised(name, reports):
    report = reports[name]
    assert report.scheme == SCHEMES[name]
    if report.scheme == "none":
        assert report.pictures == [] and "no positional encoding" in report.description
    else:
        assert report.pictures and all(picture.caption and picture.figure.axes for picture in report.pictures)


def _first_image(figure) -> np.ndarray:
    return np.asarray(next(axes for axes in figure.axes if axes.images).images[0].get_array())


def test_sinusoidal_picture_is_the_table(reports):
    (picture,) = reports["encdec-sinusoidal-postln"].pictures  # shared by both stacks: drawn once
    np.testing.assert_allclose(_first_image(picture.figure), sinusoidal_table(32, 32).numpy(), atol=1e-6)


def test_learned_picture_is_the_embedding_table(models, reports):
    (picture,) = reports["encoder-learned-postln"].pictures
    table = models["encoder-learned-postln"].model.embed_positions.weight[:32].detach().numpy()
    np.testing.assert_array_equal(_first_image(picture.figure), table)
    similarity = np.asarray(picture.figure.axes[1].images[0].get_array())
    np.testing.assert_allclose(np.diag(similarity), 1.0, atol=1e-5)


def test_rotary_picture_uses_the_model_frequencies(models, reports):
    (picture,) = reports["decoder-rotary-gqa"].pictures
    inv_freq = models["decoder-rotary-gqa"].model.rotary_emb.inv_freq.double().numpy()
    plotted = picture.figure.axes[0].lines[0].get_ydata()
    np.testing.assert_allclose(plotted, inv_freq)
    angles = np.arange(32)[:, None] * inv_freq[None, :]
    np.testing.assert_allclose(_first_image(picture.figure), np.cos(angles))


def test_relative_bias_pictures_per_stack_and_head(models, reports):
    model = models["encdec-relative-bias"]
    pictures = {picture.name: picture for picture in reports["encdec-relative-bias"].pictures}
    assert set(pictures) == {
        "positions_relative_bias_encoder",
        "positions_relative_bias_matrix_encoder",
        "positions_relative_bias_decoder",
        "positions_relative_bias_matrix_decoder",
    }
    for stack in ("encoder", "decoder"):
        expected = getattr(model.model, stack).relative_bias(10, 10)[0].detach().numpy()  # (heads, q, k)
        figure = pictures[f"positions_relative_bias_matrix_{stack}"].figure
        heads = [axes for axes in figure.axes if axes.images]
        assert len(heads) == model.config.num_attention_heads
        for head, axes in enumerate(heads):
            np.testing.assert_array_equal(np.asarray(axes.images[0].get_array()), expected[head])
    assert "causal" in pictures["positions_relative_bias_decoder"].title
    assert "bidirectional" in pictures["positions_relative_bias_encoder"].title


def test_stock_transformers_schemes_are_recognised(tokenizer):
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model, T5Config, T5Model

    small = dict(vocab_size=len(tokenizer))
    bert = BertModel(
        BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20, **small)
    )
    gpt2 = GPT2Model(
        GPT2Config(n_embd=16, n_layer=1, n_head=2, n_positions=40, bos_token_id=1, eos_token_id=2, **small)
    )
    t5 = T5Model(T5Config(d_model=16, d_kv=8, d_ff=20, num_layers=1, num_heads=2, **small))
    assert positional_pictures(bert, max_positions=16).scheme == "learned"
    report = positional_pictures(gpt2, max_positions=16)
    assert report.scheme == "learned"
    np.testing.assert_array_equal(_first_image(report.pictures[0].figure), gpt2.wpe.weight[:16].detach().numpy())
    report = positional_pictures(t5, length=6)
    assert report.scheme == "relative_bias" and len(report.pictures) == 4
