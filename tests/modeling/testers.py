"""Tester objects for the model tests: one per Variformer variant.

A tester builds tiny configs (hidden 32, 2 layers, odd vocab 99 and FFN 37, see `tests/conftest.py`), random
inputs and the labels each head trains on. The mixins in the test modules hold the shared checks and read
everything variant-specific from `self.tester`, so a variant class lists only the mixins that apply to it.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import pytest
import torch
from conftest import tiny_config
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from variformer import (
    VariformerConfig,
    VariformerForCausalLM,
    VariformerForConditionalGeneration,
    VariformerForMaskedLM,
    VariformerForQuestionAnswering,
    VariformerForSequenceClassification,
    VariformerForTokenClassification,
    VariformerModel,
)

FIRST_WORD_ID = 3  # ids 0, 1, 2 are pad, bos and eos in the tiny presets

# torch's dynamo builds an autograd.Function's ctx with `torch.autograd.Function()` inside
# `warnings.catch_warnings` (side_effects.track_object_new), which only records the deprecation warning unless
# warnings are errors, as in this suite: tests that trace the chunked loss or the tanh GELU ignore it.
IGNORE_DYNAMO_AUTOGRAD_CTX_WARNING = pytest.mark.filterwarnings(
    "ignore:<class 'torch.autograd.function.Function'> should not be instantiated"
)
# Tests that compile with torch.compile/inductor take tens of seconds on a CPU: kept out of the default run.
SLOW_ON_CPU = pytest.mark.skipif(
    os.environ.get("VARIFORMER_SLOW") != "1",
    reason="compiles with torch.compile (tens of seconds on CPU); set VARIFORMER_SLOW=1 to run it "
    "(CI does, on the newest releases)",
)


@dataclass(frozen=True)
class VariantTester:
    """Tiny configs, inputs and labels of one variant.

    `heads` maps each Auto class the variant serves to the Variformer class it resolves to; `lm_class` is the
    variant's language-model head (the one the option grid, padding and cache checks run through).
    """

    architecture: str
    lm_class: type
    heads: dict
    batch_size: int = 2
    seq_length: int = 7
    target_length: int = 5

    @property
    def is_encoder_decoder(self) -> bool:
        return self.architecture == "encoder-decoder"

    @property
    def is_generative(self) -> bool:
        return self.architecture != "encoder"

    def config(self, **overrides) -> VariformerConfig:
        return tiny_config(self.architecture, **overrides)

    def token_ids(self, config: VariformerConfig, batch: int | None = None, length: int | None = None):
        """Random non-special token ids, (batch, length)."""
        shape = (batch or self.batch_size, length or self.seq_length)
        return torch.randint(FIRST_WORD_ID, config.vocab_size, shape)

    def inputs(self, config: VariformerConfig, batch: int | None = None) -> dict:
        """Model inputs without labels: input_ids and attention_mask, plus decoder_input_ids for encoder-decoder."""
        input_ids = self.token_ids(config, batch)
        inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
        if self.is_encoder_decoder:
            inputs["decoder_input_ids"] = self.token_ids(config, batch, self.target_length)
        return inputs

    def head_inputs(self, model_class: type, config: VariformerConfig, batch: int | None = None) -> dict:
        """`inputs` restricted to what `model_class` takes (only seq2seq models take decoder inputs)."""
        inputs = self.inputs(config, batch)
        if model_class not in (VariformerModel, VariformerForConditionalGeneration):
            inputs.pop("decoder_input_ids", None)
        return inputs

    def output_shapes(self, model_class: type, config: VariformerConfig, inputs: dict) -> dict[str, tuple]:
        """The shape of each main output of `model_class` on `inputs`."""
        batch, length = inputs["input_ids"].shape
        out_length = inputs["decoder_input_ids"].shape[1] if "decoder_input_ids" in inputs else length
        if model_class is VariformerModel:
            return {"last_hidden_state": (batch, out_length, config.hidden_size)}
        if model_class is VariformerForSequenceClassification:
            return {"logits": (batch, config.num_labels)}
        if model_class is VariformerForTokenClassification:
            return {"logits": (batch, length, config.num_labels)}
        if model_class is VariformerForQuestionAnswering:
            return {"start_logits": (batch, length), "end_logits": (batch, length)}
        return {"logits": (batch, out_length, config.vocab_size)}

    def labels(self, model_class: type, config: VariformerConfig, inputs: dict) -> dict:
        """The label arguments `model_class` computes its loss from, shaped for `inputs`."""
        batch, length = inputs["input_ids"].shape
        if model_class is VariformerForSequenceClassification:
            return {"labels": torch.randint(0, config.num_labels, (batch,))}
        if model_class is VariformerForTokenClassification:
            return {"labels": torch.randint(0, config.num_labels, (batch, length))}
        if model_class is VariformerForQuestionAnswering:
            return {
                "start_positions": torch.randint(0, length, (batch,)),
                "end_positions": torch.randint(0, length, (batch,)),
            }
        if model_class is VariformerForConditionalGeneration:
            return {"labels": inputs["decoder_input_ids"].clone()}
        labels = inputs["input_ids"].clone()
        if model_class is VariformerForMaskedLM:
            labels[:, ::2] = -100  # only odd positions count as masked
        return {"labels": labels}

    def trainable_heads(self) -> list[type]:
        """The head classes that compute a loss (all but the bare model)."""
        return [cls for cls in self.heads.values() if cls is not VariformerModel]


ENCODER = VariantTester(
    architecture="encoder",
    lm_class=VariformerForMaskedLM,
    heads={
        AutoModel: VariformerModel,
        AutoModelForMaskedLM: VariformerForMaskedLM,
        AutoModelForSequenceClassification: VariformerForSequenceClassification,
        AutoModelForTokenClassification: VariformerForTokenClassification,
        AutoModelForQuestionAnswering: VariformerForQuestionAnswering,
    },
)
DECODER = VariantTester(
    architecture="decoder",
    lm_class=VariformerForCausalLM,
    heads={
        AutoModel: VariformerModel,
        AutoModelForCausalLM: VariformerForCausalLM,
        AutoModelForSequenceClassification: VariformerForSequenceClassification,
    },
)
ENCODER_DECODER = VariantTester(
    architecture="encoder-decoder",
    lm_class=VariformerForConditionalGeneration,
    heads={
        AutoModel: VariformerModel,
        AutoModelForSeq2SeqLM: VariformerForConditionalGeneration,
        AutoModelForSequenceClassification: VariformerForSequenceClassification,
    },
)
TESTERS = (ENCODER, DECODER, ENCODER_DECODER)


def variant_tester(architecture: str) -> VariantTester:
    return next(tester for tester in TESTERS if tester.architecture == architecture)


# Config options the forward/backward grid crosses; every pair of values of two options appears in some row.
OPTION_VALUES = {
    "position_embedding_type": ["sinusoidal", "learned", "relative_bias", "rotary", "none"],
    "hidden_act": ["gelu", "swiglu", "geglu", "reglu"],
    "num_key_value_heads": [4, 2, 1],  # multi-head, grouped-query, multi-query (4 query heads)
    "norm_type": ["layernorm", "rmsnorm"],
    "norm_position": ["pre", "post"],
    "attention_bias": [True, False],
    "mlp_bias": [True, False],
    "scale_embeddings": [False, True],
    "embedding_norm": [False, True],
    "attention_scale": [None, 1.0],
}


def pairwise_grid(option_values: dict[str, list]) -> list[dict]:
    """A small set of option combinations covering every pair of values of every two options.

    Greedy and deterministic: each row starts from the first still-uncovered pair, then takes for each other
    option the first value that covers the most uncovered pairs with the values already chosen.
    """
    uncovered = {
        frozenset({(a, value_a), (b, value_b)})
        for a, b in itertools.combinations(option_values, 2)
        for value_a in option_values[a]
        for value_b in option_values[b]
    }
    grid = []
    while uncovered:
        row = dict(min(uncovered, key=lambda pair: sorted(map(repr, pair))))
        for name, values in option_values.items():
            if name not in row:
                row[name] = max(values, key=lambda value: len(_pairs({**row, name: value}) & uncovered))
        row = {name: row[name] for name in option_values}
        uncovered -= _pairs(row)
        grid.append(row)
    return grid


def _pairs(combo: dict) -> set:
    return {frozenset(pair) for pair in itertools.combinations(combo.items(), 2)}


def grid_id(options: dict) -> str:
    return "-".join(str(value) for value in options.values())


def assert_close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4, msg=""):
    torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol, msg=msg or None)
