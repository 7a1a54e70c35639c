"""Variformer: one configurable Transformer family (encoder, decoder, encoder-decoder) for transformers v5.

Importing the package registers model_type "variformer" with the transformers Auto classes.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

from .configuration import PRESETS, VariformerConfig
from .modeling import (
    VariformerForCausalLM,
    VariformerForConditionalGeneration,
    VariformerForMaskedLM,
    VariformerForQuestionAnswering,
    VariformerForSequenceClassification,
    VariformerForTokenClassification,
    VariformerModel,
    VariformerPreTrainedModel,
)

__version__ = "0.1.0"

AUTO_CLASSES = {
    AutoModel: VariformerModel,
    AutoModelForCausalLM: VariformerForCausalLM,
    AutoModelForMaskedLM: VariformerForMaskedLM,
    AutoModelForSeq2SeqLM: VariformerForConditionalGeneration,
    AutoModelForSequenceClassification: VariformerForSequenceClassification,
    AutoModelForTokenClassification: VariformerForTokenClassification,
    AutoModelForQuestionAnswering: VariformerForQuestionAnswering,
}


def _register_auto_classes() -> None:
    AutoConfig.register(VariformerConfig.model_type, VariformerConfig, exist_ok=True)
    for auto_class, model_class in AUTO_CLASSES.items():
        auto_class.register(VariformerConfig, model_class, exist_ok=True)
    # `Trainer` shifts the labels for `label_smoothing_factor > 0` only for the causal-LM class names listed here;
    # unlisted, a plain Trainer would smooth over unshifted targets (each token predicting itself).
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.setdefault(VariformerConfig.model_type, VariformerForCausalLM.__name__)


def _register_peft_defaults() -> None:
    """PEFT's default LoRA target modules for model_type "variformer" (`get_peft_model` needs no module names)."""
    from .training.lora import register_peft_defaults

    register_peft_defaults()


_register_auto_classes()
_register_peft_defaults()

__all__ = [
    "__version__",
    "PRESETS",
    "VariformerConfig",
    "VariformerPreTrainedModel",
    "VariformerModel",
    "VariformerForCausalLM",
    "VariformerForMaskedLM",
    "VariformerForConditionalGeneration",
    "VariformerForSequenceClassification",
    "VariformerForTokenClassification",
    "VariformerForQuestionAnswering",
]
