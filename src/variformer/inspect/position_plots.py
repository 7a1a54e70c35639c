"""Pictures of the positional scheme a model uses.

- sinusoidal: the fixed table PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...) and the cosine
  similarity between positions;
- learned: the trained position table and its cosine-similarity matrix (one per stack);
- rotary: the frequencies theta_i = rope_theta^(-2i/head_dim), cos(pos * theta_i), and the mean of
  cos(distance * theta_i), i.e. how the query-key product of identical vectors falls off with distance;
- relative_bias: the learned T5 bias per head as a function of the distance key - query, and the resulting
  (query, key) bias matrix per head (one set per stack: bidirectional encoder, causal decoder);
- none: no picture, and the page says that the model has no positional encoding.

Variformer models are read from their config; other transformers models are recognised by their modules
(a `inv_freq` buffer: rotary; a `relative_attention_bias` embedding: T5 bias; an embedding named like
`position_embeddings` / `wpe`: a position table). Anything else is reported as unrecognised, without a picture.

Legend: positions = rows of a position table, dim = hidden features, pairs = head_dim / 2 rotary pairs,
heads = attention heads, distance = key position - query position.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import nn

from ..modeling.positions import relative_position_bucket
from .plotting import new_figure

DEFAULT_MAX_POSITIONS = 128  # positions drawn from a table
DEFAULT_MAX_DISTANCE = 48  # distances drawn for the relative bias


@dataclass
class PositionPicture:
    """One picture: `name` is the file stem, `caption` one sentence for the page."""

    name: str
    title: str
    caption: str
    figure: Figure


@dataclass
class PositionReport:
    """The positional scheme (`sinusoidal`, `learned`, `rotary`, `relative_bias`, `none` or `unrecognised`)."""

    scheme: str
    description: str
    pictures: list[PositionPicture] = field(default_factory=list)


def positional_pictures(model, max_positions: int = DEFAULT_MAX_POSITIONS, length: int = 16) -> PositionReport:
    """Recognise the positional scheme of `model` and draw it; `length` is the bias-matrix size (tokens)."""
    sources = _find_sources(model)
    if not sources:
        scheme = getattr(model.config, "position_embedding_type", None)
        if scheme == "none":
            return PositionReport(
                "none",
                "This model uses no positional encoding (position_embedding_type="
                "'none'): apart from a causal mask, attention does not depend on token order.",
            )
        return PositionReport(
            "unrecognised",
            f"The positional scheme of {type(model).__name__} was not "
            "recognised (no rotary frequencies, relative bias or position table found).",
        )
    scheme = sources[0][0]
    report = PositionReport(scheme, _DESCRIPTIONS[scheme])
    for kind, stack, module in sources:
        report.pictures += _DRAWERS[kind](model, stack, module, max_positions, length)
    return report


# ---------------------------------------------------------------------------------------------- finding
def _find_sources(model) -> list[tuple[str, str, nn.Module]]:
    """(scheme, stack, module) for each positional module, one per stack; identical fixed tables only once."""
    sources, seen = [], set()
    for name, module in model.named_modules():
        kind = _kind_of(name, module)
        if kind is None:
            continue
        stack = _stack_of(name, model.config) if kind in ("learned", "relative_bias") else "model"
        key = (kind, stack)
        if key not in seen:
            seen.add(key)
            sources.append((kind, stack, module))
    return sources


def _kind_of(name: str, module: nn.Module) -> str | None:
    leaf = name.rsplit(".", 1)[-1].lower()
    if "inv_freq" in dict(module.named_buffers(recurse=False)):
        return "rotary"
    if "table" in dict(module.named_buffers(recurse=False)) and "position" in name.lower():
        return "sinusoidal"
    if isinstance(module, nn.Embedding) and "relative_attention_bias" in leaf:
        return "relative_bias"
    if isinstance(module, nn.Embedding) and ("position" in leaf or leaf == "wpe"):
        return "learned" if module.weight.requires_grad else "sinusoidal"
    return None


def _stack_of(name: str, config) -> str:
    if getattr(config, "is_encoder_decoder", False):
        for stack in ("encoder", "decoder"):
            if f"{stack}." in name + ".":
                return stack
    return "model"


def _stack_suffix(stack: str) -> str:
    return "" if stack == "model" else f"_{stack}"


def _stack_words(stack: str) -> str:
    return "" if stack == "model" else f" ({stack})"


# ---------------------------------------------------------------------------------------------- drawing
def _cosine_similarity(table: np.ndarray) -> np.ndarray:
    """(positions, dim) -> (positions, positions)."""
    unit = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
    return unit @ unit.T


def _table_figure(table: np.ndarray, title: str, total: int) -> Figure:
    """Left: the table (positions x dim). Right: the cosine similarity of every pair of positions."""
    figure = new_figure(13.0, 5.6)
    left, right = figure.subplots(1, 2)
    limit = float(np.abs(table).max()) or 1.0
    image = left.imshow(table, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    left.set_xlabel("embedding dimension")
    left.set_ylabel("position")
    left.set_title("position vectors")
    figure.colorbar(image, ax=left, label="value")
    image = right.imshow(_cosine_similarity(table), cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
    right.set_xlabel("position")
    right.set_ylabel("position")
    right.set_title("cosine similarity between positions")
    figure.colorbar(image, ax=right, label="cosine similarity")
    shown = f" (first {table.shape[0]} of {total} positions)" if table.shape[0] < total else ""
    figure.suptitle(title + shown, fontsize=12)
    return figure


def _draw_table(model, stack: str, module: nn.Module, max_positions: int, length: int) -> list[PositionPicture]:
    kind = "learned" if isinstance(module, nn.Embedding) and module.weight.requires_grad else "sinusoidal"
    full = module.weight if isinstance(module, nn.Embedding) else module.table  # (positions, dim)
    table = full[:max_positions].detach().float().cpu().numpy()  # (shown, dim)
    if kind == "learned":
        title = f"Learned position embeddings{_stack_words(stack)}"
        caption = (
            "The trained position table and how similar each position's vector is to every other; "
            "neighbouring positions usually end up similar after training (a random table before)."
        )
    else:
        title = "Sinusoidal position table (fixed)"
        caption = (
            "PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)): low dimensions "
            "oscillate fast, high ones slowly; similarity depends only on the distance between positions."
        )
    figure = _table_figure(table, title, full.shape[0])
    return [PositionPicture(f"positions_{kind}{_stack_suffix(stack)}", title, caption, figure)]


def _draw_rotary(model, stack: str, module: nn.Module, max_positions: int, length: int) -> list[PositionPicture]:
    inv_freq = module.inv_freq.detach().double().cpu().numpy()  # (pairs,)
    positions = np.arange(max_positions)
    angles = positions[:, None] * inv_freq[None, :]  # (positions, pairs)
    figure = new_figure(17.0, 5.0)
    freq_axes, angle_axes, decay_axes = figure.subplots(1, 3, gridspec_kw={"wspace": 0.5})
    freq_axes.semilogy(np.arange(len(inv_freq)), inv_freq, marker="o", markersize=3)
    freq_axes.set_xlabel("rotary pair i")
    freq_axes.set_ylabel("theta_i (radians per token)")
    freq_axes.set_title("frequencies; wavelength 2*pi/theta_i")
    wavelength = freq_axes.secondary_yaxis(
        "right", functions=(lambda t: 2 * np.pi / np.maximum(t, 1e-30), lambda w: 2 * np.pi / np.maximum(w, 1e-30))
    )
    wavelength.set_ylabel("wavelength (tokens)")
    image = angle_axes.imshow(np.cos(angles), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    angle_axes.set_xlabel("rotary pair i")
    angle_axes.set_ylabel("position")
    angle_axes.set_title("cos(position * theta_i)")
    figure.colorbar(image, ax=angle_axes)
    decay_axes.plot(positions, np.cos(angles).mean(axis=1))
    decay_axes.set_xlabel("distance between query and key (tokens)")
    decay_axes.set_ylabel("mean_i cos(distance * theta_i)")
    decay_axes.set_title("q.k of identical vectors vs distance")
    decay_axes.axhline(0.0, color="grey", linewidth=0.5)
    theta = getattr(model.config, "rope_theta", None)
    title = "Rotary position embedding (RoPE)" + (f", base {theta:g}" if isinstance(theta, (int, float)) else "")
    figure.suptitle(f"{title}: {2 * len(inv_freq)} rotated features per head", fontsize=12)
    caption = (
        "Queries and keys are rotated pair by pair by the angle position * theta_i, so their dot product "
        "depends on the distance only; fast pairs resolve nearby tokens, slow pairs far ones."
    )
    return [PositionPicture(f"positions_rotary{_stack_suffix(stack)}", title, caption, figure)]


def _bias_settings(model, module: nn.Module, stack: str) -> tuple[bool, int, int]:
    """(bidirectional, num_buckets, max_distance) of a relative-bias module, from the module or the config."""
    owner = next((parent for parent in model.modules() if any(child is module for child in parent.children())), None)
    config = model.config
    bidirectional = getattr(owner, "bidirectional", None)
    if bidirectional is None:
        bidirectional = stack != "decoder" and not getattr(config, "is_decoder", False)
    num_buckets = getattr(owner, "num_buckets", None) or module.num_embeddings
    max_distance = (
        getattr(owner, "max_distance", None)
        or getattr(owner, "relative_attention_max_distance", None)
        or getattr(config, "relative_attention_max_distance", 128)
    )
    return bool(bidirectional), int(num_buckets), int(max_distance)


def _draw_relative_bias(model, stack: str, module: nn.Module, max_positions: int, length: int) -> list[PositionPicture]:
    bidirectional, num_buckets, max_distance = _bias_settings(model, module, stack)
    weight = module.weight.detach().float().cpu()  # (buckets, heads)
    span = min(DEFAULT_MAX_DISTANCE, max_distance)
    distance = torch.arange(-span, span + 1 if bidirectional else 1)  # (distances,)
    by_distance = weight[relative_position_bucket(distance, bidirectional, num_buckets, max_distance)]
    by_distance = by_distance.T.numpy()  # (heads, distances)
    figure = new_figure(12.0, 0.45 * by_distance.shape[0] + 2.4)
    axes = figure.subplots()
    limit = float(np.abs(by_distance).max()) or 1.0
    image = axes.imshow(
        by_distance,
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        aspect="auto",
        interpolation="nearest",
        extent=(-span - 0.5, int(distance[-1]) + 0.5, by_distance.shape[0] - 0.5, -0.5),
    )
    axes.set_xlabel("distance = key position - query position (tokens)")
    axes.set_ylabel("head")
    axes.set_yticks(range(by_distance.shape[0]))
    figure.colorbar(image, ax=axes, label="bias added to the attention logit")
    direction = "bidirectional" if bidirectional else "causal (only keys at or before the query)"
    title = f"Relative position bias{_stack_words(stack)}: {num_buckets} buckets, {direction}"
    figure.suptitle(title, fontsize=12)
    caption = (
        f"One learned scalar per (bucket, head), added to the attention logits; distances below "
        f"{num_buckets // (2 if bidirectional else 1) // 2} tokens get their own bucket, longer ones share "
        f"logarithmic buckets up to {max_distance} tokens."
    )
    pictures = [PositionPicture(f"positions_relative_bias{_stack_suffix(stack)}", title, caption, figure)]
    pictures.append(_bias_matrix_picture(weight, bidirectional, num_buckets, max_distance, stack, length))
    return pictures


def _bias_matrix_picture(
    weight: torch.Tensor, bidirectional: bool, num_buckets: int, max_distance: int, stack: str, length: int
) -> PositionPicture:
    """The (query, key) bias matrix of every head for a sequence of `length` tokens."""
    positions = torch.arange(length)
    buckets = relative_position_bucket(
        positions[None, :] - positions[:, None], bidirectional, num_buckets, max_distance
    )  # (query, key)
    matrices = weight[buckets].permute(2, 0, 1).numpy()  # (heads, query, key)
    heads = matrices.shape[0]
    columns = min(heads, 6)
    rows = -(-heads // columns)
    figure = new_figure(2.4 * columns + 1.2, 2.4 * rows + 1.0)
    grid = figure.subplots(rows, columns, squeeze=False)
    limit = float(np.abs(matrices).max()) or 1.0
    image = None
    for head, axes in enumerate(grid.flat):
        if head >= heads:
            axes.set_axis_off()
            continue
        image = axes.imshow(matrices[head], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        axes.set_title(f"head {head}", fontsize=9)
        axes.tick_params(labelsize=6)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.colorbar(image, ax=grid.ravel().tolist(), shrink=0.8, label="bias")
    title = f"Relative position bias matrix per head{_stack_words(stack)} ({length} x {length} tokens)"
    figure.suptitle(title + "; rows = query, columns = key", fontsize=11)
    caption = "The bias each head adds to the logit of query row / key column (before any causal mask)."
    return PositionPicture(f"positions_relative_bias_matrix{_stack_suffix(stack)}", title, caption, figure)


_DRAWERS = {
    "sinusoidal": _draw_table,
    "learned": _draw_table,
    "rotary": _draw_rotary,
    "relative_bias": _draw_relative_bias,
}
_DESCRIPTIONS = {
    "sinusoidal": "Fixed sinusoidal position table (Vaswani et al. 2017), added to the token embeddings.",
    "learned": "Learned absolute position embeddings (BERT, GPT-2), added to the token embeddings.",
    "rotary": "Rotary position embedding (Su et al. 2021): queries and keys are rotated by position-dependent "
    "angles, so attention scores depend on relative distance.",
    "relative_bias": "Relative position bias (T5, Raffel et al. 2020): a learned per-head scalar, chosen by the "
    "bucketed distance between query and key, is added to the attention logits.",
}


__all__ = ["PositionPicture", "PositionReport", "positional_pictures"]
