"""What a transformers model is for, read from transformers' Auto mappings rather than from class-name suffixes.

`model_kind(model)` / `config_kind(config)`: the Auto family that holds the model's class for its config
("classifier", "seq2seq", "causal", "masked", "token-classifier", "question-answering"), or None. Variformer counts:
`import variformer` registers its classes with the Auto classes, and remote-code classes are registered on load.
`stack_variant(model)`: "encoder", "decoder" (causal self-attention) or "encoder-decoder".
"""

from __future__ import annotations

from transformers.models.auto import modeling_auto as auto

# Kind -> Auto mapping (config class -> model class); the first that holds a model's class wins.
MAPPINGS = {
    "classifier": auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING,
    "seq2seq": auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING,
    "causal": auto.MODEL_FOR_CAUSAL_LM_MAPPING,
    "masked": auto.MODEL_FOR_MASKED_LM_MAPPING,
    "token-classifier": auto.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING,
    "question-answering": auto.MODEL_FOR_QUESTION_ANSWERING_MAPPING,
}
VARIANTS = ("encoder", "decoder", "encoder-decoder")


def _classes(mapping, config) -> tuple[type, ...]:
    """The model classes `mapping` builds for `config` (only that model type's module is imported)."""
    try:
        found = mapping[type(config)]
    except KeyError:
        return ()
    return tuple(found) if isinstance(found, (list, tuple)) else (found,)


def model_kind(model) -> str | None:
    return next(
        (kind for kind, mapping in MAPPINGS.items() if isinstance(model, _classes(mapping, model.config))), None
    )


def config_kind(config) -> str | None:
    """The kind of the first class named in `config.architectures` that an Auto mapping builds, else None."""
    names = set(getattr(config, "architectures", None) or ())
    return next(
        (kind for kind, mapping in MAPPINGS.items() if names & {cls.__name__ for cls in _classes(mapping, config)}),
        None,
    )


def stack_variant(model) -> str:
    """Variformer's `architecture`; else from `is_encoder_decoder`, `is_decoder`, the causal-LM mapping holding the
    model's class, or a model type with a causal LM and no masked LM (GPT-2, Llama: decoder-only families)."""
    config = model.config
    if getattr(config, "architecture", None) in VARIANTS:
        return config.architecture
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    model_type = getattr(config, "model_type", None)
    decoder_only = (
        model_type in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        and model_type not in auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES
    )
    causal = getattr(config, "is_decoder", False) or decoder_only or model_kind(model) == "causal"
    return "decoder" if causal else "encoder"


__all__ = ["MAPPINGS", "VARIANTS", "config_kind", "model_kind", "stack_variant"]
