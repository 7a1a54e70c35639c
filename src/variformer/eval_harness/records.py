"""Requests the runner sends to a model adapter, and the responses it gets back.

Three request types, one per thing a model can be asked:

- `LoglikelihoodRequest(context, continuation)`: the summed log-probability of `continuation` given `context`
  (causal and seq2seq language models). A task asks for several per sample (one per answer choice).
- `GenerationRequest(context, settings)`: the text generated after `context` with greedy / beam search.
- `ClassificationRequest(text, text_pair)`: log-probabilities of every label of a classifier head.

Requests are frozen and hashable; `request.key` (sha256 of the canonical JSON) identifies a request in the
per-sample cache, so identical requests from several samples or tasks are computed once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


def stable_hash(value: Any) -> str:
    """sha256 hex digest of `value` as canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class GenerationSettings:
    """How a task generates: greedy (num_beams=1) or beam search; decoding stops at EOS, after
    `max_new_tokens`, and the text is cut at the first of `stop` (which is removed)."""

    max_new_tokens: int = 64
    num_beams: int = 1
    stop: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "stop", tuple(self.stop))
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ValueError(f"GenerationSettings.max_new_tokens must be a positive int, got {self.max_new_tokens!r}")
        if not isinstance(self.num_beams, int) or self.num_beams < 1:
            raise ValueError(f"GenerationSettings.num_beams must be a positive int, got {self.num_beams!r}")
        if not all(isinstance(s, str) and s for s in self.stop):
            raise ValueError(f"GenerationSettings.stop must be non-empty strings, got {self.stop!r}")


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """log P(continuation | context). The continuation carries its own leading space (" positive")."""

    kind: ClassVar[str] = "loglikelihood"
    capability: ClassVar[str] = "loglikelihood"
    context: str
    continuation: str

    @property
    def key(self) -> str:
        return stable_hash([self.kind, self.context, self.continuation])

    @property
    def length_hint(self) -> int:
        return len(self.context) + len(self.continuation)


@dataclass(frozen=True)
class GenerationRequest:
    """Text generated after `context` with `settings`."""

    kind: ClassVar[str] = "generation"
    capability: ClassVar[str] = "generate"
    context: str
    settings: GenerationSettings = field(default_factory=GenerationSettings)

    @property
    def key(self) -> str:
        return stable_hash([self.kind, self.context, asdict(self.settings)])

    @property
    def length_hint(self) -> int:
        return len(self.context)


@dataclass(frozen=True)
class ClassificationRequest:
    """Label log-probabilities of a sequence classifier for `text` (and the optional second segment)."""

    kind: ClassVar[str] = "classification"
    capability: ClassVar[str] = "classify"
    text: str
    text_pair: str | None = None

    @property
    def key(self) -> str:
        return stable_hash([self.kind, self.text, self.text_pair])

    @property
    def length_hint(self) -> int:
        return len(self.text) + len(self.text_pair or "")


Request = LoglikelihoodRequest | GenerationRequest | ClassificationRequest
REQUEST_TYPES = {cls.kind: cls for cls in (LoglikelihoodRequest, GenerationRequest, ClassificationRequest)}


@dataclass(frozen=True)
class LoglikelihoodResult:
    """Summed log-probability of the continuation's tokens; `is_greedy` when every continuation token is the
    argmax; `num_tokens` continuation tokens scored (for per-token normalization)."""

    logprob: float
    is_greedy: bool
    num_tokens: int

    def to_json(self) -> dict:
        return {"logprob": self.logprob, "is_greedy": self.is_greedy, "num_tokens": self.num_tokens}

    @classmethod
    def from_json(cls, data: dict) -> LoglikelihoodResult:
        return cls(float(data["logprob"]), bool(data["is_greedy"]), int(data["num_tokens"]))


@dataclass(frozen=True)
class ClassificationResult:
    """Log-probabilities over the classifier's labels, in label-id order, with the label names."""

    logprobs: tuple[float, ...]
    labels: tuple[str, ...]

    def to_json(self) -> dict:
        return {"logprobs": list(self.logprobs), "labels": list(self.labels)}

    @classmethod
    def from_json(cls, data: dict) -> ClassificationResult:
        return cls(tuple(float(x) for x in data["logprobs"]), tuple(data["labels"]))


Response = LoglikelihoodResult | str | ClassificationResult


def response_to_json(response: Response) -> Any:
    return response if isinstance(response, str) else response.to_json()


def response_from_json(kind: str, data: Any) -> Response:
    if kind == "loglikelihood":
        return LoglikelihoodResult.from_json(data)
    if kind == "classification":
        return ClassificationResult.from_json(data)
    if kind == "generation":
        return str(data)
    raise ValueError(f"unknown request kind {kind!r}")


@dataclass(frozen=True)
class Outcome:
    """What scoring one sample produced: the extracted answer (`prediction`, compared with the target by the
    task's corpus metrics), per-sample `scores` (averaged by `mean_of(...)` metrics) and the raw `output`
    (stored in the per-sample JSONL)."""

    prediction: Any
    scores: dict[str, float] = field(default_factory=dict)
    output: Any = None


__all__ = [
    "stable_hash",
    "GenerationSettings",
    "LoglikelihoodRequest",
    "GenerationRequest",
    "ClassificationRequest",
    "Request",
    "REQUEST_TYPES",
    "LoglikelihoodResult",
    "ClassificationResult",
    "Response",
    "response_to_json",
    "response_from_json",
    "Outcome",
]
