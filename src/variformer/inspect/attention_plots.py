"""Attention maps: run a model once with eager attention and draw who attends to whom.

`attention_maps(model, tokenizer, text, target=None)` returns an `AttentionResult` holding, per kind of attention
("self" for one-stack models; "encoder", "decoder" and "cross" for encoder-decoder models), the weights exactly
as the model's `output_attentions` gave them, the token labels, and an overview figure of all layers and heads.
`plot_layer` draws every head of one layer with token labels; `plot_head` one head with the values written in.

Legend: layers = attention layers of a stack, heads = query heads, query = attending positions (rows),
key = attended positions (columns); every row of a map is a softmax over its keys and sums to 1.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from matplotlib.figure import Figure

from .._model_kind import VARIANTS, stack_variant
from .plotting import label_font_size, new_figure, readable_token, tick_label

DEFAULT_MAX_TOKENS = 64
KIND_TITLES = {
    "self": "self-attention",
    "encoder": "encoder self-attention",
    "decoder": "decoder self-attention",
    "cross": "cross-attention (target → source)",
}


@dataclass
class AttentionMap:
    """The attention weights of one kind of attention, all layers and heads.

    weights: (layers, heads, query, key) float32, as returned by the model for batch item 0.
    """

    kind: str
    weights: np.ndarray
    query_tokens: list[str]
    key_tokens: list[str]
    causal: bool
    kv_groups: int = 1

    @property
    def title(self) -> str:
        return KIND_TITLES.get(self.kind, self.kind)

    @property
    def num_layers(self) -> int:
        return self.weights.shape[0]

    @property
    def num_heads(self) -> int:
        return self.weights.shape[1]


@dataclass
class AttentionResult:
    """What `attention_maps` returns: the maps by kind, the tokens, notes (e.g. truncation) and figures."""

    maps: dict[str, AttentionMap]
    source_tokens: list[str]
    target_tokens: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)

    @property
    def figure(self) -> Figure:
        """The overview figure of the first kind of attention (the encoder's for encoder-decoder models)."""
        return next(iter(self.figures.values()))

    def arrays(self) -> dict[str, np.ndarray]:
        """kind -> (layers, heads, query, key) weights."""
        return {kind: amap.weights for kind, amap in self.maps.items()}


# ---------------------------------------------------------------------------------------------- computing
def attention_maps(
    model, tokenizer, text: str, target: str | None = None, max_tokens: int = DEFAULT_MAX_TOKENS, draw: bool = True
) -> AttentionResult:
    """Run `model` once on `text` (and `target` as decoder input for encoder-decoder models) with eager attention.

    Sequences longer than `max_tokens` (or the model's position table) are cut to their first tokens and a note
    says so. The model's attention implementation and train/eval mode are restored afterwards. With `draw`, the
    result carries one overview figure (all layers x heads) per kind of attention.
    """
    config = model.config
    limit = _token_limit(config, max_tokens)
    notes: list[str] = []
    source_ids = _encode(tokenizer, text, limit, "text", notes, add_special_tokens=True)
    target_ids = None
    if config.is_encoder_decoder:
        start = _decoder_start_token_id(model)
        target_ids = [start]
        if target:
            target_ids += _encode(tokenizer, target, limit - 1, "target", notes, add_special_tokens=False)
        else:
            notes.append("No target given: the decoder sees only its start token (pass --target to see more).")
    elif target:
        notes.append(f"A target was given, but {type(model).__name__} is not an encoder-decoder; it is ignored.")
    _check_vocabulary(config, source_ids + (target_ids or []))
    outputs = _forward_with_attentions(model, source_ids, target_ids)
    source_tokens = _labels(tokenizer, source_ids)
    target_tokens = _labels(tokenizer, target_ids) if target_ids is not None else None
    maps = _collect_maps(model, outputs, source_tokens, target_tokens)
    result = AttentionResult(maps=maps, source_tokens=source_tokens, target_tokens=target_tokens, notes=notes)
    if draw:
        result.figures = {kind: plot_overview(amap, notes) for kind, amap in maps.items()}
    return result


def _token_limit(config, max_tokens: int) -> int:
    limit = max_tokens
    table = getattr(config, "max_position_embeddings", None)
    if isinstance(table, int) and table > 0:
        limit = min(limit, table)
    if limit < 2:
        raise ValueError(f"max_tokens={max_tokens} leaves fewer than 2 tokens to draw; use at least 2.")
    return limit


def _encode(tokenizer, text: str, limit: int, what: str, notes: list[str], add_special_tokens: bool) -> list[int]:
    ids = list(tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])
    if not ids:
        raise ValueError(f"The {what} {text!r} gives no tokens; pass a non-empty {what}.")
    if len(ids) > limit:
        notes.append(
            f"Truncated: the {what} has {len(ids)} tokens; only the first {limit} are shown "
            "(raise --max-tokens to see more)."
        )
        ids = ids[:limit]
    return ids


def _decoder_start_token_id(model) -> int:
    start = getattr(model.config, "decoder_start_token_id", None)
    if start is None and getattr(model, "generation_config", None) is not None:
        start = model.generation_config.decoder_start_token_id
    if start is None:
        raise ValueError(f"{type(model).__name__} has no decoder_start_token_id; set it in the config.")
    return int(start)


def _check_vocabulary(config, ids: list[int]) -> None:
    vocab = getattr(config, "vocab_size", None)
    if vocab is not None and max(ids) >= vocab:
        raise ValueError(
            f"The tokenizer produced id {max(ids)}, but the model's vocab_size is {vocab}; use the tokenizer the "
            "model was trained with (--tokenizer)."
        )


def _labels(tokenizer, ids: list[int]) -> list[str]:
    return [readable_token(str(token)) for token in tokenizer.convert_ids_to_tokens(ids)]


@contextmanager
def eager_eval(model):
    """Within the block, `model` is in eval mode with eager attention; both are restored on exit."""
    previous = getattr(model.config, "_attn_implementation", None)
    was_training = model.training
    if previous != "eager":
        model.set_attn_implementation("eager")
    model.eval()
    try:
        yield model
    finally:
        if previous not in (None, "eager"):
            model.set_attn_implementation(previous)
        model.train(was_training)


def _forward_with_attentions(model, source_ids: list[int], target_ids: list[int] | None):
    device = next(model.parameters()).device
    input_ids = torch.tensor([source_ids], device=device)  # (1, src)
    inputs = dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids))
    if target_ids is not None:
        inputs["decoder_input_ids"] = torch.tensor([target_ids], device=device)  # (1, tgt)
    with eager_eval(model), torch.no_grad():
        return model(**inputs, output_attentions=True, return_dict=True)


def _collect_maps(model, outputs, source_tokens, target_tokens) -> dict[str, AttentionMap]:
    groups = _kv_groups(model.config)
    if model.config.is_encoder_decoder:
        layout = {
            "encoder": ("encoder_attentions", source_tokens, source_tokens, False),
            "decoder": ("decoder_attentions", target_tokens, target_tokens, True),
            "cross": ("cross_attentions", target_tokens, source_tokens, False),
        }
    else:
        layout = {"self": ("attentions", source_tokens, source_tokens, None)}
    maps = {}
    for kind, (key, queries, keys, causal) in layout.items():
        per_layer = getattr(outputs, key, None)
        if not per_layer or per_layer[0] is None:
            raise ValueError(
                f"{type(model).__name__} returned no {key} with output_attentions=True and eager "
                "attention; this model cannot be inspected."
            )
        weights = np.stack([layer[0].float().cpu().numpy() for layer in per_layer])  # (layers, heads, q, k)
        if causal is None:
            causal = _is_causal(model, weights)
        maps[kind] = AttentionMap(kind, weights, queries, keys, causal, groups)
    return maps


def _kv_groups(config) -> int:
    heads = getattr(config, "num_attention_heads", None)
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    return heads // kv_heads if isinstance(heads, int) and isinstance(kv_heads, int) and kv_heads else 1


def _is_causal(model, weights: np.ndarray) -> bool:
    """Causal self-attention? From the config (`stack_variant`) for decoders and Variformer, else from the weights."""
    if stack_variant(model) == "decoder":
        return True
    if getattr(model.config, "architecture", None) in VARIANTS:  # Variformer's own field says "encoder"
        return False
    upper = np.triu(np.ones(weights.shape[-2:], dtype=bool), k=1)  # (query, key)
    return bool(upper.any()) and bool((weights[..., upper] == 0).all())


# ---------------------------------------------------------------------------------------------- drawing
def _masked(amap: AttentionMap, weights: np.ndarray) -> np.ndarray:
    """Future positions of causal maps are masked, so they show as grey rather than as weight 0."""
    if not amap.causal:
        return weights
    upper = np.triu(np.ones(weights.shape[-2:], dtype=bool), k=1)  # (query, key)
    return np.ma.masked_array(weights, mask=np.broadcast_to(upper, weights.shape))


def _colormap():
    from matplotlib import colormaps

    return colormaps["viridis"].with_extremes(bad="#d9d9d9")


def _axis_names(amap: AttentionMap) -> tuple[str, str]:
    if amap.kind == "cross":
        return "target token (query)", "source token (key)"
    return "query token (attending)", "key token (attended)"


def _head_title(amap: AttentionMap, head: int) -> str:
    if amap.kv_groups > 1:
        return f"head {head} (kv {head // amap.kv_groups})"
    return f"head {head}"


def _suptitle(figure: Figure, title: str, notes: list[str] | None) -> None:
    lines = [title] + [f"NOTE: {note}" for note in notes or [] if note.startswith("Truncated")]
    figure.suptitle("\n".join(lines), fontsize=11, color="black")


def _label_axes(axes, amap: AttentionMap, xticks: bool, yticks: bool, fontsize: float | None = None) -> None:
    queries, keys = len(amap.query_tokens), len(amap.key_tokens)
    if xticks:
        axes.set_xticks(
            range(keys),
            [tick_label(token) for token in amap.key_tokens],
            rotation=90,
            fontsize=fontsize or label_font_size(keys),
        )
    else:
        axes.set_xticks([])
    if yticks:
        axes.set_yticks(
            range(queries),
            [tick_label(token) for token in amap.query_tokens],
            fontsize=fontsize or label_font_size(queries),
        )
    else:
        axes.set_yticks([])


def _layer_grid(heads: int, tokens: int) -> tuple[int, int, float, float]:
    """(rows, columns, panel inches, label points) so that the labels stay as large as the figure allows."""
    columns = min(heads, 4 if tokens <= 32 or heads > 4 else 2)
    rows = math.ceil(heads / columns)
    panel = min(max(0.15 * tokens + 1.2, 2.6), 10.0, 25.0 / columns, 25.0 / rows)
    points = min(max((panel - 1.2) / tokens * 72 * 0.8, 4.0), 9.0)
    return rows, columns, panel, points


def plot_layer(amap: AttentionMap, layer: int, notes: list[str] | None = None) -> Figure:
    """Every head of one layer, with token labels, on one colour scale from 0 to the layer's largest weight."""
    heads = amap.num_heads
    queries, keys = len(amap.query_tokens), len(amap.key_tokens)
    rows, columns, panel, points = _layer_grid(heads, max(queries, keys))
    panel_height = max(panel * queries / max(queries, keys), 1.2) + 0.6 * (queries < keys)
    figure = new_figure(columns * panel + 1.5, rows * panel_height + 1.4)
    grid = figure.subplots(rows, columns, squeeze=False)
    weights = amap.weights[layer]  # (heads, query, key)
    vmax = float(weights.max()) or 1.0
    image = None
    for head, axes in enumerate(grid.flat):
        if head >= heads:
            axes.set_axis_off()
            continue
        image = axes.imshow(
            _masked(amap, weights[head]), cmap=_colormap(), vmin=0.0, vmax=vmax, aspect="auto", interpolation="nearest"
        )
        axes.set_title(_head_title(amap, head), fontsize=10)
        bottom_row, first_column = head >= heads - columns, head % columns == 0
        _label_axes(axes, amap, xticks=bottom_row, yticks=first_column, fontsize=points)
        y_name, x_name = _axis_names(amap)
        axes.set_xlabel(x_name if bottom_row else "", fontsize=8)
        axes.set_ylabel(y_name if first_column else "", fontsize=8)
    figure.colorbar(image, ax=grid.ravel().tolist(), shrink=0.8, label="attention weight")
    causal = ", causal (grey = future, masked)" if amap.causal else ""
    _suptitle(figure, f"{amap.title}: layer {layer} (of {amap.num_layers}, counting from 0){causal}", notes)
    return figure


def plot_head(amap: AttentionMap, layer: int, head: int, notes: list[str] | None = None) -> Figure:
    """One head, large, with token labels; the weights are written in the cells when there are few tokens."""
    queries, keys = len(amap.query_tokens), len(amap.key_tokens)
    figure = new_figure(min(max(0.3 * keys + 2.5, 4.0), 14.0), min(max(0.3 * queries + 2.0, 2.5), 14.0))
    axes = figure.subplots()
    weights = amap.weights[layer, head]  # (query, key)
    image = axes.imshow(
        _masked(amap, weights), cmap=_colormap(), vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest"
    )
    _label_axes(axes, amap, xticks=True, yticks=True)
    if max(queries, keys) <= 12:
        for (row, column), value in np.ndenumerate(weights):
            if not (amap.causal and column > row):
                axes.text(
                    column,
                    row,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value < 0.6 else "black",
                )
    y_name, x_name = _axis_names(amap)
    axes.set_ylabel(y_name)
    axes.set_xlabel(x_name)
    figure.colorbar(image, ax=axes, label="attention weight")
    _suptitle(figure, f"{amap.title}: layer {layer}, {_head_title(amap, head)}", notes)
    return figure


def plot_overview(amap: AttentionMap, notes: list[str] | None = None) -> Figure:
    """All layers (rows) x heads (columns) as thumbnails, each head scaled from 0 to its own largest weight."""
    layers, heads = amap.num_layers, amap.num_heads
    queries, keys = len(amap.query_tokens), len(amap.key_tokens)
    cell = 1.5 if heads * layers <= 64 else 1.1
    cell_height = cell * min(max(queries / keys, 0.25), 1.0)
    figure = new_figure(heads * cell + 1.0, layers * cell_height + 1.3)
    grid = figure.subplots(layers, heads, squeeze=False)
    for (layer, head), axes in np.ndenumerate(grid):
        weights = amap.weights[layer, head]  # (query, key)
        axes.imshow(
            _masked(amap, weights),
            cmap=_colormap(),
            vmin=0.0,
            vmax=float(weights.max()) or 1.0,
            aspect="auto",
            interpolation="nearest",
        )
        axes.set_xticks([])
        axes.set_yticks([])
        if layer == 0:
            axes.set_title(f"H{head}", fontsize=8)
        if head == 0:
            axes.set_ylabel(f"L{layer}", fontsize=8)
    _suptitle(
        figure,
        f"{amap.title}: all {layers} layers x {heads} heads ({queries} x {keys} tokens; "
        "each head scaled to its own maximum)",
        notes,
    )
    return figure


__all__ = [
    "AttentionMap",
    "AttentionResult",
    "attention_maps",
    "eager_eval",
    "plot_head",
    "plot_layer",
    "plot_overview",
]
