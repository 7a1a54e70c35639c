"""Shared test setup: offline Hub, deterministic seeds, paths to the shared data sets."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout (present on developer machines and in CI)."""
    assert SHARED_DATA.is_dir(), f"expected the shared data sets at {SHARED_DATA}"
    return SHARED_DATA


def tiny_config(architecture: str, **overrides):
    """A tiny config of `architecture` (hidden 32, 2 layers, odd vocab and FFN sizes) with `overrides`."""
    from variformer import VariformerConfig

    preset = {"encoder": "tiny-encoder", "decoder": "tiny-decoder", "encoder-decoder": "tiny-encoder-decoder"}
    return VariformerConfig.from_preset(preset[architecture], **overrides)
