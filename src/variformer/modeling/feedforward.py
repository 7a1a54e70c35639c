"""Position-wise feed-forward blocks: plain (act(x W_up) W_down) and gated (act(x W_gate) * x W_up) W_down.

Legend: batch, seq, hidden = `config.hidden_size`, inner = `config.intermediate_size`.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn
from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts
from transformers.activations import ACT2FN

from ..configuration import VariformerConfig

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_CUBIC = 0.044715


def tanh_gelu(inputs: torch.Tensor) -> torch.Tensor:
    """GPT-2's tanh GELU with the ops and constants of transformers' `NewGELUActivation` (so the same values)."""
    return 0.5 * inputs * (1.0 + torch.tanh(SQRT_2_OVER_PI * (inputs + GELU_CUBIC * torch.pow(inputs, 3.0))))


class _TanhGELUFunction(torch.autograd.Function):
    """`tanh_gelu` that keeps only its input for backward (autograd would keep four intermediates of the same
    size, half of a GPT-2 layer's activation memory) and computes the derivative from it."""

    @staticmethod
    def forward(ctx, inputs):
        ctx.save_for_backward(inputs)
        return tanh_gelu(inputs)

    @staticmethod
    def backward(ctx, grad_output):
        (inputs,) = ctx.saved_tensors
        tanh = torch.tanh(SQRT_2_OVER_PI * (inputs + GELU_CUBIC * torch.pow(inputs, 3.0)))
        slope = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * inputs * inputs)
        return grad_output * (0.5 * (1.0 + tanh) + 0.5 * inputs * (1.0 - tanh * tanh) * slope)


class VariformerTanhGELU(nn.Module):
    """The "gelu_new" activation. Same values as transformers' `NewGELUActivation`; when a gradient is needed it
    stores only its input. (batch, seq, inner) -> same."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and inputs.requires_grad:
            return _TanhGELUFunction.apply(inputs)
        return tanh_gelu(inputs)


def build_activation(name: str) -> nn.Module:
    """The activation module named `name` (a key of transformers' `ACT2FN`; "gelu_new" is `VariformerTanhGELU`)."""
    return VariformerTanhGELU() if name == "gelu_new" else ACT2FN[name]


_MATRIX_PRODUCTS = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default}


def _keep_inner_products(hidden_size: int, context, op, *args, **kwargs) -> CheckpointPolicy:
    """Selective-checkpoint policy: keep the outputs of the matrix products into the inner width (the activation's
    inputs); recompute every other op. The output projection's result is not needed by backward, and the
    recomputation stops once the tensors backward needs exist, so that product is not recomputed."""
    if op in _MATRIX_PRODUCTS and args[-1].shape[-1] != hidden_size:  # the second factor's width is the output's
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


class VariformerMLP(nn.Module):
    """(batch, seq, hidden) -> (batch, seq, hidden). `gate_proj` exists only for gated activations.

    While training, the block runs under PyTorch's selective activation checkpointing (`_keep_inner_products`): the
    outputs of the products into the inner width are kept, and the activation (and the gate's product) is
    recomputed from them in backward, instead of autograd keeping the (batch, seq, inner) activation output that
    `down_proj` reads. That is one (plain GELU) to two (gated) tensors of the inner width fewer per layer, for one
    elementwise pass more and no matrix product more; ReLU, whose backward reads its own output, keeps as much as
    before. Values and gradients are the plain block's. Compiled code is left to the compiler's own choices.
    """

    def __init__(self, config: VariformerConfig):
        super().__init__()
        self.is_gated = config.is_gated_mlp
        if self.is_gated:
            self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=config.mlp_bias)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=config.mlp_bias)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias)
        self.act_fn = build_activation(config.mlp_activation)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.training and torch.is_grad_enabled() and not torch.compiler.is_compiling():
            return checkpoint(self._project, hidden_states, use_reentrant=False, context_fn=self._recompute_context)
        return self._project(hidden_states)

    def _recompute_context(self):
        return create_selective_checkpoint_contexts(partial(_keep_inner_products, self.down_proj.out_features))

    def _project(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.is_gated:
            inner = self.act_fn(self.gate_proj(hidden_states)) * self.up_proj(hidden_states)  # (batch, seq, inner)
        else:
            inner = self.act_fn(self.up_proj(hidden_states))  # (batch, seq, inner)
        return self.down_proj(inner)


__all__ = ["VariformerMLP", "VariformerTanhGELU", "build_activation", "tanh_gelu"]
