"""`variformer inspect CHECKPOINT --text ... [--target ...] --output DIR`: draw what happens inside a model.

Loads any Variformer checkpoint (or any transformers model that returns attentions) with eager attention, runs
it once on the text, and writes attention maps, positional pictures, an architecture sheet and a parameter/FLOPs
table as PNGs plus `report.md` and `index.html` (see `variformer.inspect.report`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .attention_plots import DEFAULT_MAX_TOKENS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="Checkpoint folder (config.json + weights) or Hub id.")
    parser.add_argument("--text", required=True, help="Input text (the source text for encoder-decoder models).")
    parser.add_argument(
        "--target", default=None, help="Target text fed to the decoder of encoder-decoder models (teacher forcing)."
    )
    parser.add_argument("--output", default="inspect", help="Folder for the PNGs and the page (default: inspect).")
    parser.add_argument("--tokenizer", default=None, help="Tokenizer folder or id (default: the checkpoint).")
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help=f"Longest sequence drawn; longer ones are cut with a note (default {DEFAULT_MAX_TOKENS}).",
    )
    parser.add_argument("--per-head", action="store_true", help="Also write one large picture per head.")


def load_model(checkpoint: str):
    """The checkpoint's own class (config.architectures) with eager attention; AutoModel when unknown."""
    import transformers
    from transformers import AutoConfig, AutoModel

    import variformer  # registers model_type "variformer" with the Auto classes

    config = AutoConfig.from_pretrained(checkpoint)
    model_class = AutoModel
    for name in config.architectures or []:
        found = getattr(variformer, name, None) or getattr(transformers, name, None)
        if found is not None:
            model_class = found
            break
    return model_class.from_pretrained(checkpoint, attn_implementation="eager")


def run(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    from .report import inspect_model

    try:
        model = load_model(args.checkpoint)
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer or args.checkpoint)
    except (OSError, ValueError) as error:
        print(
            f"variformer inspect: cannot load {args.checkpoint!r}: {error}\n(pass --tokenizer if the checkpoint "
            "folder has no tokenizer)",
            file=sys.stderr,
        )
        return 1
    try:
        report = inspect_model(
            model,
            tokenizer,
            args.text,
            Path(args.output),
            target=args.target,
            max_tokens=args.max_tokens,
            per_head=args.per_head,
            title=f"Inside {Path(args.checkpoint).name} ({type(model).__name__})",
        )
    except ValueError as error:
        print(f"variformer inspect: {error}", file=sys.stderr)
        return 1
    for note in report.attention.notes:
        print(f"note: {note}")
    print(f"wrote {len(report.files)} files to {report.output_dir}; open {report.html_path}")
    return 0


__all__ = ["add_arguments", "load_model", "run"]
