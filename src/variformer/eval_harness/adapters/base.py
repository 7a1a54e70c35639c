"""`ModelAdapter`: the small, task-agnostic interface between the runner and a model.

An adapter says what it can do (`capabilities`: "loglikelihood", "generate", "classify") and serves lists of
requests of one kind, returning one response per request in the same order:

- `loglikelihood(requests)` -> `LoglikelihoodResult`s (summed log-prob, is_greedy, num_tokens);
- `generate(requests)` -> generated strings (not yet cut at stop sequences);
- `classify(requests)` -> `ClassificationResult`s (label log-probs).

`fingerprint()` identifies the model + tokenizer + scoring settings for the per-sample cache; `describe()` gives
the model facts recorded in the results JSON.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from ..errors import CapabilityError
from ..records import (
    ClassificationRequest,
    ClassificationResult,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Request,
    Response,
)


class ModelAdapter(ABC):
    """Serve harness requests with one model. Subclasses set `name`, `architecture`, `capabilities`, `labels`."""

    name: str = "model"
    architecture: str = "causal"  # "causal", "seq2seq" or "classifier": picks the task's prompt variant
    capabilities: frozenset[str] = frozenset()
    labels: tuple[str, ...] = ()  # classifier label names in label-id order

    @property
    def is_seq2seq(self) -> bool:
        return self.architecture == "seq2seq"

    @abstractmethod
    def fingerprint(self) -> str:
        """Stable id of everything that changes the responses (weights, tokenizer, scoring settings)."""

    @abstractmethod
    def describe(self) -> dict:
        """JSON-able facts about the model for the results file."""

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        raise self._cannot("loglikelihood")

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        raise self._cannot("generate")

    def classify(self, requests: Sequence[ClassificationRequest]) -> list[ClassificationResult]:
        raise self._cannot("classify")

    def serve(self, requests: Sequence[Request]) -> list[Response]:
        """Answer requests that all have the same kind."""
        if not requests:
            return []
        kinds = {request.kind for request in requests}
        if len(kinds) != 1:
            raise ValueError(f"serve() takes requests of one kind, got {sorted(kinds)}")
        capability = requests[0].capability
        if capability not in self.capabilities:
            raise self._cannot(capability)
        method = {"loglikelihood": self.loglikelihood, "generate": self.generate, "classify": self.classify}
        return list(method[capability](list(requests)))

    def _cannot(self, capability: str) -> CapabilityError:
        return CapabilityError(
            f"model {self.name!r} ({self.architecture}) cannot {capability}; it can {sorted(self.capabilities)}"
        )


__all__ = ["ModelAdapter"]
