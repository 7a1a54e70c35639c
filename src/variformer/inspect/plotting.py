"""Shared drawing helpers: headless figures, PNG saving and readable token labels.

Figures are built as bare `matplotlib.figure.Figure` objects (no `pyplot`, so no global state and no display is
ever touched) and written through the Agg canvas.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._files import atomic_write_png

DPI = 100
MAX_FIGURE_INCHES = 28.0  # the longest side of any picture, so PNGs stay a few thousand pixels at most


def new_figure(width: float, height: float) -> Figure:
    """A headless figure of at most `MAX_FIGURE_INCHES` per side, attached to the Agg canvas."""
    figure = Figure(figsize=(min(width, MAX_FIGURE_INCHES), min(height, MAX_FIGURE_INCHES)), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: str | Path) -> Path:
    """Write `figure` as a PNG (Agg), all or nothing, and return the path."""
    return atomic_write_png(path, figure, dpi=DPI, bbox_inches="tight")


def label_font_size(count: int) -> float:
    """Tick-label font size for `count` labels on one axis: 9 pt for short sequences, never below 4 pt."""
    return max(4.0, min(9.0, 220.0 / max(count, 1)))


def readable_token(token: str) -> str:
    """A token as people read it: GPT-2's byte-level space and newline markers shown as visible symbols."""
    token = token.replace("\u0120", "\u2423").replace("\u010a", "\\n")  # Ġ (space) -> ␣, Ċ (newline) -> \n
    return token if token.strip() else repr(token)


def tick_label(token: str) -> str:
    """`token` safe as matplotlib text: dollars escaped so they do not start mathtext."""
    return token.replace("$", r"\$")
