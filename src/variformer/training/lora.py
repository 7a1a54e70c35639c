"""LoRA and QLoRA for Variformer with PEFT.

The default `target_modules` (`DEFAULT_LORA_TARGET_MODULES`: every attention and feed-forward projection) are
registered with PEFT by `import variformer` (see `variformer._peft_defaults`); users can still pass their own.

QLoRA loads the base weights in 4-bit NF4 through bitsandbytes (`BitsAndBytesConfig`), which needs a CUDA GPU.
"""

from __future__ import annotations

import importlib.util
import warnings

import torch
from torch import nn

from .._peft_defaults import DEFAULT_LORA_TARGET_MODULES

# objective -> peft TaskType name (None: a plain PeftModel, e.g. masked LM, for which PEFT has no task type)
PEFT_TASK_TYPES: dict[str, str | None] = {
    "causal_lm": "CAUSAL_LM",
    "seq2seq": "SEQ_2_SEQ_LM",
    "sequence_classification": "SEQ_CLS",
    "masked_lm": None,
}


def classification_head_modules(model: nn.Module) -> list[str]:
    """Names of the trainable head modules of a sequence classifier (kept fully trainable under LoRA)."""
    return [name for name in ("pooler", "score") if isinstance(getattr(model, name, None), nn.Module)]


def lora_config(
    objective: str,
    model: nn.Module,
    r: int = 8,
    alpha: int = 16,
    dropout: float = 0.05,
    target_modules: list[str] | None = None,
    modules_to_save: list[str] | None = None,
):
    """A `peft.LoraConfig` for `objective` on `model` with Variformer defaults filled in."""
    from peft import LoraConfig, TaskType

    task_type = PEFT_TASK_TYPES[objective]
    if modules_to_save is None and objective == "sequence_classification":
        modules_to_save = classification_head_modules(model)
    return LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules or DEFAULT_LORA_TARGET_MODULES),
        modules_to_save=modules_to_save,
        task_type=getattr(TaskType, task_type) if task_type else None,
    )


def apply_lora(model: nn.Module, objective: str, quantized: bool = False, **lora_kwargs):
    """Wrap `model` with LoRA adapters (PEFT); `quantized` models are first prepared for k-bit training."""
    from peft import get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(model)
    with warnings.catch_warnings():
        # PEFT reads transformers' deprecated `is_gradient_checkpointing`; the warning is not actionable here
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, lora_config(objective, model, **lora_kwargs))


def trainable_parameter_summary(model: nn.Module) -> dict[str, float]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {
        "trainable_parameters": trainable,
        "total_parameters": total,
        "trainable_fraction": trainable / total if total else 0.0,
    }


def qlora_unavailable_reason() -> str | None:
    """Why QLoRA cannot run here (no CUDA device, no bitsandbytes), or None when it can."""
    if not torch.cuda.is_available():
        return "QLoRA (bitsandbytes 4-bit) needs a CUDA GPU and this machine has none"
    if importlib.util.find_spec("bitsandbytes") is None:
        return "QLoRA needs the bitsandbytes package (pip install bitsandbytes)"
    return None


def four_bit_quantization_config():
    """NF4 4-bit base weights with double quantization and bf16 compute (the QLoRA paper's settings)."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


__all__ = [
    "DEFAULT_LORA_TARGET_MODULES",
    "apply_lora",
    "classification_head_modules",
    "four_bit_quantization_config",
    "lora_config",
    "qlora_unavailable_reason",
    "trainable_parameter_summary",
]
