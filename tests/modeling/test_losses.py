"""The chunked language-model loss equals the plain computation, in loss and gradients.

`linear_cross_entropy` is checked against `F.cross_entropy` over the full logits (ignored tokens, label
smoothing, `num_items_in_batch` as Trainer passes it, bias, chunk sizes); each language-model head in training
mode against the same head with `lm_loss_chunk_size=None` (the full logits and transformers' loss); eval mode and
generation are unchanged.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from variformer import VariformerConfig
from variformer.modeling.losses import fusable_head, linear_cross_entropy

from .testers import DECODER, ENCODER, ENCODER_DECODER, IGNORE_DYNAMO_AUTOGRAD_CTX_WARNING, assert_close

VOCAB, HIDDEN = 37, 16


def _plain_loss(hidden, head, labels, ignore_index=-100, label_smoothing=0.0, num_items_in_batch=None):
    logits = head(hidden).float().reshape(-1, head.out_features)  # (tokens, vocab)
    reduction = "mean" if num_items_in_batch is None else "sum"
    loss = nn.functional.cross_entropy(
        logits, labels.reshape(-1), ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
    )
    return loss if num_items_in_batch is None else loss / num_items_in_batch


def _loss_and_grads(loss_fn, hidden, head):
    hidden = hidden.detach().requires_grad_(True)
    head.zero_grad(set_to_none=True)
    loss = loss_fn(hidden, head)
    loss.backward()
    grads = [hidden.grad] + [parameter.grad for parameter in head.parameters()]
    return loss.detach(), grads


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("num_items_in_batch", [None, 29, torch.tensor(29)], ids=["mean", "int", "tensor"])
@pytest.mark.parametrize("chunk_size", [1, 4, 1000])
def test_loss_and_gradients_equal_the_full_logits(bias, label_smoothing, num_items_in_batch, chunk_size):
    torch.manual_seed(0)
    head = nn.Linear(HIDDEN, VOCAB, bias=bias)
    hidden = torch.randn(3, 7, HIDDEN)
    labels = torch.randint(0, VOCAB, (3, 7))
    labels[0, :4] = -100
    options = dict(label_smoothing=label_smoothing, num_items_in_batch=num_items_in_batch)
    expected, expected_grads = _loss_and_grads(lambda h, m: _plain_loss(h, m, labels, **options), hidden, head)
    actual, grads = _loss_and_grads(
        lambda h, m: linear_cross_entropy(h, m, labels, chunk_size=chunk_size, **options), hidden, head
    )
    assert_close(actual, expected)
    assert len(grads) == len(expected_grads) == (3 if bias else 2)
    for grad, expected_grad in zip(grads, expected_grads):
        assert_close(grad, expected_grad)


def test_custom_ignore_index_and_a_frozen_head():
    """Only the gradients that are needed are computed: a frozen head (LoRA base) gets none."""
    torch.manual_seed(1)
    head = nn.Linear(HIDDEN, VOCAB).requires_grad_(False)
    hidden = torch.randn(10, HIDDEN, requires_grad=True)
    labels = torch.randint(0, VOCAB, (10,))
    labels[::3] = -1
    loss = linear_cross_entropy(hidden, head, labels, ignore_index=-1, chunk_size=3)
    loss.backward()
    reference = hidden.detach().requires_grad_(True)
    _plain_loss(reference, head, labels, ignore_index=-1).backward()
    assert_close(loss, _plain_loss(hidden.detach(), head, labels, ignore_index=-1))
    assert_close(hidden.grad, reference.grad)
    assert head.weight.grad is None and head.bias.grad is None


def test_no_grad_gives_the_loss_only():
    head = nn.Linear(HIDDEN, VOCAB)
    hidden, labels = torch.randn(6, HIDDEN), torch.randint(0, VOCAB, (6,))
    with torch.no_grad():
        loss = linear_cross_entropy(hidden, head, labels, chunk_size=4)
    assert not loss.requires_grad
    assert_close(loss, _plain_loss(hidden, head, labels))


def test_only_a_plain_linear_head_is_read_directly():
    head = nn.Linear(HIDDEN, VOCAB)
    assert fusable_head(head)
    head.register_forward_hook(lambda module, args, output: output)
    assert not fusable_head(head)
    assert not fusable_head(nn.Sequential(nn.Linear(HIDDEN, VOCAB)))


# ---------------------------------------------------------------------------------------------- heads
HEAD_TESTERS = [DECODER, ENCODER, ENCODER_DECODER]


def _head_pair(tester, **overrides):
    """The same weights twice: chunked loss (chunks of 5 tokens) and the plain loss (lm_loss_chunk_size=None)."""
    config = tester.config(hidden_dropout_prob=0.0, attention_dropout=0.0, lm_loss_chunk_size=5, **overrides)
    chunked = tester.lm_class(config).train()
    plain = tester.lm_class(VariformerConfig(**{**config.to_dict(), "lm_loss_chunk_size": None})).train()
    plain.load_state_dict(chunked.state_dict())
    return chunked, plain


def _labels(tester, inputs):
    labels = (inputs["decoder_input_ids"] if tester.is_encoder_decoder else inputs["input_ids"]).clone()
    labels[:, ::3] = -100  # unlabelled positions (MLM: unmasked tokens; others: padding)
    return labels


@pytest.mark.parametrize("num_items_in_batch", [None, torch.tensor(11)], ids=["mean", "num_items_in_batch"])
@pytest.mark.parametrize("tester", HEAD_TESTERS, ids=lambda tester: tester.architecture)
def test_head_in_training_equals_the_plain_loss(tester, num_items_in_batch):
    chunked, plain = _head_pair(tester)
    inputs = tester.inputs(chunked.config)
    labels = _labels(tester, inputs)
    extra = {} if num_items_in_batch is None else {"num_items_in_batch": num_items_in_batch}
    chunked_out = chunked(**inputs, labels=labels, **extra)
    plain_out = plain(**inputs, labels=labels, **extra)
    assert chunked_out.logits is None and plain_out.logits is not None
    assert_close(chunked_out.loss, plain_out.loss)
    chunked_out.loss.backward()
    plain_out.loss.backward()
    plain_grads = dict(plain.named_parameters())
    for name, parameter in chunked.named_parameters():
        assert_close(parameter.grad, plain_grads[name].grad, msg=name)


@pytest.mark.parametrize("tester", HEAD_TESTERS, ids=lambda tester: tester.architecture)
def test_eval_mode_keeps_the_logits_and_the_loss(tester):
    chunked, plain = _head_pair(tester)
    inputs = tester.inputs(chunked.config)
    labels = _labels(tester, inputs)
    with torch.no_grad():
        chunked_out = chunked.eval()(**inputs, labels=labels)
        plain_out = plain.eval()(**inputs, labels=labels)
        train_loss = chunked.train()(**inputs, labels=labels).loss
    assert_close(chunked_out.logits, plain_out.logits, atol=0, rtol=0)
    assert_close(chunked_out.loss, plain_out.loss, atol=0, rtol=0)
    assert_close(train_loss, plain_out.loss)


def test_causal_lm_takes_shift_labels():
    """transformers' `shift_labels` (targets already shifted, e.g. for packed sequences) replace the shift."""
    chunked, plain = _head_pair(DECODER)
    inputs = DECODER.inputs(chunked.config)
    labels = inputs["input_ids"].clone()
    shift_labels = torch.randint(0, chunked.config.vocab_size, labels.shape)
    loss = chunked(**inputs, labels=labels, shift_labels=shift_labels).loss
    assert_close(loss, plain(**inputs, labels=labels, shift_labels=shift_labels).loss)


def test_masked_lm_reads_only_labelled_positions():
    """The masked LM's prediction transform and head see only the labelled positions in training."""
    chunked, _ = _head_pair(ENCODER)
    inputs = ENCODER.inputs(chunked.config)
    labels = torch.full_like(inputs["input_ids"], -100)
    labels[0, 1], labels[1, 4] = 5, 7
    seen = []
    chunked.transform.register_forward_hook(lambda module, args, output: seen.append(tuple(args[0].shape)))
    chunked(**inputs, labels=labels).loss.backward()
    assert seen == [(2, chunked.config.hidden_size)]


@IGNORE_DYNAMO_AUTOGRAD_CTX_WARNING
def test_training_forward_compiles_without_graph_breaks():
    """The chunked loss (an autograd.Function with a fixed chunk loop) and the masked LM's compiled path (every
    position kept) trace as one graph."""
    for tester in (DECODER, ENCODER):  # the seq2seq head takes the decoder's path
        chunked, _ = _head_pair(tester)
        inputs = tester.inputs(chunked.config)
        labels = _labels(tester, inputs)
        torch._dynamo.reset()
        explanation = torch._dynamo.explain(chunked)(**inputs, labels=labels)
        assert explanation.graph_break_count == 0, (tester.architecture, explanation.break_reasons)


def test_invalid_chunk_size_is_refused():
    with pytest.raises(ValueError, match=r"lm_loss_chunk_size=0.*positive"):
        DECODER.config(lm_loss_chunk_size=0)
