"""LoRA on every Variformer variant: default target modules, Trainer steps, save, load onto a fresh base,
merge_and_unload parity."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_config
from datasets import Dataset
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import Trainer, TrainingArguments

from variformer import (
    VariformerForCausalLM,
    VariformerForConditionalGeneration,
    VariformerForMaskedLM,
    VariformerForSequenceClassification,
)
from variformer.training.lora import DEFAULT_LORA_TARGET_MODULES, apply_lora

# PEFT 0.21 reads transformers' deprecated `is_gradient_checkpointing` (PeftModel.__init__): not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")

# (id, architecture, head, objective)
VARIANTS = [
    ("decoder-causal-lm", "decoder", VariformerForCausalLM, "causal_lm"),
    ("decoder-classifier", "decoder", VariformerForSequenceClassification, "sequence_classification"),
    ("encoder-masked-lm", "encoder", VariformerForMaskedLM, "masked_lm"),
    ("encoder-classifier", "encoder", VariformerForSequenceClassification, "sequence_classification"),
    ("encoder-decoder-seq2seq", "encoder-decoder", VariformerForConditionalGeneration, "seq2seq"),
]


def batch_for(objective: str, vocab_size: int, rows: int = 8, length: int = 11) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, vocab_size, (rows, length), generator=generator)  # (rows, length)
    batch = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    batch["attention_mask"][0, -3:] = 0  # one padded row
    if objective == "sequence_classification":
        batch["labels"] = torch.arange(rows) % 2
    elif objective == "seq2seq":
        batch["labels"] = torch.randint(3, vocab_size, (rows, 7), generator=generator)
    else:
        batch["labels"] = input_ids.masked_fill(batch["attention_mask"] == 0, -100)
    return batch


def outputs_of(model, batch) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(**{k: v for k, v in batch.items()}).logits


def train_a_few_steps(model, batch, tmp_path, steps: int = 4, use_cpu: bool = True):
    rows = [{key: value[i].tolist() for key, value in batch.items()} for i in range(len(batch["input_ids"]))]
    args = TrainingArguments(
        output_dir=str(tmp_path / "trainer"),
        max_steps=steps,
        per_device_train_batch_size=8,
        learning_rate=2e-2,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        dataloader_pin_memory=False,
        use_cpu=use_cpu,
    )
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_list(rows))
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert all(torch.isfinite(torch.tensor(losses)))
    return losses


@pytest.mark.parametrize("name, architecture, head, objective", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_lora_attach_train_save_load_merge(tmp_path, name, architecture, head, objective):
    config = tiny_config(architecture, num_labels=2)
    base = head(config)
    base.save_pretrained(tmp_path / "base")
    batch = batch_for(objective, config.vocab_size)
    before = outputs_of(base, batch)

    model = apply_lora(base, objective, r=4, alpha=8, dropout=0.0)
    lora_layers = {name.split(".")[-1] for name, module in model.named_modules() if hasattr(module, "lora_A")}
    expected = set(DEFAULT_LORA_TARGET_MODULES) - (set() if config.is_gated_mlp else {"gate_proj"})
    assert lora_layers == expected
    if architecture == "encoder-decoder":
        assert any(".cross_attn.q_proj" in name for name, module in model.named_modules() if hasattr(module, "lora_A"))
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name or "modules_to_save" in name for name in trainable)
    if objective == "sequence_classification":
        assert any("score" in name and "modules_to_save" in name for name in trainable)

    train_a_few_steps(model, batch, tmp_path)
    assert any(
        module.lora_B["default"].weight.abs().sum() > 0 for module in model.modules() if hasattr(module, "lora_B")
    ), "training left every LoRA B at zero"
    adapted = outputs_of(model, batch)
    assert not torch.allclose(adapted, before, atol=1e-4), "the adapter changed nothing"

    model.save_pretrained(tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    fresh = head.from_pretrained(tmp_path / "base")
    torch.testing.assert_close(outputs_of(fresh, batch), before)  # really the untrained base
    loaded = PeftModel.from_pretrained(fresh, tmp_path / "adapter")
    torch.testing.assert_close(outputs_of(loaded, batch), adapted, atol=1e-5, rtol=1e-5)

    merged = loaded.merge_and_unload()
    assert type(merged) is head and not any(hasattr(m, "lora_A") for m in merged.modules())
    torch.testing.assert_close(outputs_of(merged, batch), adapted, atol=1e-5, rtol=1e-4)


def test_peft_knows_variformer_defaults():
    """After `import variformer.training`, get_peft_model needs no target_modules for model_type "variformer"."""
    import variformer.training  # noqa: F401  (registers the defaults)

    model = get_peft_model(VariformerForCausalLM(tiny_config("decoder")), LoraConfig(r=2, task_type="CAUSAL_LM"))
    targets = set(model.peft_config["default"].target_modules)
    assert targets == set(DEFAULT_LORA_TARGET_MODULES)


def test_user_target_modules_override_defaults():
    model = apply_lora(VariformerForCausalLM(tiny_config("decoder")), "causal_lm", r=2, target_modules=["q_proj"])
    lora_layers = {name.split(".")[-1] for name, module in model.named_modules() if hasattr(module, "lora_A")}
    assert lora_layers == {"q_proj"}


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="QLoRA (bitsandbytes 4-bit) needs a CUDA GPU; none here")
def test_qlora_trains_on_gpu(tmp_path):
    pytest.importorskip("bitsandbytes", reason="QLoRA needs the bitsandbytes package")
    from variformer.training.lora import four_bit_quantization_config

    config = tiny_config("decoder", hidden_size=64, intermediate_size=128)
    VariformerForCausalLM(config).save_pretrained(tmp_path / "base")
    model = VariformerForCausalLM.from_pretrained(
        tmp_path / "base", quantization_config=four_bit_quantization_config(), device_map={"": 0}
    )
    assert any("4bit" in type(module).__name__ for module in model.modules())
    model = apply_lora(model, "causal_lm", quantized=True, r=4, alpha=8, dropout=0.0)
    losses = train_a_few_steps(model, batch_for("causal_lm", config.vocab_size), tmp_path, steps=10, use_cpu=False)
    assert losses[-1] < losses[0]
