"""Quantized evaluation: the same tasks on a quantized copy of any transformers model, and side by side with full
precision (`compare_precision`, the CLI's `--compare-precision`).

- CPU, "int8": torchao's dynamic int8 quantization of every `nn.Linear` not tied to an embedding (int8 weights,
  activations quantized per token at run time: `Int8DynamicActivationInt8WeightConfig`; transformers' `Conv1D`,
  GPT-2's transposed Linear, becomes the equal `nn.Linear` first), on a copy of the model (the model passed in is
  never changed). torch's own `torch.ao.quantization.quantize_dynamic` is deprecated in favour of torchao.
- CUDA, "int8" / "int4": bitsandbytes through transformers' `BitsAndBytesConfig` at load time (LLM.int8() and
  4-bit NF4 with bf16 compute), for models loaded from a folder or Hub id.

The quantization is recorded in the run (`model.quantization`) and is part of the cache fingerprint. The model
size is the bytes of its parameters and buffers as stored (a quantized tensor counts its int8 data and scales).
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import SettingError

QUANTIZE_CHOICES = ("none", "int8", "int4")


def check_quantize(quantize: str | None, device_type: str) -> str | None:
    """`quantize` normalized ("none" -> None), or SettingError naming what is missing on this machine."""
    if quantize in (None, "none"):
        return None
    if quantize not in QUANTIZE_CHOICES:
        raise SettingError(f"quantize (--quantize) must be one of {', '.join(QUANTIZE_CHOICES)}, got {quantize!r}")
    if device_type == "cuda":
        if importlib.util.find_spec("bitsandbytes") is None:
            raise SettingError(
                f"--quantize {quantize} on CUDA uses bitsandbytes, which is not installed: pip install bitsandbytes"
            )
        return quantize
    if quantize == "int4":
        raise SettingError(
            "--quantize int4 (4-bit NF4) needs a CUDA GPU and bitsandbytes; on CPU use --quantize int8 (torchao)"
        )
    if importlib.util.find_spec("torchao") is None:
        raise SettingError(
            "--quantize int8 on CPU uses torchao, which is not installed: pip install torchao "
            "(or pip install 'variformer[quantize]')"
        )
    return quantize


def bitsandbytes_config(quantize: str):
    """transformers' `BitsAndBytesConfig` for a CUDA load: LLM.int8() or 4-bit NF4 with bf16 compute."""
    from transformers import BitsAndBytesConfig

    if quantize == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )


def describe_quantization(quantize: str, device_type: str) -> str:
    if device_type == "cuda":
        return "bitsandbytes LLM.int8()" if quantize == "int8" else "bitsandbytes 4-bit NF4 (bf16 compute)"
    return "torchao Int8DynamicActivationInt8WeightConfig on every nn.Linear not tied to an embedding"


def quantize_in_place(model: torch.nn.Module) -> torch.nn.Module:
    """torchao dynamic int8 on every nn.Linear of the CPU `model`, in place; returns it. A head tied to an
    embedding stays as it is: an int8 copy of it beside the embedding it shares would make the model bigger."""
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    _conv1d_to_linear(model)
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}

    def untied_linear(module: torch.nn.Module, name: str) -> bool:
        return isinstance(module, torch.nn.Linear) and id(module.weight) not in embeddings

    quantize_(model, Int8DynamicActivationInt8WeightConfig(), filter_fn=untied_linear)
    return model


def _conv1d_to_linear(model: torch.nn.Module) -> None:
    """Replace transformers' `Conv1D` (GPT-2's projections: a Linear with the weight stored transposed) by the
    equal `nn.Linear`, so that int8 quantization reaches them too."""
    from transformers.pytorch_utils import Conv1D

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Conv1D):
                in_features, out_features = child.weight.shape
                linear = torch.nn.Linear(
                    in_features, out_features, dtype=child.weight.dtype, device=child.weight.device
                )
                with torch.no_grad():
                    linear.weight.copy_(child.weight.T)
                    linear.bias.copy_(child.bias)
                setattr(parent, name, linear)


def quantized_copy(model: torch.nn.Module, quantize: str) -> torch.nn.Module:
    """A CPU int8 copy of the model object `model`; `model` itself is left as it was."""
    if next(model.parameters()).device.type != "cpu":
        raise SettingError(
            "quantizing a model object works on CPU (torchao int8); for CUDA give a model folder or Hub id, "
            "loaded with bitsandbytes"
        )
    return quantize_in_place(copy.deepcopy(model).eval())


def plain_tensors(tensor: torch.Tensor) -> list[torch.Tensor]:
    """The plain tensors a tensor is stored as: itself, or the inner tensors of a tensor subclass (torchao's
    quantized tensors: int8 data, scales), recursively."""
    if type(tensor) not in (torch.Tensor, torch.nn.Parameter) and hasattr(tensor, "__tensor_flatten__"):
        names, _ = tensor.__tensor_flatten__()
        return [part for name in names for part in plain_tensors(getattr(tensor, name))]
    return [tensor]


def model_size_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's parameters and buffers as stored (each shared tensor once)."""
    seen, total = set(), 0
    for tensor in [*model.parameters(), *model.buffers()]:
        for part in plain_tensors(tensor.data if isinstance(tensor, torch.nn.Parameter) else tensor):
            key = (part.data_ptr(), part.numel(), part.dtype)
            if key not in seen:
                seen.add(key)
                total += part.numel() * part.element_size()
    return total


@dataclass
class PrecisionComparison:
    """`compare_precision`'s result: the two runs, their comparison, and the table written beside it."""

    full: object  # RunResult
    quantized: object  # RunResult
    comparison: object  # Comparison
    table: dict
    folder: Path


def compare_precision(
    model,
    tokenizer=None,
    tasks: Sequence | None = None,
    *,
    quantize: str = "int8",
    output_dir: str | Path = "runs",
    **evaluate_options,
) -> PrecisionComparison:
    """Evaluate `tasks` at full precision and quantized (`quantize`) in one call, with the same settings and seed,
    and write, into `output_dir`: both run folders (`<run id>/`), and `precision_<full>_vs_<quantized>/` with the paired
    comparison (`compare_runs`: each metric's difference with a paired bootstrap interval and p-value) plus
    `precision.md` / `precision.json` (model size, time, and those deltas in one table)."""
    from . import evaluate
    from .runner import save_run

    output_dir = Path(output_dir)
    full = evaluate(model, tokenizer, tasks, **evaluate_options)
    quantized = evaluate(model, tokenizer, tasks, quantize=quantize, **evaluate_options)
    full_folder = save_run(full, output_dir / full.run_id).parent
    quantized_folder = save_run(quantized, output_dir / quantized.run_id).parent
    return write_precision_comparison(full, full_folder, quantized, quantized_folder, output_dir)


def write_precision_comparison(full, full_folder, quantized, quantized_folder, output_dir) -> PrecisionComparison:
    """Compare two saved runs of the same tasks (`compare_runs`) into `precision_<full>_vs_<quantized>/` and add
    `precision.json` / `precision.md` there."""
    from .. import _files
    from .compare import compare_runs
    from .results import write_json

    folder = Path(output_dir) / f"precision_{full.run_id}_vs_{quantized.run_id}"
    comparison = compare_runs(full_folder, quantized_folder, output_dir=folder)
    table = precision_table(full, quantized, comparison)
    write_json(folder / "precision.json", table)
    _files.atomic_write_text(folder / "precision.md", precision_markdown(table))
    return PrecisionComparison(full, quantized, comparison, table, folder)


def precision_table(full, quantized, comparison) -> dict:
    """Model size, time and per-metric deltas (with the paired intervals of `comparison`) as one JSON table."""

    def side(run) -> dict:
        return {
            "run_id": run.run_id,
            "quantization": run.model.get("quantization"),
            "dtype": run.model.get("dtype"),
            "size_bytes": run.model.get("size_bytes"),
            "time_s": run.timing.get("total_s"),
        }

    rows = [
        {
            "task": d.task,
            "metric": d.metric,
            "full": d.value_a,
            "quantized": d.value_b,
            "difference": d.difference,
            "ci_low": d.ci_low,
            "ci_high": d.ci_high,
            "p_value": d.p_value,
            "num_shared": d.num_shared,
        }
        for d in comparison.differences
    ]
    return {"full": side(full), "quantized": side(quantized), "metrics": rows}


def precision_markdown(table: dict) -> str:
    full, quantized = table["full"], table["quantized"]

    def mb(value) -> str:
        return "–" if value is None else f"{value / 2**20:.2f} MB"

    def num(value) -> str:
        return "–" if value is None else f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"

    ratio = (
        f" ({quantized['size_bytes'] / full['size_bytes']:.2f}x)"
        if full["size_bytes"] and quantized["size_bytes"]
        else ""
    )
    lines = [
        "# Full precision vs quantized",
        "",
        "| | full precision | quantized |",
        "|---|---|---|",
        f"| run | `{full['run_id']}` | `{quantized['run_id']}` |",
        f"| weights | {full['dtype']} | {quantized['quantization']} |",
        f"| model size | {mb(full['size_bytes'])} | {mb(quantized['size_bytes'])}{ratio} |",
        f"| time | {num(full['time_s'])} s | {num(quantized['time_s'])} s |",
        "",
        "| task | metric | full | quantized | Δ (quantized − full) | paired 95% interval | p | n |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for row in table["metrics"]:
        interval = "–" if row["ci_low"] is None else f"[{num(row['ci_low'])}, {num(row['ci_high'])}]"
        lines.append(
            f"| {row['task']} | {row['metric']} | {num(row['full'])} | {num(row['quantized'])} | "
            f"{num(row['difference'])} | {interval} | {num(row['p_value'])} | {row['num_shared']} |"
        )
    return "\n".join(lines) + "\n"


__all__ = [
    "QUANTIZE_CHOICES",
    "check_quantize",
    "quantized_copy",
    "model_size_bytes",
    "compare_precision",
    "write_precision_comparison",
    "PrecisionComparison",
]
