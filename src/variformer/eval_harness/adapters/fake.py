"""`FakeAdapter`: a deterministic stand-in model for testing the runner, cache, resume and tasks (like lm-eval's
dummy model). Responses are pure functions of the request (sha256-based), optionally rigged by the caller."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from ..records import (
    ClassificationRequest,
    ClassificationResult,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    stable_hash,
)
from .base import ModelAdapter

ALL_CAPABILITIES = frozenset({"loglikelihood", "generate", "classify"})


class SimulatedCrash(RuntimeError):
    """Raised by FakeAdapter(fail_after=N) when asked for request N+1: stands in for a killed process."""


class FakeAdapter(ModelAdapter):
    """Deterministic fake model.

    seed: changes every response (two seeds = two different "models").
    architecture: "causal", "seq2seq" or "classifier" (which prompts tasks use).
    capabilities: what it serves (default: everything).
    labels: classifier label names.
    fail_after: raise SimulatedCrash once this many requests have been served (across calls).
    loglikelihood_fn / generate_fn / classify_fn: rig responses: (request) -> LoglikelihoodResult / str /
        list of label log-probs.

    `served` lists the key of every request served, in order (to check nothing is computed twice).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        architecture: str = "causal",
        capabilities=None,
        labels: Sequence[str] = ("negative", "positive"),
        fail_after: int | None = None,
        loglikelihood_fn: Callable | None = None,
        generate_fn: Callable | None = None,
        classify_fn: Callable | None = None,
        name: str = "fake",
    ):
        self.seed, self.architecture, self.name = seed, architecture, name
        self.capabilities = frozenset(capabilities) if capabilities is not None else ALL_CAPABILITIES
        self.labels = tuple(labels)
        self.fail_after = fail_after
        self.loglikelihood_fn, self.generate_fn, self.classify_fn = loglikelihood_fn, generate_fn, classify_fn
        self.served: list[str] = []

    def fingerprint(self) -> str:
        return stable_hash(["fake", self.seed, self.architecture, sorted(self.capabilities), list(self.labels)])

    def describe(self) -> dict:
        return {
            "name": self.name,
            "class": type(self).__name__,
            "architecture": self.architecture,
            "name_or_path": self.name,
            "revision": None,
            "config": {"seed": self.seed},
            "num_parameters": 0,
            "dtype": None,
            "device": "cpu",
            "fingerprint": self.fingerprint(),
        }

    def _unit(self, *parts) -> float:
        digest = hashlib.sha256(repr((self.seed, *parts)).encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def _tick(self, request) -> None:
        if self.fail_after is not None and len(self.served) >= self.fail_after:
            raise SimulatedCrash(f"fake model stopped after {self.fail_after} requests")
        self.served.append(request.key)

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        results = []
        for request in requests:
            self._tick(request)
            if self.loglikelihood_fn is not None:
                results.append(self.loglikelihood_fn(request))
                continue
            unit = self._unit("ll", request.context, request.continuation)
            num_tokens = max(1, len(request.continuation.split()))
            results.append(LoglikelihoodResult(-(1.0 + 9.0 * unit) * num_tokens, unit < 0.1, num_tokens))
        return results

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        outputs = []
        for request in requests:
            self._tick(request)
            if self.generate_fn is not None:
                outputs.append(self.generate_fn(request))
                continue
            lines = request.context.splitlines() or [""]
            words = max(lines, key=len).split()  # echo parts of the longest prompt line (the source text)
            kept = [w for i, w in enumerate(words) if self._unit("gen", request.context, i) < 0.7][:12]
            outputs.append(" " + " ".join(kept) + "\nthis line follows a stop sequence")
        return outputs

    def classify(self, requests: Sequence[ClassificationRequest]) -> list[ClassificationResult]:
        results = []
        for request in requests:
            self._tick(request)
            if self.classify_fn is not None:
                logprobs = self.classify_fn(request)
            else:
                import math

                weights = [
                    1e-3 + self._unit("cls", request.text, request.text_pair, i) for i in range(len(self.labels))
                ]
                logprobs = [math.log(w / sum(weights)) for w in weights]
            results.append(ClassificationResult(tuple(float(x) for x in logprobs), self.labels))
        return results


__all__ = ["FakeAdapter", "SimulatedCrash"]
