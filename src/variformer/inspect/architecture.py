"""The architecture sheet: what a model is made of, read from its config, and drawn as a block diagram.

`describe_architecture(model)` returns an `ArchitectureSpec` (stacks, layers, norm placement, attention kind,
FFN kind, shapes). For Variformer every field comes from `VariformerConfig`; for other transformers models the
standard config names are read and unknown fields say "unknown". `draw_architecture(spec)` draws the stacks of
blocks (embeddings at the bottom, the repeated layer with its sublayers in order, the head at the top; an arrow
from the encoder output to each decoder cross-attention) next to a table of shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from matplotlib.patches import FancyBboxPatch

from .._model_kind import model_kind, stack_variant
from .plotting import new_figure

# Norm placement of well-known transformers model types (the config does not say).
KNOWN_NORM_POSITIONS = {
    "bert": "post",
    "roberta": "post",
    "distilbert": "post",
    "electra": "post",
    "albert": "post",
    "marian": "post",
    "bart": "post",
    "gpt2": "pre",
    "gpt_neox": "pre",
    "gptj": "pre",
    "llama": "pre",
    "mistral": "pre",
    "qwen2": "pre",
    "qwen3": "pre",
    "gemma": "pre",
    "t5": "pre",
    "mt5": "pre",
    "opt": "pre",
    "phi": "pre",
    "mbart": "pre",
    "whisper": "pre",
}
GATED_NAMES = {
    "swiglu": "SwiGLU: silu(x W_gate) * (x W_up), then W_down",
    "geglu": "GEGLU: gelu(x W_gate) * (x W_up), then W_down",
    "geglu_tanh": "GEGLU (tanh GELU): gelu_tanh(x W_gate) * (x W_up), then W_down",
    "reglu": "ReGLU: relu(x W_gate) * (x W_up), then W_down",
}
COLORS = {
    "embed": "#f6d0e4",
    "norm": "#fff0a8",
    "attn": "#ffc98f",
    "cross": "#ff9f9f",
    "ffn": "#a9d3ff",
    "head": "#b9ecb9",
    "add": "#ffffff",
    "layer": "#f2f2f2",
}
HEAD_WORDS = {
    "classifier": "sequence classification (pool, then d -> labels)",  # by `model_kind`
    "token-classifier": "token classification (d -> labels per token)",
    "question-answering": "extractive QA (d -> start, end)",
}


@dataclass
class StackSpec:
    """One stack of identical layers. role: "encoder" or "decoder"."""

    role: str
    num_layers: int
    causal: bool
    cross_attention: bool


@dataclass
class ArchitectureSpec:
    """Everything the sheet shows. Sizes are None where the config does not give them."""

    model_class: str
    model_type: str
    variant: str
    stacks: list[StackSpec]
    vocab_size: int | None
    hidden_size: int | None
    num_heads: int | None
    num_kv_heads: int | None
    head_dim: int | None
    intermediate_size: int | None
    activation: str
    gated: bool
    norm_type: str
    norm_position: str
    position: str
    embedding_extras: list[str] = field(default_factory=list)
    head: str = "none (bare model)"

    @property
    def attention_kind(self) -> str:
        """ "MHA" (multi-head), "GQA" (grouped-query), "MQA" (multi-query) or "unknown"."""
        if not self.num_heads or not self.num_kv_heads:
            return "unknown"
        if self.num_kv_heads == self.num_heads:
            return "MHA"
        return "MQA" if self.num_kv_heads == 1 else "GQA"

    @property
    def attention_words(self) -> str:
        kind = self.attention_kind
        if kind == "GQA":
            return f"GQA, {self.num_heads} query / {self.num_kv_heads} key-value heads"
        if kind == "MQA":
            return f"MQA, {self.num_heads} query heads / 1 key-value head"
        return f"MHA, {self.num_heads} heads" if kind == "MHA" else "heads unknown"

    @property
    def ffn_words(self) -> str:
        if self.gated:
            return GATED_NAMES.get(self.activation, f"gated {self.activation}")
        return f"{self.activation}(x W_up), then W_down"

    def shape_rows(self) -> list[tuple[str, str]]:
        """(name, value) rows of the shapes table."""

        def show(value):
            return "unknown" if value is None else str(value)

        rows = [("model", f"{self.model_class} ({self.model_type})"), ("variant", self.variant)]
        rows += [(f"{stack.role} layers", str(stack.num_layers)) for stack in self.stacks]
        rows += [
            ("hidden size d", show(self.hidden_size)),
            ("attention", self.attention_words),
            ("head_dim", show(self.head_dim)),
            ("FFN", f"{self.ffn_words}; inner size {show(self.intermediate_size)}"),
            (
                "norm",
                f"{self.norm_type}, {self.norm_position}-LN"
                if self.norm_position != "unknown"
                else f"{self.norm_type}, placement unknown",
            ),
            ("positions", self.position),
            ("vocabulary", show(self.vocab_size)),
            ("embeddings", ", ".join(self.embedding_extras) or "token table only"),
            ("head", self.head),
        ]
        return rows


# ---------------------------------------------------------------------------------------------- describing
def describe_architecture(model) -> ArchitectureSpec:
    """The `ArchitectureSpec` of `model`, from its config (and module types where the config is silent)."""
    config = model.config
    hidden = _first(config, "hidden_size", "d_model", "n_embd")
    heads = _first(config, "num_attention_heads", "num_heads", "n_head")
    kv_heads = _first(config, "num_key_value_heads") or heads
    head_dim = _first(config, "head_dim", "d_kv") or (hidden // heads if hidden and heads else None)
    inner = _first(config, "intermediate_size", "d_ff", "n_inner", "ffn_dim", "encoder_ffn_dim")
    if inner is None and hidden and config.model_type == "gpt2":
        inner = 4 * hidden
    activation = str(_first(config, "hidden_act", "activation_function", "dense_act_fn") or "unknown")
    gated = bool(getattr(config, "is_gated_mlp", False) or getattr(config, "is_gated_act", False))
    if config.model_type in ("llama", "mistral", "qwen2", "qwen3", "gemma") and activation in ("silu", "gelu"):
        activation, gated = {"silu": "swiglu", "gelu": "geglu"}[activation], True
    return ArchitectureSpec(
        model_class=type(model).__name__,
        model_type=config.model_type,
        variant=stack_variant(model),
        stacks=_stacks(model),
        vocab_size=_first(config, "vocab_size"),
        hidden_size=hidden,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate_size=inner,
        activation=activation,
        gated=gated,
        norm_type=_norm_type(model),
        norm_position=_norm_position(config),
        position=_position_words(model),
        embedding_extras=_embedding_extras(config),
        head=_head_words(model),
    )


def _first(config, *names):
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return None


def _stacks(model) -> list[StackSpec]:
    config = model.config
    layers = _first(config, "num_hidden_layers", "num_layers", "n_layer")
    variant = stack_variant(model)
    if variant == "encoder-decoder":
        decoder_layers = _first(config, "decoder_layers", "num_decoder_layers") or layers
        return [
            StackSpec("encoder", layers, causal=False, cross_attention=False),
            StackSpec("decoder", decoder_layers, causal=True, cross_attention=True),
        ]
    return [StackSpec(variant, layers, causal=variant == "decoder", cross_attention=False)]


def _norm_type(model) -> str:
    names = {type(module).__name__ for module in model.modules()}
    if any("RMSNorm" in name for name in names) or "T5LayerNorm" in names:
        return "RMSNorm"
    if any(name.endswith("LayerNorm") for name in names):
        return "LayerNorm"
    return "unknown"


def _norm_position(config) -> str:
    return getattr(config, "norm_position", None) or KNOWN_NORM_POSITIONS.get(config.model_type, "unknown")


def _position_words(model) -> str:
    scheme = getattr(model.config, "position_embedding_type", None)
    if model.config.model_type == "variformer":
        extra = {
            "learned": f", table of {model.config.max_position_embeddings}",
            "sinusoidal": f", table of {model.config.max_position_embeddings}",
            "rotary": f", theta {model.config.rope_theta:g}",
            "relative_bias": f", {model.config.relative_attention_num_buckets} buckets per stack",
        }
        return f"{scheme}{extra.get(scheme, '')}"
    from .position_plots import _find_sources

    sources = _find_sources(model)
    return sources[0][0] if sources else "unrecognised"


def _embedding_extras(config) -> list[str]:
    extras = []
    if getattr(config, "scale_embeddings", False):
        extras.append("tokens x sqrt(d)")
    if _first(config, "type_vocab_size"):
        extras.append(f"+ {config.type_vocab_size} token types")
    if getattr(config, "embedding_norm", False):
        extras.append("norm after embedding")
    return extras


def _head_words(model) -> str:
    kind = model_kind(model)
    tied = getattr(model.config, "tie_word_embeddings", False)
    if kind in ("causal", "seq2seq", "masked"):
        return f"language-model head d -> vocab ({'tied to' if tied else 'separate from'} the token embeddings)"
    if kind in HEAD_WORDS:
        return HEAD_WORDS[kind]
    return "none (bare model)"


# ---------------------------------------------------------------------------------------------- drawing
class _Column:
    """Draws boxes bottom-up in one column of the sheet; `y` is the top of the last item."""

    BOX_W, BOX_H, GAP = 3.4, 0.62, 0.32

    def __init__(self, axes, x: float):
        self.axes, self.x, self.y = axes, x, 0.0

    def box(self, text: str, color: str, height: float | None = None) -> tuple[float, float]:
        """A box above the previous item, joined by an arrow; returns its (bottom, top)."""
        height = height or self.BOX_H
        bottom = self.y + self.GAP
        self.last = (bottom, bottom + height)
        if self.y > 0:
            self.axes.annotate(
                "", (self.x, bottom), (self.x, self.y), arrowprops=dict(arrowstyle="->", color="#444444", lw=1.0)
            )
        self.axes.add_patch(
            FancyBboxPatch(
                (self.x - self.BOX_W / 2, bottom),
                self.BOX_W,
                height,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                facecolor=color,
                edgecolor="#333333",
                linewidth=1.0,
            )
        )
        self.axes.text(self.x, bottom + height / 2, text, ha="center", va="center", fontsize=7.5, wrap=True)
        self.y = bottom + height
        return bottom, self.y

    def add(self, residual_from: float) -> None:
        """The residual addition (+), with the skip connection drawn on the left from `residual_from`."""
        bottom, top = self.box("+  residual", COLORS["add"], height=0.34)
        left = self.x - self.BOX_W / 2 - 0.25
        self.axes.plot(
            [self.x, left, left], [residual_from, residual_from, (bottom + top) / 2], color="#777777", lw=0.9
        )
        self.axes.annotate(
            "",
            (self.x - self.BOX_W / 2, (bottom + top) / 2),
            (left, (bottom + top) / 2),
            arrowprops=dict(arrowstyle="->", color="#777777", lw=0.9),
        )


def _sublayer(column: _Column, spec: ArchitectureSpec, text: str, color: str) -> tuple[float, float]:
    """Norm + op + residual add in the configured order; returns the op box's (bottom, top)."""
    start = column.y + column.GAP / 2
    norm = f"{spec.norm_type}"
    if spec.norm_position == "post":
        op = column.box(text, color)
        column.add(start)
        column.box(norm, COLORS["norm"], height=0.34)
        return op
    column.box(norm, COLORS["norm"], height=0.34)
    op = column.box(text, color)
    column.add(start)
    return op


def _attention_text(spec: ArchitectureSpec, stack: StackSpec) -> str:
    kind = "Masked self-attention" if stack.causal else "Self-attention"
    scheme = spec.position.split(",")[0]
    extra = {"rotary": "\nRoPE on q, k", "relative_bias": "\n+ relative bias on logits"}.get(scheme, "")
    return f"{kind} ({spec.attention_words})\n{spec.num_heads} x {spec.head_dim} per head{extra}"


def _draw_stack(axes, spec: ArchitectureSpec, stack: StackSpec, x: float, is_last: bool) -> dict:
    """One column; returns the y of its output and of its cross-attention boxes (for the encoder arrow)."""
    column = _Column(axes, x)
    axes.text(x, -0.25, f"{stack.role} input tokens", ha="center", va="top", fontsize=8)
    scheme = spec.position.split(",")[0]
    embed = f"Token embedding {spec.vocab_size} x {spec.hidden_size}"
    if scheme in ("learned", "sinusoidal"):
        embed += f"\n+ {scheme} positions"
    if spec.embedding_extras:
        embed += "\n" + ", ".join(spec.embedding_extras)
    column.box(embed, COLORS["embed"], height=0.8)
    layer_bottom = column.y + 0.12
    column.y += 0.12
    crosses = []
    _sublayer(column, spec, _attention_text(spec, stack), COLORS["attn"])
    if stack.cross_attention:
        crosses.append(
            _sublayer(column, spec, f"Cross-attention to encoder\n({spec.attention_words})", COLORS["cross"])
        )
    _sublayer(
        column,
        spec,
        f"FFN d={spec.hidden_size} -> {spec.intermediate_size} -> {spec.hidden_size}\n{spec.ffn_words}",
        COLORS["ffn"],
    )
    layer_top = column.y + 0.12
    width = column.BOX_W + 0.9
    axes.add_patch(
        FancyBboxPatch(
            (x - width / 2, layer_bottom),
            width,
            layer_top - layer_bottom,
            boxstyle="round,pad=0.05",
            facecolor="none",
            edgecolor="#555555",
            linestyle="--",
            linewidth=1.2,
            zorder=0,
        )
    )
    axes.text(
        x + width / 2 + 0.1,
        (layer_bottom + layer_top) / 2,
        f"x {stack.num_layers}",
        fontsize=12,
        fontweight="bold",
        va="center",
    )
    column.y = layer_top
    if spec.norm_position == "pre":
        column.box(f"final {spec.norm_type}", COLORS["norm"], height=0.34)
    if is_last and not spec.head.startswith("none"):
        column.box(spec.head.split(" (")[0], COLORS["head"])
    axes.text(x, column.y + 0.3, stack.role.upper(), ha="center", fontsize=11, fontweight="bold")
    return {"top": column.y, "output": (x + column.BOX_W / 2, sum(column.last) / 2), "crosses": crosses}


_SPACING = 5.8  # distance between stack columns


def _draw_encoder_arrows(
    axes, output: tuple[float, float], crosses: list[tuple[float, float]], target_x: float
) -> None:
    """Encoder output -> every decoder cross-attention box: right, down/up between the columns, right."""
    start_x, start_y = output
    middle_x = target_x - 0.75
    for bottom, top in crosses:
        end_y = (bottom + top) / 2
        axes.plot(
            [start_x, middle_x, middle_x, target_x - 0.05], [start_y, start_y, end_y, end_y], color="#c0392b", lw=1.6
        )
        axes.annotate(
            "", (target_x, end_y), (target_x - 0.3, end_y), arrowprops=dict(arrowstyle="->", color="#c0392b", lw=1.6)
        )
    axes.text(middle_x - 0.05, start_y + 0.12, "encoder output", color="#c0392b", fontsize=7.5, ha="right")


def draw_architecture(spec: ArchitectureSpec, extra_rows: list[tuple[str, str]] | None = None):
    """The sheet: one column of blocks per stack, then a table of shapes (plus `extra_rows`)."""
    columns = len(spec.stacks)
    figure = new_figure(5.2 * columns + 6.5, 9.0)
    axes = figure.add_axes((0.0, 0.0, 0.6 if columns == 1 else 0.68, 0.95))
    drawn = [
        _draw_stack(axes, spec, stack, 2.6 + _SPACING * index, index == columns - 1)
        for index, stack in enumerate(spec.stacks)
    ]
    if columns == 2:
        _draw_encoder_arrows(axes, drawn[0]["output"], drawn[1]["crosses"], 2.6 + _SPACING - _Column.BOX_W / 2)
    height = max(item["top"] for item in drawn) + 0.9
    axes.set_xlim(0.0, _SPACING * columns + 0.2)
    axes.set_ylim(-0.8, height)
    axes.set_aspect("equal")
    axes.set_axis_off()
    _draw_shape_table(figure, spec.shape_rows() + (extra_rows or []), left=0.62 if columns == 1 else 0.7)
    figure.suptitle(
        f"{spec.model_class}: {spec.variant}, {spec.norm_position}-LN {spec.norm_type}, {spec.attention_kind}",
        fontsize=13,
    )
    return figure


def _draw_shape_table(figure, rows: list[tuple[str, str]], left: float) -> None:
    axes = figure.add_axes((left, 0.05, 0.98 - left, 0.85))
    axes.set_axis_off()
    y = 1.0
    for name, value in rows:
        axes.text(0.0, y, name, fontsize=8.5, fontweight="bold", va="top", transform=axes.transAxes)
        axes.text(0.0, y - 0.028, value, fontsize=8, va="top", wrap=True, transform=axes.transAxes)
        y -= 0.075


__all__ = ["ArchitectureSpec", "StackSpec", "describe_architecture", "draw_architecture"]
