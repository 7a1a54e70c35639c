"""HFAdapter with stock transformers models (GPT-2, BERT, T5) and Variformer models built from tiny configs:
batched log-likelihoods equal one-at-a-time ones (left and right padding) and an independent reference,
classification, generation, batch-size auto and clear errors."""

from __future__ import annotations

import pytest
import torch

from variformer.eval_harness.adapters import HFAdapter, detect_architecture
from variformer.eval_harness.errors import CapabilityError
from variformer.eval_harness.records import (
    ClassificationRequest,
    GenerationRequest,
    GenerationSettings,
    LoglikelihoodRequest,
)

from . import tiny_models

REQUESTS = [
    LoglikelihoodRequest(
        "it 's a charming and often affecting journey .\nQuestion: Is this sentence positive or negative?\nAnswer:",
        " positive",
    ),
    LoglikelihoodRequest(
        "it 's a charming and often affecting journey .\nQuestion: Is this sentence positive or negative?\nAnswer:",
        " negative",
    ),
    LoglikelihoodRequest("Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt.", " A man in an orange hat."),
    LoglikelihoodRequest("A dog ", "runs on the grass ."),  # trailing space moves into the continuation
    LoglikelihoodRequest("", "Two dogs play in the snow."),  # empty context: BOS stands in
    LoglikelihoodRequest("a " * 150, " very long context, truncated on the left"),
]


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_models.tiny_tokenizer()


def _language_models(tokenizer):
    return {
        "gpt2": tiny_models.gpt2(tokenizer),
        "t5": tiny_models.t5(tokenizer),
        "variformer-decoder": tiny_models.variformer("decoder", tokenizer),
        "variformer-encoder-decoder": tiny_models.variformer("encoder-decoder", tokenizer),
    }


@pytest.fixture(scope="module")
def language_models(tokenizer):
    return _language_models(tokenizer)


@torch.no_grad()
def reference_loglikelihood(model, tokenizer, context: str, continuation: str) -> float:
    """One request, one unpadded forward, written from lm-eval's documented conventions (not the adapter's code)."""
    stripped = context.rstrip()
    continuation, context = context[len(stripped) :] + continuation, stripped
    encode = lambda text, special=False: tokenizer(text, add_special_tokens=special)["input_ids"]  # noqa: E731
    if model.config.is_encoder_decoder:
        source = encode(context, True) if context else [tokenizer.bos_token_id]
        target = encode(continuation)
        decoder = [model.config.decoder_start_token_id] + target[:-1]
        logits = model(input_ids=torch.tensor([source[-128:]]), decoder_input_ids=torch.tensor([decoder])).logits[0]
    else:
        if context:
            context_ids = encode(context)
            target = encode(context + continuation)[len(context_ids) :]
        else:
            context_ids, target = [tokenizer.bos_token_id], encode(continuation)
        inputs = (context_ids + target)[-129:][:-1]
        logits = model(input_ids=torch.tensor([inputs])).logits[0, -len(target) :]
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    return float(logprobs[torch.arange(len(target)), torch.tensor(target)].sum())


@pytest.mark.parametrize("name", ["gpt2", "t5", "variformer-decoder", "variformer-encoder-decoder"])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_batched_loglikelihoods_equal_one_at_a_time(language_models, tokenizer, name, padding_side):
    model = language_models[name]
    batched = HFAdapter(model, tokenizer, batch_size=8, padding_side=padding_side).loglikelihood(REQUESTS)
    single = HFAdapter(model, tokenizer, batch_size=1, padding_side=padding_side)
    for request, result in zip(REQUESTS, batched):
        (alone,) = single.loglikelihood([request])
        assert result.logprob == pytest.approx(alone.logprob, abs=1e-4)
        assert result.num_tokens == alone.num_tokens and result.is_greedy == alone.is_greedy
        assert result.logprob == pytest.approx(
            reference_loglikelihood(model, tokenizer, request.context, request.continuation), abs=1e-4
        )


def test_architecture_detection_and_capabilities(language_models, tokenizer):
    assert HFAdapter(language_models["gpt2"], tokenizer).architecture == "causal"
    assert HFAdapter(language_models["t5"], tokenizer).architecture == "seq2seq"
    assert HFAdapter(language_models["variformer-encoder-decoder"], tokenizer).is_seq2seq
    classifier = HFAdapter(tiny_models.bert_classifier(tokenizer), tokenizer)
    assert classifier.architecture == "classifier" and classifier.capabilities == {"classify"}
    with pytest.raises(CapabilityError, match="cannot loglikelihood"):
        classifier.serve([LoglikelihoodRequest("a", " b")])
    from transformers import BertConfig, BertForMaskedLM

    masked = BertForMaskedLM(
        BertConfig(
            vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37
        )
    )
    with pytest.raises(CapabilityError, match="BertForMaskedLM"):
        detect_architecture(masked)


@pytest.mark.parametrize(
    "build",
    [
        tiny_models.bert_classifier,
        lambda tok: tiny_models.variformer("encoder", tok, classifier=True),
        lambda tok: tiny_models.variformer("decoder", tok, classifier=True),
    ],
)
def test_classifier_batched_equals_one_at_a_time(tokenizer, build):
    model = build(tokenizer)
    requests = [
        ClassificationRequest("a gorgeous , witty , seductive movie ."),
        ClassificationRequest("dull"),
        ClassificationRequest("the premise", "the hypothesis follows"),
    ]
    adapter = HFAdapter(model, tokenizer, batch_size=4)
    batched = adapter.classify(requests)
    assert adapter.labels == ("negative", "positive")
    for request, result in zip(requests, batched):
        (alone,) = HFAdapter(model, tokenizer, batch_size=1).classify([request])
        assert result.labels == ("negative", "positive")
        assert result.logprobs == pytest.approx(alone.logprobs, abs=1e-5)
        assert sum(torch.tensor(result.logprobs).exp()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", ["gpt2", "t5", "variformer-decoder", "variformer-encoder-decoder"])
def test_generation_is_greedy_deterministic_and_batch_invariant(language_models, tokenizer, name):
    model = language_models[name]
    settings = GenerationSettings(max_new_tokens=6)
    requests = [
        GenerationRequest("Two dogs play in the", settings),
        GenerationRequest("A man", settings),
        GenerationRequest("Ein Mann mit einem orangefarbenen Hut", settings),
    ]
    batched = HFAdapter(model, tokenizer, batch_size=4).generate(requests)
    single = [HFAdapter(model, tokenizer, batch_size=1).generate([r])[0] for r in requests]
    assert batched == single
    assert all(isinstance(text, str) for text in batched)


def test_generation_stops_at_stop_strings(language_models, tokenizer):
    adapter = HFAdapter(language_models["gpt2"], tokenizer, batch_size=2)
    free = adapter.generate([GenerationRequest("A man", GenerationSettings(max_new_tokens=12))])[0]
    stop = next((ch for ch in free[1:] if not ch.isspace()), None)
    assert stop is not None, f"the seeded model should generate a non-space character, got {free!r}"
    cut = adapter.generate([GenerationRequest("A man", GenerationSettings(max_new_tokens=12, stop=(stop,)))])[0]
    assert stop in cut and len(cut) <= len(free) and free.startswith(cut[: cut.index(stop)])


def test_batch_size_auto_halves_its_token_budget_on_out_of_memory(language_models, tokenizer):
    model = language_models["gpt2"]
    adapter = HFAdapter(model, tokenizer, batch_size="auto", max_batch_size=8)
    original = model.forward
    seen = []

    def forward(*args, **kwargs):
        rows, width = kwargs["input_ids"].shape
        seen.append(rows)
        if rows > 1 and rows * width > 200:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(*args, **kwargs)

    model.forward = forward
    try:
        results = adapter.loglikelihood(REQUESTS)
    finally:
        del model.forward
    assert seen[0] == len(REQUESTS) and min(seen) == 1 and adapter.max_batch_tokens <= 200
    assert adapter.describe()["final_max_batch_tokens"] == adapter.max_batch_tokens < adapter.requested_max_batch_tokens
    expected = HFAdapter(model, tokenizer, batch_size=1).loglikelihood(REQUESTS)
    assert [r.logprob for r in results] == pytest.approx([r.logprob for r in expected], abs=1e-4)


@pytest.mark.parametrize("batch_size, message", [(4, "out of memory"), ("auto", "No executable batch size found")])
def test_out_of_memory_is_raised_when_no_smaller_batch_is_left(language_models, tokenizer, batch_size, message):
    """A fixed batch size does not hide the error; "auto" gives up once a single row does not fit."""
    model = language_models["gpt2"]
    adapter = HFAdapter(model, tokenizer, batch_size=batch_size, share_prefixes=False)
    seen = []

    def forward(*args, **kwargs):
        seen.append(kwargs["input_ids"].shape[0])
        raise RuntimeError("CUDA out of memory.")

    model.forward = forward
    try:
        with pytest.raises(RuntimeError, match=message):
            adapter.loglikelihood(REQUESTS[:2])
    finally:
        del model.forward
    assert seen == ([2] if batch_size == 4 else [2, 1])


def test_fingerprint_tracks_weights_and_describe_is_json(tokenizer):
    import json

    first, same, other = tiny_models.gpt2(tokenizer, 0), tiny_models.gpt2(tokenizer, 0), tiny_models.gpt2(tokenizer, 1)
    assert HFAdapter(first, tokenizer).fingerprint() == HFAdapter(same, tokenizer).fingerprint()
    assert HFAdapter(first, tokenizer).fingerprint() != HFAdapter(other, tokenizer).fingerprint()
    described = HFAdapter(first, tokenizer).describe()
    json.dumps(described)
    assert described["num_parameters"] == sum(p.numel() for p in first.parameters())
    assert described["dtype"] == "float32" and described["class"] == "GPT2LMHeadModel"


def test_generation_longer_than_the_model_is_capped(language_models, tokenizer):
    """GPT-2 with 128 positions asked for 300 new tokens after a long prompt: it keeps half for the prompt, so
    prompt and new tokens together never pass the positions."""
    model = language_models["gpt2"]
    original, calls = model.generate, []

    def generate(*args, **kwargs):
        output = original(*args, **kwargs)  # (batch, prompt + new)
        calls.append((kwargs["input_ids"].shape[1], kwargs["max_new_tokens"], output.shape[1]))
        return output

    model.generate = generate
    try:
        HFAdapter(model, tokenizer, batch_size=2).generate(
            [GenerationRequest("a " * 300, GenerationSettings(max_new_tokens=300))]
        )
    finally:
        del model.generate
    positions = model.config.n_positions
    ((prompt, max_new_tokens, total),) = calls
    assert max_new_tokens == positions // 2 and prompt == positions - max_new_tokens and total <= positions
