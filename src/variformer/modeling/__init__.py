"""Variformer model code: building blocks, stacks, the base model and task heads."""

from .heads import (
    VariformerForCausalLM,
    VariformerForConditionalGeneration,
    VariformerForMaskedLM,
    VariformerForQuestionAnswering,
    VariformerForSequenceClassification,
    VariformerForTokenClassification,
)
from .models import VariformerEncoderDecoderModel, VariformerModel, VariformerStackModel
from .pretrained import VariformerPreTrainedModel
from .stacks import VariformerStack

__all__ = [
    "VariformerPreTrainedModel",
    "VariformerStack",
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
