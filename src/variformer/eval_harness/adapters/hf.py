"""`HFAdapter`: scores any transformers model: a causal LM, a seq2seq LM or a sequence classifier.

Log-likelihoods follow lm-evaluation-harness: trailing spaces of the context move to the continuation; causal
LMs encode context + continuation together (no special tokens) and score the continuation's tokens, with the
input truncated on the left to the model's length; seq2seq LMs encode the context for the encoder (with the
tokenizer's special tokens) and the continuation alone, without special tokens, as decoder targets; an empty
context is replaced by the BOS (else EOS) token. Requests sharing a token prefix (a few-shot primer, the
question of several choices) compute it once (`shared_prefix`); otherwise, or where the model's cache cannot be
reused, requests are sorted by length (longest first) and batched whole; with left padding causal LMs get
position ids from the attention mask, so batched scores equal one-at-a-time scores.

Batches: a fixed `batch_size` caps the rows of a forward; "auto" caps rows at `max_batch_size` and padded
tokens (rows x longest) at `max_batch_tokens`, halving the token budget on out-of-memory
(`accelerate.utils.find_executable_batch_size`). Generation stops at a task's stop strings through
`generate(stop_strings=...)`; the scorer cuts the text at the first one (`tasks.scoring.cut_at_stop`).

Legend: batch, seq = padded input length, tgt = padded target length, vocab = vocabulary size.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch
from accelerate.utils.memory import find_executable_batch_size, should_reduce_batch_size

from ..._model_kind import model_kind
from ..errors import CapabilityError, SettingError
from ..quantization import model_size_bytes, plain_tensors
from ..records import (
    ClassificationRequest,
    ClassificationResult,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    stable_hash,
)
from .base import ModelAdapter
from .shared_prefix import NotShareable, SharedPrefixScorer, whole_tokens

logger = logging.getLogger(__name__)
Shape = tuple[int, int]  # a batch row's (cached past tokens, new tokens); rows scored whole have no past

ARCHITECTURES = ("causal", "seq2seq", "classifier")
CAPABILITIES = {
    "causal": frozenset({"loglikelihood", "generate"}),
    "seq2seq": frozenset({"loglikelihood", "generate"}),
    "classifier": frozenset({"classify"}),
}
DEFAULT_MAX_LENGTH = 2048
CPU_BATCH_TOKENS = 4096  # "auto" padded tokens per forward on CPU
_CONFIG_NOISE = ("_name_or_path", "transformers_version", "_commit_hash", "architectures")


def detect_architecture(model) -> str:
    """ "classifier", "seq2seq" or "causal": the Auto mapping holding the model's class; CapabilityError for
    anything else."""
    kind = model_kind(model)
    if kind in ARCHITECTURES:
        return kind
    raise CapabilityError(
        f"cannot evaluate {type(model).__name__}: the harness scores causal LMs (AutoModelForCausalLM), seq2seq LMs "
        "(AutoModelForSeq2SeqLM) and sequence classifiers (AutoModelForSequenceClassification); load the model "
        "with one of those Auto classes"
    )


def position_limit(config) -> tuple[str, int] | None:
    """(config field, value) of the most positions the model can take, or None (e.g. relative positions)."""
    found = [(attr, getattr(config, attr, None)) for attr in ("max_position_embeddings", "n_positions", "n_ctx")]
    found = [
        (attr, value) for attr, value in found if isinstance(value, int) and not isinstance(value, bool) and value > 0
    ]
    return min(found, key=lambda item: item[1]) if found else None


def check_max_length(max_length: int | None, config) -> int | None:
    """`max_length` if it is None or an int in [1, the model's position limit]; SettingError naming both
    numbers otherwise (a longer input than the model has positions for would fail or silently wrap)."""
    if max_length is None:
        return None
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise SettingError(
            f"max_length (--max-length) must be an int >= 1, got {max_length!r}; leave it out to "
            "use the model's own limit"
        )
    limit = position_limit(config)
    if limit is not None and max_length > limit[1]:
        raise SettingError(
            f"max_length (--max-length) {max_length} is more than the model allows: its config has "
            f"{limit[0]} = {limit[1]}; give at most {limit[1]}, or leave it out"
        )
    return max_length


class HFAdapter(ModelAdapter):
    """Adapter for a transformers model and its tokenizer.

    batch_size: rows per forward (an int), or "auto": at most `max_batch_size` rows and `max_batch_tokens`
        padded tokens per forward, the token budget halved on out-of-memory until a batch fits.
    max_batch_tokens: the "auto" token budget (default: 4096 on CPU, where larger batches only add padding;
        `max_batch_size` x max_length elsewhere, lowered on out-of-memory).
    max_length: longest input in tokens (default: from the config / tokenizer).
    padding_side: "right" or "left" padding of batched inputs (causal and seq2seq encoder inputs of requests
        scored whole; generation with causal LMs always pads left; classifiers always pad right).
    share_prefixes: compute token prefixes shared by several log-likelihood requests once (`shared_prefix`);
        False scores every request whole.
    architecture: override the detected "causal" / "seq2seq" / "classifier".
    quantization: how the weights were quantized, for the record (`quantization.py`; bitsandbytes loads are
        recognized from the config).
    """

    def __init__(
        self,
        model,
        tokenizer,
        *,
        batch_size: int | str = "auto",
        max_batch_size: int = 64,
        max_batch_tokens: int | None = None,
        max_length: int | None = None,
        padding_side: str = "right",
        share_prefixes: bool = True,
        architecture: str | None = None,
        name: str | None = None,
        quantization: str | None = None,
    ):
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if batch_size != "auto" and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or 'auto', got {batch_size!r}")
        if tokenizer is None:
            raise ValueError("HFAdapter needs the model's tokenizer")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.architecture = architecture or detect_architecture(model)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        self.capabilities = CAPABILITIES[self.architecture]
        self.name = name or getattr(model.config, "_name_or_path", "") or type(model).__name__
        self.padding_side = padding_side
        self.batch_size = batch_size
        if batch_size == "auto" and (
            isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1
        ):
            raise SettingError(f"max_batch_size (--max-batch-size) must be an int >= 1, got {max_batch_size!r}")
        self.max_batch_size = max_batch_size if batch_size == "auto" else batch_size
        self.max_length = check_max_length(max_length, model.config) or self._default_max_length()
        self.requested_max_batch_tokens = self._check_batch_tokens(max_batch_tokens)
        self.max_batch_tokens = self.requested_max_batch_tokens  # halves on out-of-memory
        self.labels = self._label_names() if self.architecture == "classifier" else ()
        self._forward_parameters = set(inspect.signature(model.forward).parameters)
        self.share_prefixes = share_prefixes
        self._shared = SharedPrefixScorer(self)
        self.loglikelihood_tokens = {"scored_whole": 0, "run": 0}  # tokens through the model, and without sharing
        self._fingerprint: str | None = None
        self.quantization = quantization or _bitsandbytes_label(model)

    # -- facts ---------------------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def pad_token_id(self) -> int:
        for value in (
            self.tokenizer.pad_token_id,
            getattr(self.model.config, "pad_token_id", None),
            self.tokenizer.eos_token_id,
        ):
            if isinstance(value, int):
                return value
        return 0

    @property
    def prefix_token_id(self) -> int:
        """The token standing for an empty context (BOS, else EOS), as lm-eval."""
        for value in (self.tokenizer.bos_token_id, self.tokenizer.eos_token_id):
            if isinstance(value, int):
                return value
        raise CapabilityError(f"model {self.name!r}: an empty context needs a BOS or EOS token in the tokenizer")

    def _default_max_length(self) -> int:
        limit = position_limit(self.model.config)
        candidates = [limit[1]] if limit else []
        model_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(model_max, int) and 0 < model_max < 1_000_000:
            candidates.append(model_max)
        return min(candidates) if candidates else DEFAULT_MAX_LENGTH

    def _check_batch_tokens(self, max_batch_tokens: int | None) -> int | None:
        """The "auto" token budget (None with a fixed batch size: rows alone cap a batch, as lm-eval)."""
        invalid = isinstance(max_batch_tokens, bool) or not isinstance(max_batch_tokens, int) or max_batch_tokens < 1
        if max_batch_tokens is not None and invalid:
            raise SettingError(
                f"max_batch_tokens must be an int >= 1, got {max_batch_tokens!r}; leave it out for the device's default"
            )
        if self.batch_size != "auto":
            return None
        if max_batch_tokens is not None:
            return max_batch_tokens
        return CPU_BATCH_TOKENS if self.device.type == "cpu" else self.max_batch_size * self.max_length

    def _label_names(self) -> tuple[str, ...]:
        id2label = getattr(self.model.config, "id2label", None) or {}
        count = getattr(self.model.config, "num_labels", len(id2label))
        return tuple(str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(count))

    def scoring_settings(self) -> dict:
        """Every setting besides weights, config and tokenizer that can change a response: part of the cache key
        and recorded in the results."""
        return {
            "architecture": self.architecture,
            "max_length": self.max_length,
            "padding_side": self.padding_side,
            "batch_size": self.batch_size,
            "max_batch_size": self.max_batch_size,
            "max_batch_tokens": self.requested_max_batch_tokens,
            "share_prefixes": self.share_prefixes,
            "dtype": str(next(self.model.parameters()).dtype).replace("torch.", ""),
            "device_type": self.device.type,
            "revision": getattr(self.model.config, "_commit_hash", None),
            "quantization": self.quantization,
            "context_bos": self.architecture == "causal" and self._prepends_bos,
        }

    def fingerprint(self) -> str:
        """sha256 over the model class, config, every weight, the tokenizer and the scoring settings."""
        if self._fingerprint is None:
            weights = hashlib.sha256()
            for name, tensor in sorted(self.model.state_dict().items()):
                weights.update(name.encode())
                for part in plain_tensors(tensor.detach()):  # a quantized tensor: its int8 data and scales
                    weights.update(str(part.dtype).encode())
                    weights.update(part.cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
            config = {k: v for k, v in self.model.config.to_dict().items() if k not in _CONFIG_NOISE}
            self._fingerprint = stable_hash(
                [
                    type(self.model).__name__,
                    json.loads(json.dumps(config, default=str)),
                    weights.hexdigest(),
                    _tokenizer_hash(self.tokenizer),
                    self.scoring_settings(),
                ]
            )
        return self._fingerprint

    def describe(self) -> dict:
        config = self.model.config
        return {
            "name": self.name,
            "class": type(self.model).__name__,
            "architecture": self.architecture,
            "name_or_path": getattr(config, "_name_or_path", None) or None,
            "revision": getattr(config, "_commit_hash", None),
            "config": json.loads(json.dumps(config.to_dict(), default=str)),
            "num_parameters": sum(p.numel() for p in self.model.parameters()),
            "size_bytes": model_size_bytes(self.model),
            "quantization": self.quantization,
            "dtype": str(next(self.model.parameters()).dtype).replace("torch.", ""),
            "device": str(self.device),
            "tokenizer": type(self.tokenizer).__name__,
            "max_length": self.max_length,
            "padding_side": self.padding_side,
            "batch_size": self.batch_size,
            "max_batch_size": self.max_batch_size,
            "max_batch_tokens": self.requested_max_batch_tokens,
            "final_max_batch_tokens": self.max_batch_tokens,
            "share_prefixes": self.share_prefixes,
            "loglikelihood_tokens": dict(self.loglikelihood_tokens),
            "scoring_settings": self.scoring_settings(),
            "fingerprint": self.fingerprint(),
        }

    # -- tokenization --------------------------------------------------------------------------------------------
    def _encode(self, text: str, special: bool) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=special, verbose=False)["input_ids"])

    @functools.cached_property
    def _prepends_bos(self) -> bool:
        """Whether the tokenizer's own special tokens are a BOS put first and nothing else (Llama-style)."""
        bos = self.tokenizer.bos_token_id
        return bos is not None and self._encode("a b", True) == [bos, *self._encode("a b", False)]

    def _encode_causal(self, text: str) -> list[int]:
        """A causal LM's text as lm-eval 0.4.13 encodes it (`HFLM.tok_encode`, `tok_batch_encode`): with the
        tokenizer's own special tokens when they are a BOS put first (Llama-style; not when the text already starts
        with the BOS string), else without special tokens. lm-eval also keeps the defaults of tokenizers that append
        EOS, which shifts its continuation slice by one token; that is not copied."""
        bos = self.tokenizer.bos_token
        return self._encode(text, self._prepends_bos and not (bos and text.startswith(bos)))

    def _pair_tokens(self, request: LoglikelihoodRequest, memo: dict | None = None) -> tuple[list[int], list[int]]:
        """(context tokens, continuation tokens) as lm-eval encodes them; `memo` keeps context encodings."""
        context, continuation = request.context, request.continuation
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        if context == "":  # BOS (else EOS) stands in, unless the continuation starts with it (as lm-eval 0.4.13)
            continuation_ids = self._encode(continuation, False)
            if continuation_ids[:1] == [self.prefix_token_id]:
                context_ids, continuation_ids = continuation_ids[:1], continuation_ids[1:]
            else:
                context_ids = [self.prefix_token_id]
        elif self.architecture == "seq2seq":
            context_ids, continuation_ids = self._encode(context, True), self._encode(continuation, False)
        else:
            memo = {} if memo is None else memo
            if context not in memo:
                memo[context] = self._encode_causal(context)
            context_ids = memo[context]
            continuation_ids = self._encode_causal(context + continuation)[len(context_ids) :]
        if not continuation_ids:
            raise ValueError(
                f"continuation {request.continuation!r} encodes to no tokens after context ...{request.context[-40:]!r}"
            )
        return context_ids, continuation_ids

    # -- batching ------------------------------------------------------------------------------------------------
    def _batched(self, items: list, shapes: list[Shape], run: Callable[[list], list]) -> list:
        """Run `run` over batches of `items` (largest first, `next_batch`); results in the original order. With
        "auto" batch size a batch that runs out of memory is retried with half the token budget
        (`find_executable_batch_size`, entered only then: it runs `gc.collect()` on every call, 0.3 s here); one row
        that does not fit ends the back-off ("No executable batch size found")."""
        order = sorted(range(len(items)), key=lambda i: -sum(shapes[i]))
        results: list[Any] = [None] * len(items)
        start, indices = 0, []

        def run_from(max_batch_tokens: int | None) -> list:
            nonlocal start, indices
            self.max_batch_tokens = max_batch_tokens
            while start < len(order):
                indices = self.next_batch(shapes, order, start)
                with torch.inference_mode():
                    outputs = run([items[i] for i in indices])
                for i, output in zip(indices, outputs):
                    results[i] = output
                start += len(indices)
            return results

        try:
            return run_from(self.max_batch_tokens)
        except RuntimeError as error:
            if self.batch_size != "auto" or not should_reduce_batch_size(error):
                raise
        lower = lambda: self._halve_token_budget(shapes, indices)  # noqa: E731
        return find_executable_batch_size(run_from, lower(), lower)()

    def next_batch(self, shapes: list[Shape], order: list[int], start: int = 0) -> list[int]:
        """The batch starting at `order[start]`: at least one row, at most the row cap, and (with "auto") at most
        the token budget of rows x (longest past + longest new tokens); rows of cached pasts (shape (past, new),
        past > 0) also fit the model's positions."""
        batch: list[int] = []
        past = new = 0
        for index in order[start : start + self.max_batch_size]:
            wider_past, wider_new = max(past, shapes[index][0]), max(new, shapes[index][1])
            width = wider_past + wider_new
            over_budget = self.max_batch_tokens is not None and (len(batch) + 1) * width > self.max_batch_tokens
            if batch and (over_budget or (wider_past and width > self.max_length)):
                break
            batch.append(index)
            past, new = wider_past, wider_new
        return batch

    def _halve_token_budget(self, shapes: list[Shape], indices: list[int]) -> int:
        """The token budget after `indices` ran out of memory: half of what they tried; 0 (give up) for one row."""
        if len(indices) == 1:
            return 0
        tried = len(indices) * (max(shapes[i][0] for i in indices) + max(shapes[i][1] for i in indices))
        budget = max(1, min(self.max_batch_tokens, tried) // 2)
        logger.warning("out of memory; batch token budget lowered to %d", budget)
        return budget

    def _pad(self, sequences: list[list[int]], side: str) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """(ids (batch, seq), mask (batch, seq), offset of each sequence's first token)."""
        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.pad_token_id, dtype=torch.long)  # (batch, seq)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)  # (batch, seq)
        offsets = []
        for row, sequence in enumerate(sequences):
            offset = width - len(sequence) if side == "left" else 0
            ids[row, offset : offset + len(sequence)] = torch.tensor(sequence, dtype=torch.long)
            mask[row, offset : offset + len(sequence)] = 1
            offsets.append(offset)
        return ids.to(self.device), mask.to(self.device), offsets

    def _position_kwargs(self, mask: torch.Tensor, side: str) -> dict:
        if side == "left" and "position_ids" in self._forward_parameters:
            return {"position_ids": (mask.cumsum(-1) - 1).clamp(min=0)}  # (batch, seq)
        return {}

    # -- log-likelihood ------------------------------------------------------------------------------------------
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """Causal LMs: items (inputs, targets) with inputs = (context + continuation)[-(max_length + 1):][:-1]
        and targets its last continuation tokens (lm-eval's split); seq2seq: (encoder input, targets)."""
        if "loglikelihood" not in self.capabilities:
            raise self._cannot("loglikelihood")
        memo: dict[str, list[int]] = {}  # the choices of a question share one context encoding
        items = [self._loglikelihood_item(request, memo) for request in requests]
        whole = whole_tokens(items, self.architecture == "seq2seq")
        self.loglikelihood_tokens["scored_whole"] += whole
        shared = self._score_shared(items) if self.share_prefixes else None
        if shared is not None:
            return shared
        self.loglikelihood_tokens["run"] += whole
        run = self._seq2seq_loglikelihood if self.architecture == "seq2seq" else self._causal_loglikelihood
        return self._batched(items, [(0, len(a) + len(b)) for a, b in items], run)

    def _loglikelihood_item(self, request: LoglikelihoodRequest, memo: dict) -> tuple[list[int], list[int]]:
        context, continuation = self._pair_tokens(request, memo)
        if self.architecture == "seq2seq":
            return context[-self.max_length :], continuation[: self.max_length]
        full = (context + continuation)[-(self.max_length + 1) :]
        return full[:-1], continuation[-(len(full) - 1) :]

    def _score_shared(self, items: list[tuple[list[int], list[int]]]) -> list[LoglikelihoodResult] | None:
        """Scores with shared prefixes computed once, or None where that does not apply (the model has no
        reusable cache, or the requests share too little)."""
        try:
            return self._shared.score(items)
        except NotShareable as reason:
            logger.warning(
                "model %r: shared prefixes are not reused (%s); scoring every request whole", self.name, reason
            )
            self._shared.ready = False
            return None

    def _causal_loglikelihood(self, items: list[tuple[list[int], list[int]]]) -> list[LoglikelihoodResult]:
        side = self.padding_side
        ids, mask, offsets = self._pad([inputs for inputs, _ in items], side)
        logits = self.model(input_ids=ids, attention_mask=mask, **self._position_kwargs(mask, side)).logits
        results = []
        for row, ((inputs, targets), offset) in enumerate(zip(items, offsets)):
            end = offset + len(inputs)
            results.append(_score(logits[row, end - len(targets) : end], targets))  # (targets, vocab)
        return results

    def _seq2seq_loglikelihood(self, items: list[tuple[list[int], list[int]]]) -> list[LoglikelihoodResult]:
        ids, mask, _ = self._pad([context for context, _ in items], self.padding_side)
        start = self._decoder_start_token_id()
        decoder_ids, decoder_mask, _ = self._pad([[start] + targets[:-1] for _, targets in items], "right")
        logits = self.model(
            input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids, decoder_attention_mask=decoder_mask
        ).logits  # (batch, tgt, vocab)
        return [_score(logits[row, : len(targets)], targets) for row, (_, targets) in enumerate(items)]

    def _decoder_start_token_id(self) -> int:
        for source in (self.model.config, getattr(self.model, "generation_config", None)):
            value = getattr(source, "decoder_start_token_id", None)
            if isinstance(value, int):
                return value
        raise CapabilityError(f"model {self.name!r}: config.decoder_start_token_id is not set")

    # -- classification ------------------------------------------------------------------------------------------
    def classify(self, requests: Sequence[ClassificationRequest]) -> list[ClassificationResult]:
        if "classify" not in self.capabilities:
            raise self._cannot("classify")
        items = [self.tokenizer(r.text, r.text_pair, truncation=True, max_length=self.max_length) for r in requests]
        return self._batched(items, [(0, len(item["input_ids"])) for item in items], self._classify_batch)

    def _classify_batch(self, items: list) -> list[ClassificationResult]:
        ids, mask, _ = self._pad([list(item["input_ids"]) for item in items], "right")
        kwargs = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in items[0] and "token_type_ids" in self._forward_parameters:
            kwargs["token_type_ids"], _, _ = self._pad([list(item["token_type_ids"]) for item in items], "right")
            kwargs["token_type_ids"] = kwargs["token_type_ids"] * mask
        logprobs = torch.log_softmax(self.model(**kwargs).logits.float(), dim=-1)  # (batch, labels)
        return [ClassificationResult(tuple(row.tolist()), self.labels) for row in logprobs.cpu()]

    # -- generation ----------------------------------------------------------------------------------------------
    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        if "generate" not in self.capabilities:
            raise self._cannot("generate")
        outputs: list[str | None] = [None] * len(requests)
        groups: dict = {}
        for index, request in enumerate(requests):
            groups.setdefault(request.settings, []).append(index)
        for settings, indices in groups.items():
            settings = self._fit(settings)
            items = [self._generation_input(requests[i].context, settings.max_new_tokens) for i in indices]
            run = lambda batch, settings=settings: self._generate_batch(batch, settings)  # noqa: E731
            shapes = [(0, (len(x) + settings.max_new_tokens) * settings.num_beams) for x in items]
            for i, text in zip(indices, self._batched(items, shapes, run)):
                outputs[i] = text
        return outputs

    def _fit(self, settings):
        """Settings whose new tokens fit the model: at most max_length (seq2seq) or half of it (causal LMs, so
        the prompt keeps the other half)."""
        from dataclasses import replace

        limit = self.max_length if self.architecture == "seq2seq" else max(1, self.max_length // 2)
        if settings.max_new_tokens <= limit:
            return settings
        logger.warning(
            "max_new_tokens %d > %d for a model of max_length %d; generating %d tokens",
            settings.max_new_tokens,
            limit,
            self.max_length,
            limit,
        )
        return replace(settings, max_new_tokens=limit)

    def _generation_input(self, context: str, max_new_tokens: int) -> list[int]:
        if self.architecture == "seq2seq":
            return self._encode(context, True)[-self.max_length :]
        ids = self._encode_causal(context) or [self.prefix_token_id]
        return ids[-max(1, self.max_length - max_new_tokens) :]

    def _generate_batch(self, items: list[list[int]], settings) -> list[str]:
        side = "left" if self.architecture == "causal" else self.padding_side
        ids, mask, _ = self._pad(items, side)
        prompt_length = ids.shape[1] if self.architecture == "causal" else 0
        stop = dict(stop_strings=list(settings.stop), tokenizer=self.tokenizer) if settings.stop else {}
        output = self.model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=settings.max_new_tokens,
            num_beams=settings.num_beams,
            do_sample=False,
            pad_token_id=self.pad_token_id,
            **stop,
        )  # (batch, prompt + new) for causal LMs, (batch, new) for seq2seq
        return self.tokenizer.batch_decode(output[:, prompt_length:], skip_special_tokens=True)


def _score(logits: torch.Tensor, targets: list[int]) -> LoglikelihoodResult:
    """(targets, vocab) logits predicting `targets` -> summed log-prob, greedy flag, token count."""
    logprobs = torch.log_softmax(logits.float(), dim=-1)  # (targets, vocab)
    target = torch.tensor(targets, device=logprobs.device)
    picked = logprobs.gather(-1, target[:, None]).squeeze(-1)  # (targets,)
    greedy = bool((logprobs.argmax(-1) == target).all())
    return LoglikelihoodResult(float(picked.sum()), greedy, len(targets))


def _bitsandbytes_label(model) -> str | None:
    """ "bitsandbytes 4-bit nf4" / "bitsandbytes LLM.int8()" for a model loaded with a BitsAndBytesConfig."""
    config = getattr(model.config, "quantization_config", None)
    if config is None:
        return None
    config = config if isinstance(config, dict) else config.to_dict()
    if config.get("load_in_4bit"):
        return f"bitsandbytes 4-bit {config.get('bnb_4bit_quant_type', 'fp4')}"
    if config.get("load_in_8bit"):
        return "bitsandbytes LLM.int8()"
    return str(config.get("quant_method") or "quantized")


def _tokenizer_hash(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        text = backend.to_str()
    else:
        text = json.dumps(sorted(tokenizer.get_vocab().items()))
    special = json.dumps(getattr(tokenizer, "special_tokens_map", {}), sort_keys=True, default=str)
    return hashlib.sha256((type(tokenizer).__name__ + text + special).encode("utf-8")).hexdigest()


__all__ = ["HFAdapter", "detect_architecture", "position_limit", "check_max_length"]
