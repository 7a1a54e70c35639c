"""Shared prefixes computed once (`adapters/shared_prefix.py`): scores equal the unshared path, one request at a
time and an independent reference, for stock transformers models (GPT-2, Llama, T5) and Variformer models, with
left and right padding; the prefix really runs once (counted in the forwards); models whose cache cannot be reused
fall back; "auto" batches stay within their token budget."""

from __future__ import annotations

import pytest
import torch

from variformer.eval_harness.adapters import HFAdapter
from variformer.eval_harness.records import LoglikelihoodRequest
from variformer.eval_harness.runner import Runner

from . import tiny_models
from .test_adapters import reference_loglikelihood

PRIMER = "Question: Is this sentence positive or negative?\nAnswer: positive\n\n"  # fits the 128 positions
QUESTIONS = {
    "A dog runs on the grass .": [" positive", " negative", " a dog runs on the grass"],
    "Two dogs play in the snow , and one of them is very happy about it .": [" positive", " negative"],
    "Ein Mann mit einem orangefarbenen Hut": [" A man in an orange hat .", " A man", " Ein"],
    "it 's a charming and often affecting jour": ["ney .", "ney", " positive"],  # context ends inside a word
}
REQUESTS = [
    LoglikelihoodRequest(PRIMER + "Question: " + question + "\nAnswer:", choice)
    for question, choices in QUESTIONS.items()
    for choice in choices
] + [
    LoglikelihoodRequest("", "Two dogs play in the snow ."),  # empty context: BOS stands in
    LoglikelihoodRequest("a " * 150, " very long context, truncated on the left"),
    LoglikelihoodRequest("a " * 150, " very"),
]


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_models.tiny_tokenizer()


def _llama(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        max_position_embeddings=tiny_models.MAX_POSITIONS,
    )
    return LlamaForCausalLM(config).eval()


MODELS = {
    "gpt2": tiny_models.gpt2,
    "llama": _llama,
    "t5": tiny_models.t5,
    "variformer-decoder": lambda tok: tiny_models.variformer("decoder", tok),
    "variformer-encoder-decoder": lambda tok: tiny_models.variformer("encoder-decoder", tok),
}


class ForwardLog:
    """Records (rows, new tokens, cached positions) of every forward of `model` while active."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def __enter__(self):
        original = self.model.forward

        def forward(*args, **kwargs):
            cache = next((kwargs[name] for name in ("cache", "past_key_values") if kwargs.get(name) is not None), None)
            ids = kwargs.get("input_ids")
            self.calls.append(
                (
                    ids.shape[0] if ids is not None else None,
                    ids.shape[1] if ids is not None else 0,
                    cache.get_seq_length() if cache is not None else 0,
                )
            )
            return original(*args, **kwargs)

        self.model.forward = forward
        return self

    def __exit__(self, *exc):
        del self.model.forward


def _assert_same(results, expected, tolerance=1e-4):
    for result, other in zip(results, expected, strict=True):
        assert result.logprob == pytest.approx(other.logprob, abs=tolerance)
        assert result.num_tokens == other.num_tokens and result.is_greedy == other.is_greedy


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_shared_equals_unshared_one_at_a_time_and_reference(tokenizer, name, padding_side):
    model = MODELS[name](tokenizer)
    shared = HFAdapter(model, tokenizer, batch_size=4, padding_side=padding_side)
    results = shared.loglikelihood(REQUESTS)
    tokens = shared.loglikelihood_tokens
    assert shared.share_prefixes and 0 < tokens["run"] < 0.6 * tokens["scored_whole"], tokens
    unshared = HFAdapter(model, tokenizer, batch_size=4, padding_side=padding_side, share_prefixes=False)
    _assert_same(results, unshared.loglikelihood(REQUESTS))
    single = HFAdapter(model, tokenizer, batch_size=1, padding_side=padding_side)
    _assert_same(results, [result for request in REQUESTS for result in single.loglikelihood([request])])
    for request, result in zip(REQUESTS, results):
        reference = reference_loglikelihood(model, tokenizer, request.context, request.continuation)
        assert result.logprob == pytest.approx(reference, abs=1e-4)


@pytest.mark.parametrize("position", ["learned", "sinusoidal", "relative_bias", "none"])
def test_variformer_positions_shared_equals_unshared(tokenizer, position):
    from variformer import VariformerConfig, VariformerForCausalLM

    config = VariformerConfig.from_preset(
        "tiny-decoder",
        max_position_embeddings=tiny_models.MAX_POSITIONS,
        position_embedding_type=position,
        vocab_size=len(tokenizer),
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(0)
    model = VariformerForCausalLM(config).eval()
    shared = HFAdapter(model, tokenizer, batch_size=3).loglikelihood(REQUESTS)
    assert all(isinstance(result.logprob, float) for result in shared)
    _assert_same(shared, HFAdapter(model, tokenizer, batch_size=1, share_prefixes=False).loglikelihood(REQUESTS))


def test_the_prefix_runs_once_and_later_calls_reuse_it(tokenizer):
    model = tiny_models.gpt2(tokenizer)
    adapter = HFAdapter(model, tokenizer, batch_size=4)
    primer_tokens = len(tokenizer(PRIMER + "Question:", add_special_tokens=False)["input_ids"])
    first, second = REQUESTS[:5], REQUESTS[5:11]
    with ForwardLog(model) as log:
        adapter.loglikelihood(first)
    rows, new, cached = log.calls[0]
    assert (rows, cached) == (1, 0) and new >= primer_tokens - 1  # step 1: the prefix alone
    assert all(cached >= primer_tokens - 1 for _, _, cached in log.calls[1:])  # everything else follows it
    assert all(new < primer_tokens for _, new, _ in log.calls[1:])  # no later forward re-runs the primer
    with ForwardLog(model) as log:
        results = adapter.loglikelihood(second)
    assert all(cached > 0 for _, _, cached in log.calls)  # the previous call's prefix is reused
    _assert_same(results, HFAdapter(model, tokenizer, batch_size=4, share_prefixes=False).loglikelihood(second))


def test_changed_weights_recompute_the_prefix(tokenizer):
    model = tiny_models.gpt2(tokenizer)
    adapter = HFAdapter(model, tokenizer, batch_size=4)
    adapter.loglikelihood(REQUESTS[:5])
    with torch.no_grad():
        model.transformer.h[0].attn.c_attn.weight.mul_(1.5)  # an optimizer step would do the same in place
    with ForwardLog(model) as log:
        results = adapter.loglikelihood(REQUESTS[:5])
    assert log.calls[0][0] == 1 and log.calls[0][2] == 0
    _assert_same(results, HFAdapter(model, tokenizer, batch_size=1, share_prefixes=False).loglikelihood(REQUESTS[:5]))


def test_seq2seq_encodes_each_source_once(tokenizer):
    model = tiny_models.t5(tokenizer)
    adapter = HFAdapter(model, tokenizer, batch_size=8)
    encoder, rows = model.get_encoder(), []
    original = encoder.forward

    def forward(*args, **kwargs):
        rows.append(kwargs["input_ids"].shape[0])
        return original(*args, **kwargs)

    encoder.forward = forward
    try:
        adapter.loglikelihood(REQUESTS)
    finally:
        del encoder.forward
    assert sum(rows) == len({request.context.rstrip() for request in REQUESTS})


def test_a_cache_that_cannot_be_reused_falls_back(tokenizer, caplog):
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    config = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        sliding_window=16,
        max_position_embeddings=tiny_models.MAX_POSITIONS,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    model = MistralForCausalLM(config).eval()
    adapter = HFAdapter(model, tokenizer, batch_size=4)
    results = adapter.loglikelihood(REQUESTS)
    assert "scoring every request whole" in caplog.text and "DynamicSlidingWindowLayer" in caplog.text
    before = dict(adapter.loglikelihood_tokens)
    _assert_same(adapter.loglikelihood(REQUESTS), results, tolerance=0)  # later calls go straight to whole scoring
    assert {key: count - before[key] for key, count in adapter.loglikelihood_tokens.items()} == {
        "run": before["scored_whole"],
        "scored_whole": before["scored_whole"],
    }
    _assert_same(results, HFAdapter(model, tokenizer, batch_size=1, share_prefixes=False).loglikelihood(REQUESTS))


def test_auto_batches_fit_the_token_budget(tokenizer):
    model = tiny_models.gpt2(tokenizer)
    adapter = HFAdapter(model, tokenizer, batch_size="auto", max_batch_tokens=300)
    with ForwardLog(model) as log:
        results = adapter.loglikelihood(REQUESTS)
    assert any(rows > 1 for rows, _, _ in log.calls)
    assert all(rows * (new + cached) <= 300 for rows, new, cached in log.calls if rows > 1)
    _assert_same(results, HFAdapter(model, tokenizer, batch_size=1).loglikelihood(REQUESTS))
    fixed = HFAdapter(model, tokenizer, batch_size=2, share_prefixes=False)
    with ForwardLog(model) as log:
        fixed.loglikelihood(REQUESTS)
    assert max(rows for rows, _, _ in log.calls) == 2


def test_runner_chunks_keep_a_context_together():
    requests = [LoglikelihoodRequest(f"context {i % 3}", f" choice {i} " + "x" * (i * 7 % 11)) for i in range(12)]
    from variformer.eval_harness import FakeAdapter

    chunks = Runner(FakeAdapter(architecture="causal"), chunk_size=4, progress=False)._chunks(requests)
    assert [len({request.context for request in chunk}) for chunk in chunks] == [1, 1, 1]
