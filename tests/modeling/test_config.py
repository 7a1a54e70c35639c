"""`VariformerConfig`: derived flags, presets, documentation of every field, and invalid configs that raise."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedConfig

import variformer
from variformer import (
    VariformerConfig,
    VariformerForCausalLM,
    VariformerForConditionalGeneration,
    VariformerForMaskedLM,
    VariformerForQuestionAnswering,
    VariformerForTokenClassification,
)
from variformer.configuration import config as config_module

from .testers import TESTERS, variant_tester

REQUIRED_PRESETS = (
    "transformer-base",
    "bert-base",
    "gpt2-small",
    "t5-small",
    "llama-tiny",
    "tiny-encoder",
    "tiny-decoder",
    "tiny-encoder-decoder",
)


def documented_fields() -> set[str]:
    """Field names listed in the "Fields:" section of the `VariformerConfig` docstring."""
    doc = inspect.getdoc(VariformerConfig)
    section = doc.split("Fields:", 1)[1]
    return set(re.findall(r"^    (\w+): ", section, flags=re.MULTILINE))


def declared_fields() -> set[str]:
    """Dataclass fields declared in config.py itself (not inherited from `PreTrainedConfig`)."""
    own = set(config_module.VariformerConfig.__annotations__)
    return {field.name for field in dataclasses.fields(VariformerConfig) if field.name in own}


def test_every_declared_field_is_documented():
    fields = declared_fields()
    assert {"architecture", "position_embedding_type", "num_key_value_heads"} <= fields  # sanity of the helper
    undocumented = fields - documented_fields()
    assert not undocumented, f"fields missing from the VariformerConfig docstring's Fields section: {undocumented}"


def test_documented_fields_exist():
    stale = documented_fields() - declared_fields()
    assert not stale, f"the docstring documents fields VariformerConfig does not declare: {stale}"


@pytest.mark.parametrize("architecture", ["encoder", "decoder", "encoder-decoder"])
def test_hf_flags_derive_from_architecture(architecture):
    expected = architecture == "encoder-decoder"
    config = VariformerConfig(architecture=architecture, pad_token_id=0)
    assert config.is_encoder_decoder is expected
    # stale flags in the kwargs (e.g. from an old config.json) cannot contradict `architecture`, nor come back
    stale = VariformerConfig(
        architecture=architecture, pad_token_id=0, is_encoder_decoder=not expected, is_decoder=not expected
    )
    assert stale.is_encoder_decoder is expected
    assert "is_decoder" not in stale.to_dict() and not hasattr(stale, "is_decoder")


def test_derived_defaults():
    config = VariformerConfig(
        architecture="encoder-decoder", hidden_size=64, num_attention_heads=4, num_hidden_layers=3, pad_token_id=0
    )
    assert (config.head_dim, config.intermediate_size, config.num_key_value_heads) == (16, 256, 4)
    assert (config.decoder_layers, config.decoder_start_token_id) == (3, 0)
    assert VariformerConfig(architecture="encoder").classifier_pooling == "first"
    assert VariformerConfig(architecture="decoder").classifier_pooling == "last"


@pytest.mark.parametrize("name", REQUIRED_PRESETS)
def test_presets_build(name):
    config = VariformerConfig.from_preset(name, vocab_size=128)
    assert config.vocab_size == 128
    assert isinstance(config, PreTrainedConfig)


def test_preset_overrides_win():
    config = VariformerConfig.from_preset("gpt2-small", vocab_size=8000, num_hidden_layers=3)
    assert (config.vocab_size, config.num_hidden_layers, config.hidden_size) == (8000, 3, 768)


@pytest.mark.parametrize("tester", TESTERS, ids=lambda t: t.architecture)
def test_config_round_trips_through_auto_config(tester, tmp_path):
    config = tester.config(num_labels=3)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, VariformerConfig)
    without_path = lambda c: {k: v for k, v in c.to_dict().items() if k != "_name_or_path"}  # noqa: E731
    assert without_path(loaded) == without_path(config)


# (overrides, field the message must name, an extra word of the message)
INVALID_CONFIGS = [
    (dict(architecture="decoder", hidden_size=30, num_attention_heads=4), "hidden_size", "divisible"),
    (dict(architecture="decoder", num_attention_heads=4, num_key_value_heads=3), "num_key_value_heads", "divide"),
    (
        dict(architecture="decoder", hidden_size=36, num_attention_heads=4, position_embedding_type="rotary"),
        "head_dim",
        "odd",
    ),
    (dict(architecture="decoder", decoder_layers=2), "decoder_layers", "encoder-decoder"),
    (dict(architecture="encoder", decoder_layers=2), "decoder_layers", "encoder-decoder"),
    (dict(architecture="encoder-decoder", type_vocab_size=2, pad_token_id=0), "type_vocab_size", "encoder-decoder"),
    (dict(architecture="decoder", hidden_act="swish_glu"), "hidden_act", "swiglu"),
    (dict(architecture="decoder", hidden_dropout_prob=1.5), "hidden_dropout_prob", "probability"),
    (dict(architecture="decoder", num_hidden_layers=0), "num_hidden_layers", "positive"),
]


@pytest.mark.parametrize("overrides, field, word", INVALID_CONFIGS, ids=[case[1] for case in INVALID_CONFIGS])
def test_invalid_config_raises_naming_the_field(overrides, field, word):
    with pytest.raises(ValueError, match=field) as error:
        VariformerConfig(**overrides)
    assert word in str(error.value)


@pytest.mark.parametrize(
    "field, value",
    [
        ("architecture", "encoder-only"),
        ("position_embedding_type", "alibi"),
        ("norm_type", "batchnorm"),
        ("norm_position", "sandwich"),
    ],
)
def test_closed_choices_reject_unknown_values(field, value):
    with pytest.raises(ValueError, match=field):
        VariformerConfig(**{field: value})


def test_unknown_preset_raises_with_known_names():
    with pytest.raises(ValueError, match="gpt2-small"):
        VariformerConfig.from_preset("gpt5")


@pytest.mark.parametrize(
    "head, architecture",
    [
        (VariformerForCausalLM, "encoder"),
        (VariformerForCausalLM, "encoder-decoder"),
        (VariformerForMaskedLM, "decoder"),
        (VariformerForConditionalGeneration, "decoder"),
        (VariformerForTokenClassification, "encoder-decoder"),
        (VariformerForQuestionAnswering, "decoder"),
    ],
)
def test_head_on_wrong_architecture_raises(head, architecture):
    config = variant_tester(architecture).config()
    with pytest.raises(ValueError, match="architecture") as error:
        head(config)
    assert head.__name__ in str(error.value) and repr(architecture) in str(error.value)


def test_auto_class_on_wrong_architecture_raises():
    with pytest.raises(ValueError, match="VariformerForCausalLM"):
        AutoModelForCausalLM.from_config(variant_tester("encoder").config())


def test_package_registers_auto_config():
    assert isinstance(AutoConfig.for_model("variformer", architecture="encoder"), variformer.VariformerConfig)


def test_every_architecture_builds_from_defaults():
    """transformers' ConfigTester builds configs from defaults, as T5Config() and BartConfig() do."""
    for architecture in ("encoder", "decoder", "encoder-decoder"):
        config = VariformerConfig(architecture=architecture)
        assert VariformerConfig.from_dict(config.to_dict()).to_dict() == config.to_dict()


def test_encoder_decoder_without_a_start_token_cannot_shift_labels():
    from variformer import VariformerForConditionalGeneration

    config = VariformerConfig(
        architecture="encoder-decoder", vocab_size=16, hidden_size=8, num_attention_heads=2, num_hidden_layers=1
    )
    assert config.decoder_start_token_id is None
    model = VariformerForConditionalGeneration(config)
    labels = torch.tensor([[3, 4, 5]])
    with pytest.raises(ValueError, match=r"decoder_start_token_id=None.*set decoder_start_token_id"):
        model(input_ids=labels, labels=labels)
