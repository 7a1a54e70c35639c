"""Cross-entropy of a linear language-model head that never holds the full logits.

`linear_cross_entropy(hidden_states, head, labels)` equals
`F.cross_entropy(head(hidden_states).float(), labels, ignore_index=..., label_smoothing=...)` (mean over the
labelled tokens, or the sum divided by `num_items_in_batch` as transformers' Trainer passes it), but the tokens go
through the head a chunk at a time: each chunk's fp32 logits are turned into the loss and into the gradients of
the hidden states, the weight and the bias right away (as Liger's fused linear cross-entropy does), then freed.
Peak memory is one chunk of logits instead of all of them, and no matmul is recomputed: backward only scales the
stored gradients by the incoming one.

Legend: tokens = flattened batch positions, chunk = tokens per chunk, hidden = head input width, vocab = head
output width.
"""

from __future__ import annotations

import torch
from torch import nn


def fusable_head(head: nn.Module) -> bool:
    """Whether `linear_cross_entropy` can read `head`'s weights directly: a plain `nn.Linear` without forward hooks
    (a PEFT-wrapped, quantized, tensor-parallel or offloaded head goes through its own forward instead)."""
    return type(head) is nn.Linear and not head._forward_hooks and not head._forward_pre_hooks


def linear_cross_entropy(
    hidden_states: torch.Tensor,
    head: nn.Linear,
    labels: torch.LongTensor,
    *,
    num_items_in_batch: torch.Tensor | int | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    chunk_size: int = 1024,
) -> torch.Tensor:
    """Scalar loss of `head(hidden_states)` (..., vocab) against `labels` (...), computed `chunk_size` tokens at a
    time. Reduction as transformers' `fixed_cross_entropy`: the mean over tokens whose label is not `ignore_index`,
    or, when `num_items_in_batch` is given, the sum divided by it."""
    hidden_states = hidden_states.reshape(-1, hidden_states.shape[-1])  # (tokens, hidden)
    labels = labels.reshape(-1).to(hidden_states.device)  # (tokens,)
    total = _ChunkedLinearCrossEntropy.apply(
        hidden_states,
        head.weight,
        head.bias,
        labels,
        chunk_size,
        ignore_index,
        label_smoothing,
        torch.is_grad_enabled(),
    )
    if num_items_in_batch is None:
        return total / (labels != ignore_index).sum()
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    """Summed token losses of a linear head; the gradients are computed in forward, chunk by chunk."""

    @staticmethod
    def forward(ctx, hidden_states, weight, bias, labels, chunk_size, ignore_index, label_smoothing, grad_enabled):
        grads = _Gradients(hidden_states, weight, bias, grad_enabled)  # grad mode is off inside forward
        total = hidden_states.new_zeros((), dtype=torch.float32)
        for start in range(0, hidden_states.shape[0], chunk_size):
            chunk = slice(start, start + chunk_size)
            loss, grad_logits = _chunk_loss(
                hidden_states[chunk], weight, bias, labels[chunk], ignore_index, label_smoothing, grads.wanted
            )
            total = total + loss
            if grads.wanted:
                grads.add(chunk, hidden_states[chunk], weight, grad_logits)
        ctx.save_for_backward(*grads.tensors())
        ctx.has = grads.has()
        return total

    @staticmethod
    def backward(ctx, grad_output):
        saved = iter(ctx.saved_tensors)
        grad_hidden, grad_weight, grad_bias = (next(saved) * grad_output if has else None for has in ctx.has)
        return grad_hidden, grad_weight, grad_bias, None, None, None, None, None


class _Gradients:
    """The gradients `_ChunkedLinearCrossEntropy` fills in forward, for the inputs that need one (fp32 accumulators
    for the weight and bias, cast to their dtype at the end)."""

    def __init__(
        self, hidden_states: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, grad_enabled: bool
    ):
        needs = [
            grad_enabled and tensor is not None and tensor.requires_grad for tensor in (hidden_states, weight, bias)
        ]
        self.wanted = any(needs)
        self.dtypes = [tensor.dtype if tensor is not None else None for tensor in (hidden_states, weight, bias)]
        self.hidden = torch.zeros_like(hidden_states) if needs[0] else None  # (tokens, hidden)
        self.weight = torch.zeros_like(weight, dtype=torch.float32) if needs[1] else None  # (vocab, hidden)
        self.bias = torch.zeros_like(bias, dtype=torch.float32) if needs[2] else None  # (vocab,)

    def add(self, chunk: slice, hidden_chunk: torch.Tensor, weight: torch.Tensor, grad_logits: torch.Tensor) -> None:
        """Accumulate one chunk's contribution; `grad_logits` is (chunk, vocab) fp32."""
        compute = grad_logits.to(_compute_dtype(weight))
        if self.hidden is not None:
            self.hidden[chunk] = (compute @ weight.to(compute.dtype)).to(self.hidden.dtype)  # (chunk, hidden)
        if self.weight is not None:
            self.weight += (compute.T @ hidden_chunk.to(compute.dtype)).float()  # (vocab, hidden)
        if self.bias is not None:
            self.bias += grad_logits.sum(0)  # (vocab,)

    def tensors(self) -> list[torch.Tensor]:
        casts = zip((self.hidden, self.weight, self.bias), self.dtypes)
        return [tensor.to(dtype) for tensor, dtype in casts if tensor is not None]

    def has(self) -> tuple[bool, bool, bool]:
        return self.hidden is not None, self.weight is not None, self.bias is not None


def _compute_dtype(weight: torch.Tensor) -> torch.dtype:
    """The matmul dtype `nn.Linear` would use: the autocast dtype inside an autocast region, else the weight's."""
    device_type = weight.device.type
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return weight.dtype


def _chunk_loss(hidden_chunk, weight, bias, labels, ignore_index: int, label_smoothing: float, with_grad: bool):
    """Summed loss of one chunk and, when `with_grad`, d(summed loss)/d(logits) (chunk, vocab) in fp32.

    Loss per labelled token: (1 - s) * (lse - logit[label]) + s * (lse - mean(logits)), PyTorch's label smoothing
    s; the gradient is softmax - (1 - s) * onehot(label) - s / vocab, zero for ignored tokens.
    """
    dtype = _compute_dtype(weight)
    logits = nn.functional.linear(
        hidden_chunk.to(dtype), weight.to(dtype), bias.to(dtype) if bias is not None else None
    ).float()  # (chunk, vocab)
    valid = labels != ignore_index  # (chunk,)
    targets = torch.where(valid, labels, 0)[:, None]  # (chunk, 1)
    lse = torch.logsumexp(logits, dim=-1, keepdim=True)  # (chunk, 1)
    losses = (1.0 - label_smoothing) * (lse - logits.gather(1, targets))  # (chunk, 1)
    if label_smoothing:
        losses = losses + label_smoothing * (lse - logits.mean(-1, keepdim=True))
    loss = (losses.squeeze(1) * valid).sum()
    if not with_grad:
        return loss, None
    grad_logits = logits.sub_(lse).exp_()  # softmax, in place of the logits (chunk, vocab)
    if label_smoothing:
        grad_logits.sub_(label_smoothing / logits.shape[-1])
    grad_logits.scatter_add_(1, targets, torch.full_like(targets, label_smoothing - 1.0, dtype=grad_logits.dtype))
    return loss, grad_logits.mul_(valid[:, None])


__all__ = ["fusable_head", "linear_cross_entropy"]
