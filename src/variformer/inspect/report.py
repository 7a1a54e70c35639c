"""`inspect_model`: draw every picture for one model and input, and write them with a Markdown and an HTML page.

Files written to `output_dir`:
    attention_<kind>_overview.png          all layers x heads (kind: self | encoder | decoder | cross)
    attention_<kind>_layer<NN>.png         every head of one layer, with token labels
    attention_<kind>_layer<NN>_head<MM>.png   one head with its values (only with per_head=True)
    positions_*.png                        the positional scheme (none for position_embedding_type="none")
    architecture.png                       the architecture sheet
    parameters.png                         parameters and forward FLOPs by component
    report.md, index.html                  the pages that show all of the above (index.html self-contained)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import _html
from .architecture import ArchitectureSpec, describe_architecture, draw_architecture
from .attention_plots import DEFAULT_MAX_TOKENS, AttentionResult, attention_maps, plot_head, plot_layer
from .parameter_table import FLOPS_FORMULA, FLOPS_FORMULA_TERMS, ParameterTable, draw_parameter_chart, parameter_table
from .plotting import save_png
from .position_plots import PositionReport, positional_pictures


@dataclass
class Picture:
    """A written PNG: `section` groups it on the page."""

    section: str
    path: Path
    title: str
    caption: str = ""


@dataclass
class InspectionReport:
    output_dir: Path
    attention: AttentionResult
    positions: PositionReport
    architecture: ArchitectureSpec
    table: ParameterTable
    pictures: list[Picture] = field(default_factory=list)
    markdown_path: Path | None = None
    html_path: Path | None = None
    title: str = ""

    @property
    def files(self) -> list[Path]:
        return [picture.path for picture in self.pictures] + [self.markdown_path, self.html_path]


def inspect_model(
    model,
    tokenizer,
    text: str,
    output_dir: str | Path,
    target: str | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    per_head: bool = False,
    title: str | None = None,
) -> InspectionReport:
    """Write the attention maps, positional pictures, architecture sheet and parameter table of `model`."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    attention = attention_maps(model, tokenizer, text, target=target, max_tokens=max_tokens)
    source_len = len(attention.source_tokens)
    target_len = len(attention.target_tokens) if attention.target_tokens is not None else source_len
    positions = positional_pictures(model, length=min(source_len, 24))
    spec = describe_architecture(model)
    table = parameter_table(model, seq_len=target_len, source_len=source_len)
    report = InspectionReport(
        output_dir, attention, positions, spec, table, title=title or f"Inside {type(model).__name__}"
    )
    _save_attention(report, per_head)
    for picture in positions.pictures:
        report.pictures.append(
            Picture(
                "positions",
                save_png(picture.figure, output_dir / f"{picture.name}.png"),
                picture.title,
                picture.caption,
            )
        )
    extra = [("parameters", f"{table.total_parameters:,}")]
    report.pictures.append(
        Picture(
            "architecture",
            save_png(draw_architecture(spec, extra), output_dir / "architecture.png"),
            "Architecture sheet",
        )
    )
    report.pictures.append(
        Picture(
            "parameters",
            save_png(draw_parameter_chart(table), output_dir / "parameters.png"),
            "Parameters and forward FLOPs by component",
        )
    )
    report.markdown_path = output_dir / "report.md"
    report.markdown_path.write_text(render_markdown(report), encoding="utf-8")
    report.html_path = output_dir / "index.html"
    report.html_path.write_text(render_html(report), encoding="utf-8")
    return report


def _save_attention(report: InspectionReport, per_head: bool) -> None:
    result, out = report.attention, report.output_dir
    for kind, amap in result.maps.items():
        path = save_png(result.figures[kind], out / f"attention_{kind}_overview.png")
        report.pictures.append(Picture(f"attention:{kind}", path, f"{amap.title}: all layers and heads"))
        for layer in range(amap.num_layers):
            path = save_png(plot_layer(amap, layer, result.notes), out / f"attention_{kind}_layer{layer:02d}.png")
            report.pictures.append(Picture(f"attention:{kind}", path, f"{amap.title}: layer {layer}"))
            for head in range(amap.num_heads if per_head else 0):
                path = save_png(
                    plot_head(amap, layer, head, result.notes),
                    out / f"attention_{kind}_layer{layer:02d}_head{head:02d}.png",
                )
                report.pictures.append(Picture(f"attention:{kind}", path, f"{amap.title}: layer {layer}, head {head}"))


# ---------------------------------------------------------------------------------------------- page content
def _table_rows(table: ParameterTable) -> list[list[str]]:
    """Rows of the parameter/FLOPs table, then a total row."""
    rows = [
        [row.stack, row.component, f"{row.parameters:,}", f"{row.flops_per_token:,}", row.per] for row in table.rows
    ]
    rows.append(
        [
            "total",
            "",
            f"{table.total_parameters:,}",
            f"{table.forward_flops:,} for this input",
            ", ".join(f"{count} {kind}s" for kind, count in table.tokens.items()),
        ]
    )
    return rows


TABLE_HEADER = ["stack", "component", "parameters", "forward FLOPs per token", "per"]


def _sections(report: InspectionReport) -> list[tuple[str, list[Picture]]]:
    """(heading, pictures) in page order."""
    sections = []
    for kind, amap in report.attention.maps.items():
        pictures = [picture for picture in report.pictures if picture.section == f"attention:{kind}"]
        sections.append((f"Attention: {amap.title}", pictures))
    return sections


def _token_line(report: InspectionReport) -> list[str]:
    lines = [f"Source tokens ({len(report.attention.source_tokens)}): " + " ".join(report.attention.source_tokens)]
    if report.attention.target_tokens is not None:
        lines.append(
            f"Decoder input tokens ({len(report.attention.target_tokens)}): " + " ".join(report.attention.target_tokens)
        )
    return lines


def render_markdown(report: InspectionReport) -> str:
    """The Markdown page; images are referenced by file name, relative to the page."""
    lines = [f"# {report.title}", ""]
    lines += [f"> **Note:** {note}" for note in report.attention.notes] + [""] * bool(report.attention.notes)
    lines += [f"- `{line.replace('`', chr(39))}`" for line in _token_line(report)] + [""]
    for heading, pictures in _sections(report):
        lines += [f"## {heading}", ""] + [f"![{p.title}]({p.path.name})" for p in pictures] + [""]
    lines += ["## Positional scheme", "", f"**{report.positions.scheme}**: {report.positions.description}", ""]
    for picture in report.positions.pictures:
        lines += [f"![{picture.title}]({picture.name}.png)", "", picture.caption, ""]
    lines += ["## Architecture", "", "![Architecture sheet](architecture.png)", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value.replace('|', '/')} |" for name, value in report.architecture.shape_rows()]
    lines += ["", "## Parameters and FLOPs", "", "![Parameters and FLOPs](parameters.png)", ""]
    lines += ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in _table_rows(report.table)]
    lines += [""] + [f"- {note}" for note in report.table.notes]
    lines += ["", f"FLOPs formula: `{FLOPS_FORMULA}`", ""] + [f"- {term}" for term in FLOPS_FORMULA_TERMS] + [""]
    return "\n".join(lines)


_STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
    "img{max-width:100%;border:1px solid #ddd;margin:.5em 0}.note{background:#fff3cd;padding:.6em;"
    "border-left:4px solid #e0a800}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
    "padding:.25em .6em;text-align:left}code{background:#f4f4f4}"
)


def _html_picture(path: Path, title: str, caption: str = "") -> str:
    return _html.figure(path.read_bytes(), title, caption)


def render_html(report: InspectionReport) -> str:
    """The self-contained page (`variformer._html` conventions): pictures inline as PNG data, no network."""
    parts = [f"<h1>{_html.escape(report.title)}</h1>"]
    parts += [f"<p class='note'><b>Note:</b> {_html.escape(note)}</p>" for note in report.attention.notes]
    parts += [f"<p><code>{_html.escape(line)}</code></p>" for line in _token_line(report)]
    for heading, pictures in _sections(report):
        parts.append(f"<h2>{_html.escape(heading)}</h2>")
        parts += [_html_picture(picture.path, picture.title) for picture in pictures]
    positions, out = report.positions, report.output_dir
    parts.append(
        f"<h2>Positional scheme</h2><p><b>{_html.escape(positions.scheme)}</b>: "
        f"{_html.escape(positions.description)}</p>"
    )
    parts += [_html_picture(out / f"{p.name}.png", p.title, p.caption) for p in positions.pictures]
    parts.append("<h2>Architecture</h2>" + _html_picture(out / "architecture.png", "Architecture sheet"))
    parts.append(_html.table([], [list(row) for row in report.architecture.shape_rows()]))
    parts.append("<h2>Parameters and FLOPs</h2>" + _html_picture(out / "parameters.png", "Parameters and FLOPs"))
    parts.append(_html.table(TABLE_HEADER, _table_rows(report.table)))
    parts += [f"<p>{_html.escape(note)}</p>" for note in report.table.notes]
    parts.append(
        f"<p><b>FLOPs formula:</b> <code>{_html.escape(FLOPS_FORMULA)}</code></p><ul>"
        + "".join(f"<li>{_html.escape(term)}</li>" for term in FLOPS_FORMULA_TERMS)
        + "</ul>"
    )
    return _html.page(report.title, "\n".join(parts), _STYLE)


__all__ = ["InspectionReport", "Picture", "inspect_model", "render_html", "render_markdown"]
