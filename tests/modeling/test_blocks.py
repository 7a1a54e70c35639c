"""Building blocks against their defining formulas: sinusoidal table, rotary embeddings, T5 buckets, norms,
feed-forward activations, grouped-query attention."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from variformer.configuration.config import GATED_ACTIVATIONS, PLAIN_ACTIVATIONS
from variformer.modeling.feedforward import VariformerMLP
from variformer.modeling.norms import VariformerRMSNorm, build_norm
from variformer.modeling.positions import (
    VariformerRotaryEmbedding,
    apply_rotary_pos_emb,
    relative_position_bucket,
    sinusoidal_table,
)

from .testers import DECODER, ENCODER, ENCODER_DECODER, assert_close


def test_sinusoidal_table_follows_the_2017_formula():
    table = sinusoidal_table(50, 32)  # (positions, dim)
    position, i = 37, 5
    angle = position / 10000 ** (2 * i / 32)
    assert table.shape == (50, 32)
    assert table[position, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
    assert table[position, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_rotary_scores_depend_only_on_relative_position():
    config = DECODER.config()
    rotary = VariformerRotaryEmbedding(config)
    query, key = torch.randn(1, 1, 1, config.head_dim), torch.randn(1, 1, 1, config.head_dim)

    def score(query_position: int, key_position: int) -> torch.Tensor:
        cos_q, sin_q = rotary(query, torch.tensor([[query_position]]))
        cos_k, sin_k = rotary(key, torch.tensor([[key_position]]))
        rotated_query, _ = apply_rotary_pos_emb(query, query, cos_q, sin_q)
        _, rotated_key = apply_rotary_pos_emb(key, key, cos_k, sin_k)
        return (rotated_query * rotated_key).sum()

    assert_close(score(9, 4), score(5, 0))
    assert_close(score(3, 3), (query * key).sum())  # equal positions: no rotation left in the score


def test_relative_position_buckets():
    distances = torch.arange(-200, 201)
    bidirectional = relative_position_bucket(distances, bidirectional=True, num_buckets=32, max_distance=128)
    causal = relative_position_bucket(distances, bidirectional=False, num_buckets=32, max_distance=128)
    assert bidirectional.min() >= 0 and bidirectional.max() <= 31 and causal.max() <= 31
    # small distances get exact buckets; keys after the query fall in the upper half when bidirectional
    assert bidirectional[200 + 3] == 16 + 3 and bidirectional[200 - 3] == 3
    assert causal[200 - 5] == 5 and causal[200 + 5] == 0  # causal: future keys share bucket 0
    assert causal[200 - 200] == causal[200 - 128] == 31  # beyond max_distance: the last bucket


def test_rms_norm_formula():
    norm = VariformerRMSNorm(32, eps=1e-6)
    nn.init.normal_(norm.weight)
    hidden = torch.randn(2, 3, 32)
    expected = norm.weight * hidden / torch.sqrt(hidden.pow(2).mean(-1, keepdim=True) + 1e-6)
    assert_close(norm(hidden), expected)
    assert isinstance(build_norm(DECODER.config(norm_type="layernorm")), nn.LayerNorm)


@pytest.mark.parametrize("hidden_act", PLAIN_ACTIVATIONS + tuple(GATED_ACTIVATIONS))
def test_feed_forward_formula(hidden_act):
    config = DECODER.config(hidden_act=hidden_act)
    mlp = VariformerMLP(config)
    hidden = torch.randn(2, 3, config.hidden_size)
    act = {
        "relu": torch.relu,
        "gelu": nn.functional.gelu,
        "silu": nn.functional.silu,
        "gelu_new": lambda x: nn.functional.gelu(x, approximate="tanh"),
    }[config.mlp_activation]
    if hidden_act in GATED_ACTIVATIONS:
        inner = act(mlp.gate_proj(hidden)) * mlp.up_proj(hidden)
    else:
        assert not hasattr(mlp, "gate_proj")
        inner = act(mlp.up_proj(hidden))
    assert_close(mlp(hidden), mlp.down_proj(inner))


@pytest.mark.parametrize("tester", [ENCODER, DECODER, ENCODER_DECODER], ids=lambda t: t.architecture)
@pytest.mark.parametrize("num_key_value_heads", [2, 1], ids=["grouped-query", "multi-query"])
def test_grouped_query_attention_equals_multi_head_with_shared_key_values(tester, num_key_value_heads):
    """A GQA/MQA model equals the multi-head model whose key/value heads are copies within each group."""
    grouped = tester.lm_class(tester.config(num_key_value_heads=num_key_value_heads)).eval()
    multi_head = tester.lm_class(tester.config(num_key_value_heads=4)).eval()
    repeats = 4 // num_key_value_heads
    state = {}
    for name, tensor in grouped.state_dict().items():
        if name.endswith(("k_proj.weight", "k_proj.bias", "v_proj.weight", "v_proj.bias")):
            heads = tensor.view(num_key_value_heads, -1, *tensor.shape[1:])  # (kv_heads, head_dim, ...)
            tensor = heads.repeat_interleave(repeats, dim=0).reshape(-1, *tensor.shape[1:])  # (heads*head_dim, ...)
        state[name] = tensor
    multi_head.load_state_dict(state)
    inputs = tester.inputs(grouped.config)
    with torch.no_grad():
        assert_close(multi_head(**inputs).logits, grouped(**inputs).logits)


def test_tanh_gelu_equals_transformers_and_keeps_only_its_input():
    """The "gelu_new" activation gives NewGELUActivation's values bit for bit and the same gradient, and saves
    one tensor for backward (autograd through NewGELUActivation keeps several of the input's size)."""
    from transformers.activations import ACT2FN

    from variformer.modeling.feedforward import VariformerTanhGELU

    inputs = (3 * torch.randn(4, 7, 37)).requires_grad_(True)
    ours, reference = VariformerTanhGELU()(inputs), ACT2FN["gelu_new"](inputs)
    assert torch.equal(ours, reference)
    (grad,) = torch.autograd.grad(ours.sum(), inputs)
    (expected_grad,) = torch.autograd.grad(reference.sum(), inputs)
    torch.testing.assert_close(grad, expected_grad, atol=1e-6, rtol=1e-5)
    with torch.no_grad():
        assert torch.equal(VariformerTanhGELU()(inputs), reference)
    double = inputs.detach().double().requires_grad_(True)
    assert torch.autograd.gradcheck(VariformerTanhGELU(), (double,))

    saved = []
    with torch.autograd.graph.saved_tensors_hooks(
        lambda tensor: saved.append(tensor.numel()) or tensor, lambda tensor: tensor
    ):
        VariformerTanhGELU()(inputs)
    assert saved == [inputs.numel()]


class _CountingMatrixProducts(TorchDispatchMode):
    """Counts the matrix products (mm, addmm, bmm) dispatched while active."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        from variformer.modeling.feedforward import _MATRIX_PRODUCTS

        if func in _MATRIX_PRODUCTS:
            self.count += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("activation", ["gelu", "gelu_new", "swiglu", "relu"])
def test_mlp_recomputes_its_activation_in_training(activation):
    """In training, the MLP keeps no activation output for backward (it is recomputed from the projections'
    outputs, with no matrix product run again), and its output and gradients equal the plain computation's."""
    import weakref

    from variformer import VariformerConfig
    from variformer.modeling.feedforward import VariformerMLP

    config = VariformerConfig(
        architecture="decoder", hidden_size=32, intermediate_size=37, num_attention_heads=4, hidden_act=activation
    )
    torch.manual_seed(0)
    mlp = VariformerMLP(config).train()
    inputs = torch.randn(2, 5, 32, requires_grad=True)
    activation_outputs = []
    mlp.act_fn.register_forward_hook(lambda module, args, output: activation_outputs.append(weakref.ref(output)))

    output = mlp(inputs)
    assert activation_outputs[-1]() is None  # freed after the forward: nothing holds it for backward
    with _CountingMatrixProducts() as backward_products:
        gradients = torch.autograd.grad(output.square().sum(), [inputs, *mlp.parameters()])
    projections = 3 if config.is_gated_mlp else 2
    assert backward_products.count == 2 * projections  # input and weight gradients: no product recomputed

    plain = mlp._project(inputs)  # the block without selective checkpointing
    assert activation_outputs[-1]() is not None  # down_proj's backward holds it
    expected = torch.autograd.grad(plain.square().sum(), [inputs, *mlp.parameters()])
    torch.testing.assert_close(output, plain, rtol=0, atol=0)
    for actual, reference in zip(gradients, expected):
        torch.testing.assert_close(actual, reference, rtol=1e-6, atol=1e-6)
