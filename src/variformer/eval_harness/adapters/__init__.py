"""Model adapters: `ModelAdapter` (the interface), `HFAdapter` (any transformers causal LM, seq2seq LM or
sequence classifier) and `FakeAdapter` (deterministic, for tests). `load_adapter` builds one from a model
object, a local folder or a Hub id."""

from __future__ import annotations

from pathlib import Path

import torch

from ..._files import TOKENIZER_FILES
from ..._model_kind import config_kind
from ..errors import CapabilityError, HarnessError, SettingError
from ..quantization import bitsandbytes_config, check_quantize, describe_quantization, quantize_in_place, quantized_copy
from .base import ModelAdapter
from .fake import FakeAdapter, SimulatedCrash
from .hf import HFAdapter, check_max_length, detect_architecture

AUTO_CLASS_NAMES = {
    "causal": "AutoModelForCausalLM",
    "seq2seq": "AutoModelForSeq2SeqLM",
    "classifier": "AutoModelForSequenceClassification",
}


def architecture_from_config(config) -> str:
    """ "classifier" / "seq2seq" / "causal": the Auto class building `config.architectures`, else from
    `is_encoder_decoder`."""
    kind = config_kind(config)
    if kind in AUTO_CLASS_NAMES:
        return kind
    return "seq2seq" if getattr(config, "is_encoder_decoder", False) else "causal"


def load_pretrained(
    name_or_path: str,
    *,
    architecture: str = "auto",
    dtype: str = "auto",
    device: str | None = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    tokenizer=None,
    max_length: int | None = None,
    quantize: str | None = None,
):
    """(model, tokenizer) from a local folder or Hub id, through the Auto class of `architecture`.

    quantize: "int8" / "int4" (`quantization.py`): bitsandbytes at load on CUDA, torchao int8 after load on CPU.
    tokenizer: a folder / Hub id to load the tokenizer from (default: `name_or_path`), or a tokenizer object.
    max_length: checked against the model's positions. The config, `max_length` and the tokenizer are checked
    before the weights load, so a wrong setting fails fast.
    """
    import transformers

    import variformer  # noqa: F401  (registers model_type "variformer" with the Auto classes)

    options = dict(revision=revision, trust_remote_code=trust_remote_code)
    try:
        config = transformers.AutoConfig.from_pretrained(name_or_path, **options)
    except (OSError, ValueError) as error:
        local = Path(name_or_path).exists()
        hint = "" if local else " (not a local folder; Hub ids need network access unless cached)"
        raise HarnessError(f"cannot load model config from {name_or_path!r}{hint}: {error}") from error
    check_max_length(max_length, config)
    if tokenizer is None or isinstance(tokenizer, (str, Path)):
        tokenizer = load_tokenizer(str(tokenizer or name_or_path), given=tokenizer is not None, **options)
    if architecture == "auto":
        architecture = architecture_from_config(config)
    if architecture not in AUTO_CLASS_NAMES:
        raise CapabilityError(f"architecture must be auto, causal, seq2seq or classifier, got {architecture!r}")
    auto_class = getattr(transformers, AUTO_CLASS_NAMES[architecture])
    device_type = torch.device(device).type if device else ("cuda" if torch.cuda.is_available() else "cpu")
    quantize = check_quantize(quantize, device_type)
    if quantize is not None and device_type == "cuda":
        options.update(quantization_config=bitsandbytes_config(quantize), device_map={"": device or "cuda"})
    model = auto_class.from_pretrained(name_or_path, dtype=dtype, **options)
    if device and "device_map" not in options:
        model = model.to(device)
    if quantize is not None and device_type == "cpu":
        quantize_in_place(model)
    return model.eval(), tokenizer


def load_tokenizer(source: str, *, given: bool = False, revision: str | None = None, trust_remote_code: bool = False):
    """The tokenizer of folder / Hub id `source`; HarnessError saying which folder has none and how to pass one.
    `given`: `source` came from --tokenizer / tokenizer= (else it is the model's folder)."""
    import transformers

    folder = Path(source)
    if folder.is_dir() and not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise HarnessError(_no_tokenizer(source, given, f"it has none of {', '.join(TOKENIZER_FILES)}"))
    try:
        return transformers.AutoTokenizer.from_pretrained(
            source, revision=revision, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError, TypeError) as error:
        raise HarnessError(_no_tokenizer(source, given, str(error).strip().splitlines()[0])) from error


def _no_tokenizer(source: str, given: bool, reason: str) -> str:
    if given:
        return f"cannot load a tokenizer from {source} (--tokenizer / tokenizer=): {reason}"
    return (
        f"no tokenizer in model folder {source} ({reason}); pass --tokenizer FOLDER_OR_HUB_ID (Python: "
        "tokenizer=...) naming where the tokenizer is, or save it into the model folder with "
        "tokenizer.save_pretrained(folder)"
    )


def load_adapter(
    model,
    tokenizer=None,
    *,
    architecture: str = "auto",
    dtype: str = "auto",
    device: str | None = None,
    revision: str | None = None,
    quantize: str | None = None,
    **adapter_options,
) -> ModelAdapter:
    """An adapter for `model`: a ModelAdapter (returned as is), a transformers model (with `tokenizer`), or a
    local folder / Hub id to load (`tokenizer`: a tokenizer, a folder / Hub id, or None for the model's own).
    quantize: "int8" / "int4" (`quantization.py`); a model object is quantized as a copy (CPU int8 only)."""
    if isinstance(model, ModelAdapter):
        if quantize not in (None, "none"):
            raise SettingError("quantize applies to transformers models, not to a ModelAdapter")
        return model
    if isinstance(model, (str, Path)):
        model, tokenizer = load_pretrained(
            str(model),
            architecture=architecture,
            dtype=dtype,
            device=device,
            revision=revision,
            tokenizer=tokenizer,
            max_length=adapter_options.get("max_length"),
            quantize=quantize,
        )
    elif check_quantize(quantize, next(model.parameters()).device.type) is not None:
        model = quantized_copy(model, quantize)
    label = None
    if quantize not in (None, "none"):
        label = f"{quantize}: {describe_quantization(quantize, next(model.parameters()).device.type)}"
    architecture = None if architecture == "auto" else architecture
    return HFAdapter(model, tokenizer, architecture=architecture, quantization=label, **adapter_options)


__all__ = [
    "ModelAdapter",
    "HFAdapter",
    "FakeAdapter",
    "SimulatedCrash",
    "detect_architecture",
    "architecture_from_config",
    "load_pretrained",
    "load_tokenizer",
    "load_adapter",
]
