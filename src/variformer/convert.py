"""Weight import from transformers' GPT-2, BERT and T5 into Variformer, and the `variformer convert` command.

`from_transformers(model)` returns the equivalent Variformer model: a `VariformerConfig` derived field by field
from the source config, and every source tensor mapped by name onto a Variformer parameter. Source options that
Variformer cannot reproduce exactly raise `ValueError` naming the option; so do source weights that nothing maps
(a model class or a modification this module does not know).

    source class                    Variformer class
    GPT2LMHeadModel / GPT2Model     VariformerForCausalLM / VariformerModel (decoder, pre-LN)
    BertForMaskedLM / BertModel     VariformerForMaskedLM / VariformerModel (encoder, post-LN; BertModel's pooler
                                    is dropped)
    BertForSequenceClassification   VariformerForSequenceClassification (encoder, "first" pooling)
    T5ForConditionalGeneration      VariformerForConditionalGeneration (ReLU T5 and gated-GELU T5 v1.1)
    T5Model                         VariformerModel (encoder-decoder)

`variformer convert SRC_DIR OUT_DIR` loads a checkpoint folder with the matching Auto class, converts it, checks
the outputs agree and writes a Variformer checkpoint folder (with the tokenizer files) atomically.

Legend: hidden = `hidden_size`, in/out = a projection's input/output width.
GPT-2's `Conv1D` stores weights as (in, out); `nn.Linear` stores (out, in), hence the transposes.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.utils import logging

from ._files import copy_tokenizer_files, replacing_folder
from .configuration import VariformerConfig
from .modeling import (
    VariformerForCausalLM,
    VariformerForConditionalGeneration,
    VariformerForMaskedLM,
    VariformerForSequenceClassification,
    VariformerModel,
    VariformerPreTrainedModel,
)

logger = logging.get_logger(__name__)

# source activation name -> Variformer `hidden_act`, for plain and for gated (T5 "gated-*") feed-forward blocks
PLAIN_ACTIVATIONS = {
    "relu": "relu",
    "gelu": "gelu",
    "gelu_new": "gelu_new",
    "gelu_pytorch_tanh": "gelu_new",
    "silu": "silu",
    "swish": "silu",
}
GATED_ACTIVATIONS = {
    "relu": "reglu",
    "gelu": "geglu",
    "gelu_new": "geglu_tanh",
    "gelu_pytorch_tanh": "geglu_tanh",
    "silu": "swiglu",
    "swish": "swiglu",
}
# largest output difference `variformer convert` accepts for an fp32 checkpoint
FP32_TOLERANCE = 1e-3

Weights = dict[str, torch.Tensor]


# ---------------------------------------------------------------------------------------------- reading weights
class _WeightReader:
    """Hands out source tensors by name and remembers which were used, so unmapped weights can be reported."""

    def __init__(self, model: PreTrainedModel):
        self.source = type(model).__name__
        self.state_dict = dict(model.state_dict())
        self.unused = set(self.state_dict)

    def take(self, name: str) -> torch.Tensor:
        if name not in self.state_dict:
            raise ValueError(f"Cannot convert {self.source}: expected weight {name!r} is missing from the model.")
        self.unused.discard(name)
        return self.state_dict[name]

    def linear(self, source: str, target: str, conv1d: bool = False, bias: bool = True) -> Weights:
        """`source`.{weight,bias} as nn.Linear `target`.{weight,bias}; `conv1d` transposes GPT-2's (in, out)."""
        weight = self.take(f"{source}.weight")
        weights = {f"{target}.weight": weight.t().contiguous() if conv1d else weight}  # (out, in)
        if bias:
            weights[f"{target}.bias"] = self.take(f"{source}.bias")
        return weights

    def norm(self, source: str, target: str, bias: bool = True) -> Weights:
        """A LayerNorm (weight and bias) or an RMSNorm (weight only)."""
        weights = {f"{target}.weight": self.take(f"{source}.weight")}
        if bias:
            weights[f"{target}.bias"] = self.take(f"{source}.bias")
        return weights

    def check_all_used(self, dropped: tuple[str, ...] = ()) -> None:
        """Raise if a source weight was neither mapped nor deliberately `dropped` (a name prefix)."""
        left = sorted(name for name in self.unused if not name.startswith(dropped))
        if left:
            raise ValueError(
                f"Cannot convert {self.source}: {len(left)} weight(s) have no Variformer counterpart, e.g. "
                f"{left[:5]}; this model class or modification is not supported by variformer.convert."
            )


def _prefixed(weights: Weights, prefix: str) -> Weights:
    return {prefix + name: tensor for name, tensor in weights.items()}


def _is_tied(model: PreTrainedModel) -> bool:
    """Whether the source's output projection shares its tensor with the input token embeddings."""
    output, inputs = model.get_output_embeddings(), model.get_input_embeddings()
    if output is None:
        return bool(model.config.tie_word_embeddings)
    return output.weight is inputs.weight or output.weight.data_ptr() == inputs.weight.data_ptr()


# ---------------------------------------------------------------------------------------------- config checks
def _require(config: PreTrainedConfig, **expected) -> None:
    """Raise unless each source option has the one value Variformer reproduces."""
    for field, value in expected.items():
        actual = getattr(config, field, value)
        if actual != value:
            raise ValueError(
                f"Cannot convert: {type(config).__name__}.{field}={actual!r} is not supported by Variformer "
                f"(only {value!r} converts exactly); convert a checkpoint without this option."
            )


def _activation(config: PreTrainedConfig, field: str, gated: bool = False) -> str:
    """The Variformer `hidden_act` equal to the source activation `field`."""
    value = getattr(config, field)
    table = GATED_ACTIVATIONS if gated else PLAIN_ACTIVATIONS
    if not isinstance(value, str) or value not in table:
        kind = "gated feed-forward " if gated else ""
        raise ValueError(
            f"Cannot convert: {type(config).__name__}.{field}={value!r} is not a {kind}activation Variformer has; "
            f"supported: {sorted(table)}."
        )
    return table[value]


def _common_fields(config: PreTrainedConfig) -> dict:
    """Fields every source shares: special tokens, labels, cache use."""
    fields = dict(
        pad_token_id=config.pad_token_id,
        bos_token_id=getattr(config, "bos_token_id", None),
        eos_token_id=getattr(config, "eos_token_id", None),
        sep_token_id=getattr(config, "sep_token_id", None),
        use_cache=getattr(config, "use_cache", True),
        id2label=dict(config.id2label),
        label2id=dict(config.label2id),
    )
    if config.problem_type is not None:
        fields["problem_type"] = config.problem_type
    return fields


# ---------------------------------------------------------------------------------------------- GPT-2
def _gpt2_config(model: PreTrainedModel) -> dict:
    config = model.config
    _require(config, scale_attn_by_inverse_layer_idx=False, add_cross_attention=False)
    if config.embd_pdrop != config.resid_pdrop:
        logger.warning(
            f"GPT2Config.embd_pdrop={config.embd_pdrop} differs from resid_pdrop={config.resid_pdrop}; "
            "Variformer has one hidden_dropout_prob and takes resid_pdrop (training only)."
        )
    return dict(
        architecture="decoder",
        vocab_size=config.vocab_size,
        hidden_size=config.n_embd,
        num_hidden_layers=config.n_layer,
        num_attention_heads=config.n_head,
        intermediate_size=config.n_inner if config.n_inner is not None else 4 * config.n_embd,
        hidden_act=_activation(config, "activation_function"),
        max_position_embeddings=config.n_positions,
        position_embedding_type="learned",
        norm_type="layernorm",
        norm_position="pre",
        layer_norm_eps=config.layer_norm_epsilon,
        attention_bias=True,
        mlp_bias=True,
        attention_scale=None if config.scale_attn_weights else 1.0,
        hidden_dropout_prob=config.resid_pdrop,
        attention_dropout=config.attn_pdrop,
        initializer_range=config.initializer_range,
        tie_word_embeddings=_is_tied(model),
        **_common_fields(config),
    )


def _gpt2_base(read: _WeightReader, prefix: str, config: VariformerConfig) -> Weights:
    weights = {
        "embed_tokens.weight": read.take(f"{prefix}wte.weight"),
        "embed_positions.weight": read.take(f"{prefix}wpe.weight"),
    }
    for i in range(config.num_hidden_layers):
        source, target = f"{prefix}h.{i}", f"layers.{i}"
        weights.update(_gpt2_attention(read, f"{source}.attn", f"{target}.self_attn", config.hidden_size))
        weights.update(read.norm(f"{source}.ln_1", f"{target}.self_attn_norm"))
        weights.update(read.linear(f"{source}.mlp.c_fc", f"{target}.mlp.up_proj", conv1d=True))
        weights.update(read.linear(f"{source}.mlp.c_proj", f"{target}.mlp.down_proj", conv1d=True))
        weights.update(read.norm(f"{source}.ln_2", f"{target}.mlp_norm"))
    weights.update(read.norm(f"{prefix}ln_f", "norm"))
    return weights


def _gpt2_attention(read: _WeightReader, source: str, target: str, hidden: int) -> Weights:
    """GPT-2's fused c_attn (in, 3 * hidden) split into q/k/v projections, each (hidden, in)."""
    fused_weight = read.take(f"{source}.c_attn.weight").t()  # (3 * hidden, in)
    fused_bias = read.take(f"{source}.c_attn.bias")  # (3 * hidden,)
    weights = {}
    for name, weight, bias in zip("qkv", fused_weight.split(hidden, dim=0), fused_bias.split(hidden)):
        weights[f"{target}.{name}_proj.weight"] = weight.contiguous()  # (hidden, in)
        weights[f"{target}.{name}_proj.bias"] = bias
    weights.update(read.linear(f"{source}.c_proj", f"{target}.o_proj", conv1d=True))
    return weights


def _gpt2_weights(read: _WeightReader, head: type, config: VariformerConfig) -> Weights:
    if head is VariformerModel:
        return _gpt2_base(read, "", config)
    weights = _prefixed(_gpt2_base(read, "transformer.", config), "model.")
    weights["lm_head.weight"] = read.take("lm_head.weight")
    return weights


# ---------------------------------------------------------------------------------------------- BERT
def _bert_config(model: PreTrainedModel) -> dict:
    config = model.config
    _require(config, is_decoder=False, add_cross_attention=False, position_embedding_type="absolute")
    return dict(
        architecture="encoder",
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        hidden_act=_activation(config, "hidden_act"),
        max_position_embeddings=config.max_position_embeddings,
        position_embedding_type="learned",
        type_vocab_size=config.type_vocab_size,
        norm_type="layernorm",
        norm_position="post",
        embedding_norm=True,
        layer_norm_eps=config.layer_norm_eps,
        attention_bias=True,
        mlp_bias=True,
        hidden_dropout_prob=config.hidden_dropout_prob,
        attention_dropout=config.attention_probs_dropout_prob,
        classifier_dropout=config.classifier_dropout,
        classifier_pooling="first",
        initializer_range=config.initializer_range,
        tie_word_embeddings=_is_tied(model),
        **_common_fields(config),
    )


def _bert_base(read: _WeightReader, prefix: str, config: VariformerConfig) -> Weights:
    weights = {
        "embed_tokens.weight": read.take(f"{prefix}embeddings.word_embeddings.weight"),
        "embed_positions.weight": read.take(f"{prefix}embeddings.position_embeddings.weight"),
        "embed_token_types.weight": read.take(f"{prefix}embeddings.token_type_embeddings.weight"),
    }
    weights.update(read.norm(f"{prefix}embeddings.LayerNorm", "embed_norm"))
    for i in range(config.num_hidden_layers):
        source, target = f"{prefix}encoder.layer.{i}", f"layers.{i}"
        for name in ("query", "key", "value"):
            weights.update(read.linear(f"{source}.attention.self.{name}", f"{target}.self_attn.{name[0]}_proj"))
        weights.update(read.linear(f"{source}.attention.output.dense", f"{target}.self_attn.o_proj"))
        weights.update(read.norm(f"{source}.attention.output.LayerNorm", f"{target}.self_attn_norm"))
        weights.update(read.linear(f"{source}.intermediate.dense", f"{target}.mlp.up_proj"))
        weights.update(read.linear(f"{source}.output.dense", f"{target}.mlp.down_proj"))
        weights.update(read.norm(f"{source}.output.LayerNorm", f"{target}.mlp_norm"))
    return weights


def _bert_weights(read: _WeightReader, head: type, config: VariformerConfig) -> Weights:
    if head is VariformerModel:
        return _bert_base(read, "", config)  # BertModel's pooler has no place in VariformerModel: dropped
    weights = _prefixed(_bert_base(read, "bert.", config), "model.")
    if head is VariformerForMaskedLM:
        weights.update(read.linear("cls.predictions.transform.dense", "transform.dense"))
        weights.update(read.norm("cls.predictions.transform.LayerNorm", "transform.norm"))
        weights.update(read.linear("cls.predictions.decoder", "lm_head"))
        read.take("cls.predictions.bias")  # the same tensor as the decoder's bias
    else:
        weights.update(read.linear("bert.pooler.dense", "pooler"))
        weights.update(read.linear("classifier", "score"))
    return weights


# ---------------------------------------------------------------------------------------------- T5
def _t5_config(model: PreTrainedModel) -> dict:
    config = model.config
    # transformers ties T5's lm_head always and records the output scaling separately (T5 v1.1: no scaling)
    scaled = getattr(config, "scale_decoder_outputs", config.tie_word_embeddings)
    fields = _common_fields(config)
    return dict(
        fields,
        architecture="encoder-decoder",
        vocab_size=config.vocab_size,
        hidden_size=config.d_model,
        num_hidden_layers=config.num_layers,
        decoder_layers=config.num_decoder_layers,
        num_attention_heads=config.num_heads,
        head_dim=config.d_kv,
        intermediate_size=config.d_ff,
        hidden_act=_activation(config, "dense_act_fn", gated=config.is_gated_act),
        max_position_embeddings=getattr(config, "n_positions", 512),
        position_embedding_type="relative_bias",
        relative_attention_num_buckets=config.relative_attention_num_buckets,
        relative_attention_max_distance=config.relative_attention_max_distance,
        norm_type="rmsnorm",
        norm_position="pre",
        layer_norm_eps=config.layer_norm_epsilon,
        attention_bias=False,
        mlp_bias=False,
        attention_scale=1.0,
        lm_head_scale=config.d_model**-0.5 if scaled else 1.0,
        hidden_dropout_prob=config.dropout_rate,
        attention_dropout=config.dropout_rate,
        classifier_dropout=config.classifier_dropout,
        tie_word_embeddings=_is_tied(model),
        decoder_start_token_id=_first_set(getattr(config, "decoder_start_token_id", None), config.pad_token_id),
    )


def _first_set(*values):
    return next((value for value in values if value is not None), None)


def _t5_stack(read: _WeightReader, role: str, num_layers: int, gated: bool) -> Weights:
    """One T5 stack (`encoder` or `decoder`) onto a VariformerStack; token embeddings are mapped by the caller."""
    read.take(f"{role}.embed_tokens.weight")  # a tied copy of `shared`
    weights = {
        "relative_bias.relative_attention_bias.weight": read.take(
            f"{role}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
        )
    }
    sublayers = [("SelfAttention", "self_attn")] + ([("EncDecAttention", "cross_attn")] if role == "decoder" else [])
    for i in range(num_layers):
        source, target = f"{role}.block.{i}.layer", f"layers.{i}"
        for index, (attention, name) in enumerate(sublayers):
            for projection in "qkvo":
                weights.update(
                    read.linear(
                        f"{source}.{index}.{attention}.{projection}", f"{target}.{name}.{projection}_proj", bias=False
                    )
                )
            weights.update(read.norm(f"{source}.{index}.layer_norm", f"{target}.{name}_norm", bias=False))
        feed_forward = f"{source}.{len(sublayers)}"
        weights.update(_t5_feed_forward(read, f"{feed_forward}.DenseReluDense", f"{target}.mlp", gated))
        weights.update(read.norm(f"{feed_forward}.layer_norm", f"{target}.mlp_norm", bias=False))
    weights.update(read.norm(f"{role}.final_layer_norm", "norm", bias=False))
    return weights


def _t5_feed_forward(read: _WeightReader, source: str, target: str, gated: bool) -> Weights:
    inputs = {"wi_0": "gate_proj", "wi_1": "up_proj"} if gated else {"wi": "up_proj"}
    weights = {}
    for name, projection in {**inputs, "wo": "down_proj"}.items():
        weights.update(read.linear(f"{source}.{name}", f"{target}.{projection}", bias=False))
    return weights


def _t5_weights(read: _WeightReader, head: type, config: VariformerConfig) -> Weights:
    shared = read.take("shared.weight")
    weights = {"encoder.embed_tokens.weight": shared, "decoder.embed_tokens.weight": shared}
    for role, num_layers in (("encoder", config.num_hidden_layers), ("decoder", config.decoder_layers)):
        weights.update(_prefixed(_t5_stack(read, role, num_layers, config.is_gated_mlp), f"{role}."))
    if head is VariformerModel:
        return weights
    weights = _prefixed(weights, "model.")
    weights["lm_head.weight"] = read.take("lm_head.weight")
    return weights


# ---------------------------------------------------------------------------------------------- dispatch
@dataclass(frozen=True)
class _Conversion:
    """How one transformers class becomes a Variformer class."""

    head: type[VariformerPreTrainedModel]
    config: Callable[[PreTrainedModel], dict]
    weights: Callable[[_WeightReader, type, VariformerConfig], Weights]
    auto_class: str  # the transformers Auto class that loads the source class from a folder
    dropped: tuple[str, ...] = ()  # source weight-name prefixes with no Variformer counterpart, left out on purpose


CONVERSIONS: dict[str, _Conversion] = {
    "GPT2LMHeadModel": _Conversion(VariformerForCausalLM, _gpt2_config, _gpt2_weights, "AutoModelForCausalLM"),
    "GPT2Model": _Conversion(VariformerModel, _gpt2_config, _gpt2_weights, "AutoModel"),
    "BertModel": _Conversion(VariformerModel, _bert_config, _bert_weights, "AutoModel", dropped=("pooler.",)),
    "BertForMaskedLM": _Conversion(VariformerForMaskedLM, _bert_config, _bert_weights, "AutoModelForMaskedLM"),
    "BertForSequenceClassification": _Conversion(
        VariformerForSequenceClassification, _bert_config, _bert_weights, "AutoModelForSequenceClassification"
    ),
    "T5ForConditionalGeneration": _Conversion(
        VariformerForConditionalGeneration, _t5_config, _t5_weights, "AutoModelForSeq2SeqLM"
    ),
    "T5Model": _Conversion(VariformerModel, _t5_config, _t5_weights, "AutoModel"),
}


def from_transformers(model: PreTrainedModel) -> VariformerPreTrainedModel:
    """The Variformer model equivalent to a transformers GPT-2, BERT or T5 `model` (see `CONVERSIONS`).

    The result has the source's dtype, device, attention implementation, train/eval mode and generation config,
    and gives the same outputs. Raises ValueError for other model classes and for options Variformer lacks.
    """
    conversion = CONVERSIONS.get(type(model).__name__)
    if conversion is None:
        raise ValueError(
            f"Cannot convert {type(model).__name__}: variformer.convert supports {sorted(CONVERSIONS)}; load the "
            "checkpoint with one of these classes."
        )
    config = VariformerConfig(**conversion.config(model), attn_implementation=model.config._attn_implementation)
    read = _WeightReader(model)
    weights = conversion.weights(read, conversion.head, config)
    read.check_all_used(conversion.dropped)
    if conversion.dropped and any(name.startswith(conversion.dropped) for name in read.unused):
        logger.warning(
            f"{type(model).__name__}: weights under {list(conversion.dropped)} are not converted "
            f"({conversion.head.__name__} has no such module)."
        )
    target = conversion.head(config)
    target.load_state_dict(weights, strict=True)
    target.to(device=model.device, dtype=model.dtype)
    if target.can_generate() and model.can_generate():
        target.generation_config = copy.deepcopy(model.generation_config)
    return target.train(model.training)


# ---------------------------------------------------------------------------------------------- command line
def load_source(src_dir: str | os.PathLike, source_class: str | None = None) -> PreTrainedModel:
    """Load a checkpoint folder as `source_class` (default: the first of config.json's `architectures`)."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(src_dir)
    name = source_class or (config.architectures or [None])[0]
    if name not in CONVERSIONS:
        raise ValueError(
            f"Cannot convert {src_dir}: its model class {name!r} (config.json `architectures`) is not one of "
            f"{sorted(CONVERSIONS)}; pass --source-class to choose one."
        )
    auto_class = getattr(transformers, CONVERSIONS[name].auto_class)
    model = auto_class.from_pretrained(src_dir, dtype="auto")
    if type(model).__name__ != name:
        raise ValueError(f"Cannot convert {src_dir}: loading it as {name} gave {type(model).__name__}.")
    return model.eval()


@torch.no_grad()
def output_difference(source: PreTrainedModel, converted: PreTrainedModel, length: int = 8) -> float:
    """Largest |difference| between the main outputs (logits or last hidden states) of `source` and `converted`
    on one fixed random input of `length` tokens (free of padding tokens)."""
    vocab_size, pad = source.config.vocab_size, source.config.pad_token_id
    input_ids = torch.randint(0, vocab_size, (1, length), generator=torch.Generator().manual_seed(0))  # (1, length)
    if pad is not None:
        input_ids = input_ids.masked_fill(input_ids == pad, (pad + 1) % vocab_size)
    kwargs = {"input_ids": input_ids.to(source.device)}
    if source.config.is_encoder_decoder:
        kwargs["decoder_input_ids"] = kwargs["input_ids"]
    expected, actual = source(**kwargs), converted(**kwargs)
    key = "logits" if "logits" in expected else "last_hidden_state"
    return (expected[key].float() - actual[key].float()).abs().max().item()


def convert_checkpoint(
    src_dir: str | os.PathLike, out_dir: str | os.PathLike, source_class: str | None = None, overwrite: bool = False
) -> float:
    """Convert checkpoint folder `src_dir` into a Variformer checkpoint folder `out_dir`, written atomically
    (staged beside `out_dir`, then renamed), with the source's tokenizer files. Returns `output_difference`;
    an fp32 conversion whose outputs differ by more than `FP32_TOLERANCE` raises and writes nothing."""
    src, out = Path(src_dir), Path(out_dir)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; remove it or pass --overwrite.")
    source = load_source(src, source_class)
    model = from_transformers(source)
    difference = output_difference(source, model)
    if source.dtype == torch.float32 and not difference <= FP32_TOLERANCE:
        raise ValueError(f"Converted outputs differ from {src} by {difference:.3g} (> {FP32_TOLERANCE}); not saved.")
    with replacing_folder(out) as staging:
        model.save_pretrained(staging)
        _copy_tokenizer_files(src, staging, source.config.model_type)
    return difference


def _copy_tokenizer_files(src: Path, dst: Path, model_type: str) -> None:
    """Copy the tokenizer files of `src`; name the tokenizer class in tokenizer_config.json, since AutoTokenizer
    cannot infer it from model_type "variformer"."""
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

    copied = copy_tokenizer_files(src, dst)
    tokenizer_class = TOKENIZER_MAPPING_NAMES.get(model_type)
    if not copied or tokenizer_class is None:
        return
    config_path = dst / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    if not tokenizer_config.get("tokenizer_class"):
        tokenizer_config["tokenizer_class"] = tokenizer_class
        config_path.write_text(json.dumps(tokenizer_config, indent=2) + "\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src_dir", help="transformers checkpoint folder (config.json, weights, tokenizer files).")
    parser.add_argument("out_dir", help="folder to write the Variformer checkpoint to (created atomically).")
    parser.add_argument(
        "--source-class",
        choices=sorted(CONVERSIONS),
        default=None,
        help="transformers class to load SRC_DIR as; default: the first of config.json's `architectures`.",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUT_DIR if it exists.")


def run(args: argparse.Namespace) -> int:
    try:
        difference = convert_checkpoint(args.src_dir, args.out_dir, args.source_class, args.overwrite)
    except (ValueError, OSError) as error:
        print(f"variformer convert: {error}", file=sys.stderr)
        return 1
    print(
        f"Wrote the Variformer checkpoint to {args.out_dir} (max |output difference| vs. the source: {difference:.2g})."
    )
    return 0


__all__ = ["CONVERSIONS", "convert_checkpoint", "from_transformers", "load_source", "output_difference"]
