"""Fixtures of the hallucination-probe tests: a tokenizer and tiny models built offline (module-scoped: cheap)."""

from __future__ import annotations

import pytest

from .tiny import tiny_gpt2, tiny_tokenizer, tiny_variformer


@pytest.fixture(scope="session")
def tokenizer():
    return tiny_tokenizer()


@pytest.fixture(scope="session")
def lm_models(tokenizer):
    """name -> model: a stock GPT-2, a Variformer decoder and a Variformer encoder-decoder, seeded."""
    return {
        "gpt2": tiny_gpt2(tokenizer),
        "variformer-decoder": tiny_variformer("decoder", tokenizer),
        "variformer-encoder-decoder": tiny_variformer("encoder-decoder", tokenizer),
    }


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run ~50x faster on one thread than on two oversubscribed ones; restored afterwards."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
