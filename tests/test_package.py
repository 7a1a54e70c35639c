"""What `import variformer` alone gives a user: Auto classes, PEFT defaults, the command line; and what it does not
load (the training, evaluation and Hub tooling, PEFT)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import torch
from conftest import tiny_config

import variformer
from variformer._peft_defaults import DEFAULT_LORA_TARGET_MODULES


def test_auto_classes_build_every_variant():
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM

    for architecture, auto in (
        ("decoder", AutoModelForCausalLM),
        ("encoder", AutoModelForMaskedLM),
        ("encoder-decoder", AutoModelForSeq2SeqLM),
    ):
        options = {k: v for k, v in tiny_config(architecture).to_dict().items() if k != "model_type"}
        config = AutoConfig.for_model("variformer", **options)
        assert type(auto.from_config(config)).__name__ == variformer.AUTO_CLASSES[auto].__name__


def test_get_peft_model_needs_no_target_modules_after_import():
    from peft import LoraConfig, get_peft_model

    model = variformer.VariformerForCausalLM(tiny_config("decoder"))
    with warnings.catch_warnings():
        # PEFT 0.21 reads a property transformers 5.23 deprecates; not ours to fix
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8))
    adapted = {
        name.split(".lora_A")[0].rsplit(".", 1)[-1] for name, _ in peft_model.named_parameters() if "lora_A" in name
    }
    assert adapted == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    logits = peft_model(input_ids=torch.tensor([[3, 4, 5]])).logits
    assert logits.shape == (1, 3, 99)


# Run in a fresh interpreter: imports variformer and PEFT in the order given by argv[1] (looking PEFT up in between),
# then reports what was loaded and PEFT's default LoRA targets for model_type "variformer".
IMPORT_ORDER = r"""
import importlib.util, json, sys
first, second = sys.argv[1].split(",")
__import__(first)
assert importlib.util.find_spec("peft") is not None  # a look-up without import, as transformers' is_peft_available
loaded = sorted(name for name in ("peft", "variformer.training", "variformer.eval_harness", "variformer.hub_upload")
                if name in sys.modules)
__import__(second)
from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as targets
from peft.tuners.lora.model import LoraModel
print(json.dumps({"loaded": loaded, "targets": targets.get("variformer"),
                  "lora_model": LoraModel.target_module_mapping.get("variformer")}))
"""


@pytest.mark.parametrize("order", ["variformer,peft", "peft,variformer"])
def test_import_is_thin_and_registers_peft_defaults_in_either_order(order):
    import json

    result = subprocess.run([sys.executable, "-c", IMPORT_ORDER, order], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["loaded"] == ([] if order.startswith("variformer") else ["peft"])
    assert report["targets"] == report["lora_model"] == DEFAULT_LORA_TARGET_MODULES


def test_cli_lists_every_command_and_rejects_unknown_ones():
    listing = subprocess.run(
        [sys.executable, "-m", "variformer.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("quickstart", "convert", "train", "eval", "inspect", "push"):
        assert f"  {command}" in listing
    unknown = subprocess.run([sys.executable, "-m", "variformer.cli", "frobnicate"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown command 'frobnicate'" in unknown.stderr


def test_every_cli_command_module_has_the_dispatcher_interface():
    import importlib

    from variformer.cli import COMMANDS

    for name, (module_name, _) in COMMANDS.items():
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments) and callable(module.run), name
