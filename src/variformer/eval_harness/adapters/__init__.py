"""Model adapters: `ModelAdapter` (the interface), `HFAdapter` (any transformers causal LM, seq2seq LM or
sequence classifier) and `FakeAdapter` (deterministic, for tests). `load_adapter` builds one from a model
object, a local folder or a Hub id."""

from __future__ import annotations

from pathlib import Path

from ..errors import CapabilityError, HarnessError
from .base import ModelAdapter
from .fake import FakeAdapter, SimulatedCrash
from .hf import HFAdapter, detect_architecture

AUTO_CLASS_NAMES = {"causal": "AutoModelForCausalLM", "seq2seq": "AutoModelForSeq2SeqLM",
                    "classifier": "AutoModelForSequenceClassification"}


def architecture_from_config(config) -> str:
    """"classifier" / "seq2seq" / "causal" from a config's `architectures` and `is_encoder_decoder`."""
    names = getattr(config, "architectures", None) or []
    if any(name.endswith("ForSequenceClassification") for name in names):
        return "classifier"
    if getattr(config, "is_encoder_decoder", False):
        return "seq2seq"
    return "causal"


def load_pretrained(name_or_path: str, *, architecture: str = "auto", dtype: str = "auto", device: str | None = None,
                    revision: str | None = None, trust_remote_code: bool = False):
    """(model, tokenizer) from a local folder or Hub id, through the Auto class of `architecture`."""
    import transformers

    import variformer  # noqa: F401  (registers model_type "variformer" with the Auto classes)

    options = dict(revision=revision, trust_remote_code=trust_remote_code)
    try:
        config = transformers.AutoConfig.from_pretrained(name_or_path, **options)
    except (OSError, ValueError) as error:
        local = Path(name_or_path).exists()
        hint = "" if local else " (not a local folder; Hub ids need network access unless cached)"
        raise HarnessError(f"cannot load model config from {name_or_path!r}{hint}: {error}") from error
    if architecture == "auto":
        architecture = architecture_from_config(config)
    if architecture not in AUTO_CLASS_NAMES:
        raise CapabilityError(f"architecture must be auto, causal, seq2seq or classifier, got {architecture!r}")
    auto_class = getattr(transformers, AUTO_CLASS_NAMES[architecture])
    model = auto_class.from_pretrained(name_or_path, dtype=dtype, **options)
    if device:
        model = model.to(device)
    tokenizer = transformers.AutoTokenizer.from_pretrained(name_or_path, **options)
    return model.eval(), tokenizer


def load_adapter(model, tokenizer=None, *, architecture: str = "auto", dtype: str = "auto",
                 device: str | None = None, revision: str | None = None, **adapter_options) -> ModelAdapter:
    """An adapter for `model`: a ModelAdapter (returned as is), a transformers model (with `tokenizer`), or a
    local folder / Hub id to load."""
    if isinstance(model, ModelAdapter):
        return model
    if isinstance(model, (str, Path)):
        model, loaded_tokenizer = load_pretrained(str(model), architecture=architecture, dtype=dtype, device=device,
                                                  revision=revision)
        tokenizer = tokenizer or loaded_tokenizer
    return HFAdapter(model, tokenizer, architecture=None if architecture == "auto" else architecture,
                     **adapter_options)


__all__ = ["ModelAdapter", "HFAdapter", "FakeAdapter", "SimulatedCrash", "detect_architecture",
           "architecture_from_config", "load_pretrained", "load_adapter"]
