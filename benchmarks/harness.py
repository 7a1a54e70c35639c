"""Log-likelihood scoring throughput on TruthfulQA MC2-style requests.

A request is (context, continuation) = ("Q: <question>\\nA:", " <choice>") for each MC2 choice of each question
(no few-shot preamble); its score is the summed log-probability of the continuation tokens given the context.

The scorer is the project harness's `HFAdapter` (`variformer.eval_harness.adapters`) when it can be imported:
batched (`batch_size` fixed) against the same adapter with `batch_size=1` (one row per forward). Both compute
the "Q: <question>\\nA:" tokens shared by a question's choices once (the adapter's prefix sharing); lm-eval
comparisons are `benchmarks/lmeval_truthfulqa.py`. Without the harness, `MinimalScorer` below scores the
requests whole: sorted longest first, right-padded, no attention mask (with right padding a causal model never
attends to the padding of the scored tokens). The row records which scorer ran.

There is no Hub access, so no GPT-2 tokenizer: a word-level tokenizer (words and punctuation, about as many
tokens as GPT-2's BPE makes of English) is trained on the requests themselves, so lengths are realistic.

Legend: batch, seq = padded request length, vocab = vocabulary size, cont = continuation tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from torch import nn
from transformers import PreTrainedTokenizerFast

from variformer import VariformerConfig

from .models import build_model, count_parameters
from .report import Side
from .settings import Settings
from .timing import measure, release_memory

try:  # the project harness, when present
    from variformer.eval_harness.adapters import HFAdapter
    from variformer.eval_harness.records import LoglikelihoodRequest
except ImportError:  # pragma: no cover - depends on the checkout
    HFAdapter = LoglikelihoodRequest = None

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]
Request = tuple[str, str]  # (context, continuation)
Scorer = Callable[[list[Request]], list[float]]


def load_requests(path: Path, max_questions: int | None) -> list[Request]:
    """(context, continuation) pairs for each MC2 choice of the first `max_questions` questions."""
    requests = []
    with path.open(encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            if max_questions is not None and index >= max_questions:
                break
            record = json.loads(line)
            context = f"Q: {record['question']}\nA:"
            requests += [(context, f" {choice}") for choice in record["mc2_targets"]["choices"]]
    return requests


def build_tokenizer(requests: list[Request], vocab_size: int) -> PreTrainedTokenizerFast:
    """A word-level tokenizer trained on the requests (at most `vocab_size` ids; rarer words become <unk>)."""
    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS)
    tokenizer.train_from_iterator((context + continuation for context, continuation in requests), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


class MinimalScorer:
    """Batched log-likelihood scorer for a causal LM, used when the project harness is not available."""

    def __init__(self, model: nn.Module, tokenizer: PreTrainedTokenizerFast, batch_size: int, max_length: int):
        self.model, self.tokenizer, self.batch_size, self.max_length = model, tokenizer, batch_size, max_length
        self.device = next(model.parameters()).device

    def __call__(self, requests: list[Request]) -> list[float]:
        encoded = [self._encode(context, continuation) for context, continuation in requests]
        order = sorted(range(len(encoded)), key=lambda index: -len(encoded[index][0]))
        scores = [0.0] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            for index, score in zip(chunk, self._score_batch([encoded[index] for index in chunk])):
                scores[index] = score
        return scores

    def _encode(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """(input ids, continuation ids): context + continuation without its last token, cut on the left."""
        context_ids = self.tokenizer(context, add_special_tokens=False)["input_ids"]
        continuation_ids = self.tokenizer(continuation, add_special_tokens=False)["input_ids"]
        whole = (context_ids + continuation_ids)[-(self.max_length + 1) :]
        return whole[:-1], continuation_ids[-(len(whole) - 1) :]

    @torch.inference_mode()
    def _score_batch(self, batch: list[tuple[list[int], list[int]]]) -> list[float]:
        width = max(len(inputs) for inputs, _ in batch)
        input_ids = torch.full((len(batch), width), self.tokenizer.pad_token_id, dtype=torch.long)  # (batch, seq)
        for row, (inputs, _) in enumerate(batch):
            input_ids[row, : len(inputs)] = torch.tensor(inputs)
        logits = self.model(input_ids=input_ids.to(self.device), use_cache=False).logits  # (batch, seq, vocab)
        scores = []
        for row, (inputs, continuation) in enumerate(batch):
            rows = logits[row, len(inputs) - len(continuation) : len(inputs)].float()  # (cont, vocab)
            targets = torch.tensor(continuation, device=rows.device)[:, None]  # (cont, 1)
            scores.append(torch.log_softmax(rows, dim=-1).gather(-1, targets).sum().item())
        return scores


def make_scorer(
    model: nn.Module, tokenizer: PreTrainedTokenizerFast, batch_size: int, max_length: int
) -> tuple[Scorer, str]:
    """The harness adapter (or the minimal scorer) for `model` at `batch_size`, and its name."""
    if HFAdapter is None:
        return MinimalScorer(model, tokenizer, batch_size, max_length), "benchmarks/harness.py MinimalScorer"
    adapter = HFAdapter(
        model,
        tokenizer,
        batch_size=batch_size,
        max_length=max_length,
        padding_side="right",
        architecture="causal",
        name=type(model).__name__,
    )

    def score(requests: list[Request]) -> list[float]:
        results = adapter.loglikelihood(
            [LoglikelihoodRequest(context, continuation) for context, continuation in requests]
        )
        return [result.logprob for result in results]

    return score, "variformer.eval_harness HFAdapter"


def measure_scoring(
    side: str,
    config: VariformerConfig,
    requests: list[Request],
    tokenizer: PreTrainedTokenizerFast,
    batch_size: int,
    settings: Settings,
) -> tuple[Side, list[float]]:
    """Requests/s of one model and batch size over all `requests` (median of timed passes), and its scores."""
    device = settings.device
    release_memory(device)
    model = build_model(
        side,
        "decoder",
        config,
        settings.attn_implementation,
        device,
        dtype=settings.inference_dtype,
        seed=settings.seed,
    ).eval()
    scorer, scorer_name = make_scorer(model, tokenizer, batch_size, config.max_position_embeddings)
    scores: list[float] = []

    def one_pass() -> None:
        nonlocal scores
        scores = scorer(requests)

    # warm-up on the longest requests only: an extra full pass one at a time would be long on a GPU
    longest = sorted(requests, key=lambda request: -len(request[0] + request[1]))[: settings.shapes.harness_batch]
    warm_up = measure(lambda: scorer(longest), device, warmup=min(settings.warmup, 1), repeats=0)
    timing = measure(one_pass, device, warmup=0, repeats=settings.harness_passes)
    tokens = sum(
        len(tokenizer(context + continuation, add_special_tokens=False)["input_ids"])
        for context, continuation in requests
    )
    result = Side(
        label=f"{type(model).__name__} ({f'batch {batch_size}, sorted' if batch_size > 1 else 'one at a time'})",
        parameters=count_parameters(model),
        value=len(requests) / timing.median_s,
        times_s=timing.times_s,
        extra={
            "scorer": scorer_name,
            "batch_size": batch_size,
            "requests": len(requests),
            "tokens": tokens,
            "tokens_per_s": tokens / timing.median_s,
            "warm_up_s": warm_up.first_call_s,
        },
    )
    return result, scores


__all__ = ["load_requests", "build_tokenizer", "MinimalScorer", "make_scorer", "measure_scoring"]
