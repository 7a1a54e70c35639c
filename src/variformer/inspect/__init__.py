"""Seeing inside a model: attention maps, positional encodings, an architecture sheet and a parameter table.

    from variformer.inspect import attention_maps, inspect_model
    result = attention_maps(model, tokenizer, "Ein Mann fährt Fahrrad.")   # arrays + overview figure
    result.maps["self"].weights          # (layers, heads, query, key), equal to output_attentions
    result.figure.savefig("heads.png")
    inspect_model(model, tokenizer, text, "inspect/")   # every picture plus report.md and index.html

The command line is `variformer inspect CHECKPOINT --text ... [--target ...] --output DIR`.
Drawing uses bare matplotlib Figures on the Agg canvas: no display, no pyplot state.
"""

from .architecture import ArchitectureSpec, StackSpec, describe_architecture, draw_architecture
from .attention_plots import AttentionMap, AttentionResult, attention_maps, plot_head, plot_layer, plot_overview
from .parameter_table import (
    FLOPS_FORMULA,
    FLOPS_FORMULA_TERMS,
    ComponentRow,
    ParameterTable,
    draw_parameter_chart,
    measure_forward_flops,
    parameter_table,
)
from .position_plots import PositionPicture, PositionReport, positional_pictures
from .report import InspectionReport, inspect_model

__all__ = [
    "ArchitectureSpec",
    "AttentionMap",
    "AttentionResult",
    "ComponentRow",
    "FLOPS_FORMULA",
    "FLOPS_FORMULA_TERMS",
    "InspectionReport",
    "ParameterTable",
    "PositionPicture",
    "PositionReport",
    "StackSpec",
    "attention_maps",
    "describe_architecture",
    "draw_architecture",
    "draw_parameter_chart",
    "inspect_model",
    "measure_forward_flops",
    "parameter_table",
    "plot_head",
    "plot_layer",
    "plot_overview",
    "positional_pictures",
]
