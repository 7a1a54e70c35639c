"""The transformers Auto classes that build each Variformer class, and their registration for model_type
"variformer" (run once by `import variformer`)."""

from __future__ import annotations

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

from .configuration import VariformerConfig
from .modeling import (
    VariformerForCausalLM,
    VariformerForConditionalGeneration,
    VariformerForMaskedLM,
    VariformerForQuestionAnswering,
    VariformerForSequenceClassification,
    VariformerForTokenClassification,
    VariformerModel,
)

AUTO_CLASSES = {
    AutoModel: VariformerModel,
    AutoModelForCausalLM: VariformerForCausalLM,
    AutoModelForMaskedLM: VariformerForMaskedLM,
    AutoModelForSeq2SeqLM: VariformerForConditionalGeneration,
    AutoModelForSequenceClassification: VariformerForSequenceClassification,
    AutoModelForTokenClassification: VariformerForTokenClassification,
    AutoModelForQuestionAnswering: VariformerForQuestionAnswering,
}


def register_auto_classes() -> None:
    AutoConfig.register(VariformerConfig.model_type, VariformerConfig, exist_ok=True)
    for auto_class, model_class in AUTO_CLASSES.items():
        auto_class.register(VariformerConfig, model_class, exist_ok=True)
    # `Trainer` shifts the labels for `label_smoothing_factor > 0` only for the causal-LM class names listed here;
    # unlisted, a plain Trainer would smooth over unshifted targets (each token predicting itself).
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.setdefault(VariformerConfig.model_type, VariformerForCausalLM.__name__)


__all__ = ["AUTO_CLASSES", "register_auto_classes"]
