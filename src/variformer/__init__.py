"""Variformer: one configurable Transformer family (encoder, decoder, encoder-decoder) for transformers v5.

Importing the package registers model_type "variformer" with the transformers Auto classes and (when PEFT is
imported, not before) PEFT's default LoRA target modules; the training, evaluation and Hub tooling load when used.
"""

from ._auto_classes import AUTO_CLASSES, register_auto_classes
from ._peft_defaults import register_when_peft_loads
from ._version import __version__
from .configuration import PRESETS, VariformerConfig
from .modeling import (
    VariformerEncoderDecoderModel,
    VariformerForCausalLM,
    VariformerForConditionalGeneration,
    VariformerForMaskedLM,
    VariformerForQuestionAnswering,
    VariformerForSequenceClassification,
    VariformerForTokenClassification,
    VariformerModel,
    VariformerPreTrainedModel,
    VariformerStackModel,
)

register_auto_classes()
register_when_peft_loads()

__all__ = [
    "__version__",
    "AUTO_CLASSES",
    "PRESETS",
    "VariformerConfig",
    "VariformerPreTrainedModel",
    "VariformerModel",
    "VariformerStackModel",
    "VariformerEncoderDecoderModel",
    "VariformerForCausalLM",
    "VariformerForMaskedLM",
    "VariformerForConditionalGeneration",
    "VariformerForSequenceClassification",
    "VariformerForTokenClassification",
    "VariformerForQuestionAnswering",
]
