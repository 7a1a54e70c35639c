r"""Where the parameters and the forward FLOPs go, by component.

Parameters: every parameter tensor of `model.named_parameters()` (shared tensors once, as `num_parameters()`
counts them) is put in exactly one component by its name, so the table sums to `model.num_parameters()`.
A tied language-model head therefore has 0 parameters of its own: its matrix is counted with the embeddings.

FLOPs per token of a forward pass, counting a multiply-add as 2 FLOPs (Kaplan et al. 2020 convention):

    F = sum over linear layers (2 * d_in * d_out)  +  sum over attention layers (4 * n_heads * d_head * T_k)

- a linear layer (q/k/v/o projections, FFN up/gate/down, LM head, classifier) costs 2 * d_in * d_out per token
  it is applied to; biases, norms, activations, softmax, residual additions, rotary rotations, position biases
  and embedding look-ups are element-wise or table reads and are not counted;
- one attention layer costs 4 * n_heads * d_head * T_k per query token: 2 * n_heads * d_head * T_k for the
  scores Q K^T and as much again for the weighted sum of values. T_k is the number of keys: the sequence
  length for self-attention (masked causal entries included, as the eager kernel computes the full square),
  the source length for cross-attention. With grouped-query attention the keys are shared but every query
  head still does its own products, so n_heads is the number of query heads;
- in encoder-decoder models the encoder rows are per source token, the decoder rows per target token, and the
  cross-attention key/value projections (applied to the encoder output) per source token;
- heads are counted at every position, as a language-model head is applied in a forward pass over a sequence.

The total for an input is sum(row FLOPs per token * tokens of that row's kind); `measure_forward_flops` checks
it against PyTorch's own counter (`torch.utils.flop_counter.FlopCounterMode`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import nn

from .plotting import new_figure

COMPONENTS = ("embeddings", "positions", "attention", "cross-attention", "FFN", "norms", "heads", "other")
FLOPS_FORMULA = "F = sum over linear layers (2 * d_in * d_out) + sum over attention layers (4 * n_heads * d_head * T_k)"
FLOPS_FORMULA_TERMS = (
    "A multiply-add counts as 2 FLOPs; the count is per token of a forward pass.",
    "Linear layers (q/k/v/o projections, FFN up/gate/down, LM head, classifiers): 2 * d_in * d_out per token "
    "they are applied to.",
    "Attention scores Q K^T and the weighted sum of values: 2 * n_heads * d_head * T_k each per query token, "
    "with n_heads = query heads (also under GQA/MQA) and T_k = keys seen: the sequence length for "
    "self-attention (masked causal entries included, as the eager kernel computes them), the source length "
    "for cross-attention.",
    "Not counted: embedding look-ups, biases, norms, activations, softmax, residual additions, rotary rotations "
    "and position biases (element-wise or table reads).",
    "Encoder-decoder: encoder rows are per source token, decoder rows per target token; the cross-attention "
    "key/value projections run over the encoder output, so they are per source token.",
)

_NORM = re.compile(r"norm|^ln(_|$)|^ln_f$")
_POSITION = re.compile(r"position|^wpe$|relative_attention_bias|relative_bias|rotary")
_CROSS = re.compile(r"cross|encdecattention")
_ATTENTION = re.compile(r"attn|attention")
_FFN = re.compile(r"mlp|ffn|feed_forward|densereludense|intermediate|^c_fc$|^fc\d$|^wi(_\d)?$|^wo$")
_EMBEDDING = re.compile(r"embed|^wte$|^shared$|word_embeddings|token_type")
_HEAD = re.compile(r"lm_head|^cls$|pooler|classifier|^score$|qa_outputs|^transform$")
_KV_LEAF = re.compile(r"^(k|v|k_proj|v_proj|key|value)$")


@dataclass
class ComponentRow:
    """One row: `per` says which tokens `flops_per_token` is per ("token", "source token", "target token")."""

    stack: str
    component: str
    parameters: int
    flops_per_token: int
    per: str


@dataclass
class ParameterTable:
    rows: list[ComponentRow]
    total_parameters: int
    tokens: dict[str, int]
    notes: list[str]

    @property
    def forward_flops(self) -> int:
        """FLOPs of one forward pass over `tokens` (e.g. {"token": 12} or {"source token": 9, ...})."""
        return sum(row.flops_per_token * self.tokens.get(row.per, 0) for row in self.rows)

    def by_component(self) -> dict[str, tuple[int, int]]:
        """component -> (parameters, FLOPs of the whole forward pass), over all stacks."""
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for row in self.rows:
            totals[row.component][0] += row.parameters
            totals[row.component][1] += row.flops_per_token * self.tokens.get(row.per, 0)
        return {name: tuple(values) for name, values in totals.items()}


# ---------------------------------------------------------------------------------------------- classifying
def _base_prefix(model) -> str | None:
    prefix = getattr(model, "base_model_prefix", "")
    if prefix and isinstance(getattr(model, prefix, None), nn.Module) and getattr(model, prefix) is not model:
        return prefix + "."
    return None


def component_of(name: str, base_prefix: str | None = None) -> str:
    """The component of a parameter or module `name` (e.g. "model.layers.0.self_attn.q_proj.weight")."""
    if base_prefix and not name.startswith(base_prefix):
        return "heads"
    parts = [part.lower() for part in name.split(".")]
    checks = (
        (_NORM, "norms"),
        (_POSITION, "positions"),
        (_CROSS, "cross-attention"),
        (_ATTENTION, "attention"),
        (_FFN, "FFN"),
        (_EMBEDDING, "embeddings"),
        (_HEAD, "heads"),
    )
    for pattern, component in checks:
        if any(pattern.search(part) for part in parts):
            return component
    if re.search(r"(^|\.)output\.dense", name.lower()):
        return "FFN"  # BERT's FFN output projection (its attention one was caught above)
    return "other"


def _stack_of(name: str, model) -> str:
    if not model.config.is_encoder_decoder:
        return "model"
    parts = name.split(".")
    if "decoder" in parts:
        return "decoder"
    if "encoder" in parts:
        return "encoder"
    return "decoder" if component_of(name, _base_prefix(model)) == "heads" else "encoder"


def _per(stack: str) -> str:
    return {"encoder": "source token", "decoder": "target token"}.get(stack, "token")


# ---------------------------------------------------------------------------------------------- counting
def _linear_shape(module: nn.Module) -> tuple[int, int] | None:
    """(d_in, d_out) of a linear layer: nn.Linear, or transformers' GPT-2 style Conv1D (weight (in, out))."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if type(module).__name__ == "Conv1D" and getattr(module, "weight", None) is not None:
        return tuple(module.weight.shape)
    return None


def _attention_layers(model) -> list[tuple[str, nn.Module]]:
    """Leaf attention modules: class name ends in "Attention" and no child module's does."""
    found = []
    for name, module in model.named_modules():
        if type(module).__name__.endswith("Attention") and not any(
            type(child).__name__.endswith("Attention") for child in module.children()
        ):
            found.append((name, module))
    return found


def _attention_width(module: nn.Module, config) -> int:
    """n_heads * d_head of an attention module (query heads), from the module or else the config."""
    heads = next(
        (
            getattr(module, attr)
            for attr in ("num_heads", "num_attention_heads", "n_heads", "n_head")
            if isinstance(getattr(module, attr, None), int)
        ),
        None,
    )
    heads = heads or config.num_attention_heads
    head_dim = next(
        (
            getattr(module, attr)
            for attr in ("head_dim", "attention_head_size", "key_value_proj_dim")
            if isinstance(getattr(module, attr, None), int)
        ),
        None,
    )
    head_dim = head_dim or getattr(config, "head_dim", None) or config.hidden_size // heads
    return heads * head_dim


def _is_cross(name: str, module: nn.Module) -> bool:
    return bool(getattr(module, "is_cross_attention", False)) or bool(_CROSS.search(name.lower()))


def parameter_table(model, seq_len: int = 128, source_len: int | None = None) -> ParameterTable:
    """Parameters and forward FLOPs per token by (stack, component); see the module docstring for the formula.

    seq_len: tokens of the single stack, or target tokens of an encoder-decoder; source_len: source tokens
    (defaults to seq_len).
    """
    source_len = seq_len if source_len is None else source_len
    prefix = _base_prefix(model)
    parameters: dict[tuple[str, str, str], int] = defaultdict(int)
    flops: dict[tuple[str, str, str], int] = defaultdict(int)
    for name, parameter in model.named_parameters():
        stack = _stack_of(name, model)
        parameters[(stack, component_of(name, prefix), _per(stack))] += parameter.numel()
    for name, module in model.named_modules():
        shape = _linear_shape(module)
        if shape is not None:
            flops[_flop_key(name, model, prefix)] += 2 * shape[0] * shape[1]
    lengths = {"encoder": source_len, "decoder": seq_len, "model": seq_len}
    for name, module in _attention_layers(model):
        stack = _stack_of(name, model)
        keys = source_len if _is_cross(name, module) else lengths[stack]
        component = "cross-attention" if _is_cross(name, module) else "attention"
        flops[(stack, component, _per(stack))] += 4 * _attention_width(module, model.config) * keys
    rows = [
        ComponentRow(*key[:2], parameters.get(key, 0), flops.get(key, 0), key[2])
        for key in sorted(set(parameters) | set(flops), key=_row_order)
    ]
    tokens = (
        {"source token": source_len, "target token": seq_len} if model.config.is_encoder_decoder else {"token": seq_len}
    )
    return ParameterTable(rows, sum(row.parameters for row in rows), tokens, _table_notes(model))


def _flop_key(name: str, model, prefix: str | None) -> tuple[str, str, str]:
    """Row of a linear layer; cross-attention keys/values run over the encoder output, once per source token."""
    stack, component = _stack_of(name, model), component_of(name, prefix)
    if component == "cross-attention" and _KV_LEAF.match(name.rsplit(".", 1)[-1].lower()):
        return stack, "cross-attention", "source token"
    return stack, component, _per(stack)


def _row_order(key: tuple[str, str, str]) -> tuple:
    stack, component, per = key
    return (
        ["encoder", "model", "decoder"].index(stack) if stack in ("encoder", "model", "decoder") else 3,
        COMPONENTS.index(component),
        per,
    )


def _table_notes(model) -> list[str]:
    notes = ["The parameters column sums to model.num_parameters(); shared tensors are counted once."]
    head = getattr(model, "lm_head", None)
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if head is not None and embeddings is not None and head.weight is getattr(embeddings, "weight", None):
        notes.append(
            "The language-model head is tied to the token embeddings: its matrix is counted once, "
            "under embeddings, while its FLOPs are under heads."
        )
    return notes


def measure_forward_flops(model, **inputs) -> int:
    """FLOPs of `model(**inputs)` as counted by `torch.utils.flop_counter.FlopCounterMode` (eval, no grad)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(**inputs)
    return counter.get_total_flops()


# ---------------------------------------------------------------------------------------------- drawing
def draw_parameter_chart(table: ParameterTable):
    """Two bar charts: parameters by component, and forward FLOPs for the table's token counts."""
    totals = table.by_component()
    names = [name for name in COMPONENTS if name in totals][::-1]
    figure = new_figure(13.0, 0.45 * len(names) + 2.2)
    left, right = figure.subplots(1, 2)
    for axes, index, title in ((left, 0, "parameters"), (right, 1, "forward FLOPs")):
        values = [totals[name][index] for name in names]
        total = sum(values) or 1
        bars = axes.barh(names, values, color="#4c72b0")
        axes.bar_label(bars, [f"{value:,} ({100 * value / total:.1f}%)" for value in values], fontsize=8, padding=3)
        axes.set_title(f"{title}: {sum(values):,}")
        axes.set_xlim(0, max(values + [1]) * 1.45)
        axes.tick_params(axis="x", labelsize=7)
    tokens = ", ".join(f"{count} {kind}s" for kind, count in table.tokens.items())
    figure.suptitle(f"Where the parameters and the forward FLOPs go (FLOPs for {tokens})", fontsize=12)
    return figure


__all__ = [
    "COMPONENTS",
    "FLOPS_FORMULA",
    "FLOPS_FORMULA_TERMS",
    "ComponentRow",
    "ParameterTable",
    "component_of",
    "draw_parameter_chart",
    "measure_forward_flops",
    "parameter_table",
]
