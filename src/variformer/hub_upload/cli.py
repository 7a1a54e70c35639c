"""`variformer push CHECKPOINT REPO_ID`: export a checkpoint as a self-contained Hub repo and push it.

    variformer push runs/mt-de-en/checkpoint-best user/variformer-mt-de-en --eval-results runs/eval/<run>/
    variformer push runs/mt-de-en/final user/variformer-mt-de-en --dry-run out/hub-folder

The token comes from HF_TOKEN or `hf auth login` (never from the command line); HF_ENDPOINT selects a private hub.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .export import ExportError
from .model_card import CardOptions, ModelCardError
from .remote_code import RemoteCodeError
from .upload import PushError, PushResult, push_checkpoint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="Variformer checkpoint folder (save_pretrained / Trainer)")
    parser.add_argument("repo_id", help="Hub model repo, 'namespace/name'")
    parser.add_argument(
        "--eval-results",
        type=Path,
        metavar="RUN_DIR|JSON",
        help="harness run folder (or its results.json): fills the model card's evaluation tables "
        "and model-index; the run's report.html is uploaded too and linked from the card",
    )
    parser.add_argument(
        "--private", action="store_true", help="create the repo private (an existing repo keeps its visibility)"
    )
    parser.add_argument(
        "--dry-run",
        type=Path,
        metavar="OUTDIR",
        help="write the Hub folder to OUTDIR and list what would be uploaded; nothing is sent",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="with --dry-run: replace an earlier export in "
        "OUTDIR (a folder holding the .variformer-export marker); other folders are never replaced",
    )
    parser.add_argument("--license", default="apache-2.0", help="license id for the card (default: apache-2.0)")
    parser.add_argument("--base-model", help="Hub id of the model this one was fine-tuned or converted from")
    parser.add_argument(
        "--dataset", action="append", default=[], metavar="HUB_ID", help="Hub id of a training data set (repeatable)"
    )
    parser.add_argument(
        "--language",
        action="append",
        default=[],
        metavar="CODE",
        help="language code of the model, e.g. en (repeatable)",
    )
    parser.add_argument("--tag", action="append", default=[], help="extra model card tag (repeatable)")
    parser.add_argument(
        "--recipe", type=Path, help="training recipe for the card (default: recipe.yaml beside or above the checkpoint)"
    )
    parser.add_argument("--commit-message", help="commit message (default: 'Upload <model class> ...')")


def run(args: argparse.Namespace) -> int:
    card = CardOptions(
        repo_id=args.repo_id,
        license=args.license,
        base_model=args.base_model,
        datasets=tuple(args.dataset),
        language=tuple(args.language),
        tags=tuple(args.tag),
        eval_results=args.eval_results,
        recipe=args.recipe,
    )
    try:
        result = push_checkpoint(
            args.checkpoint,
            args.repo_id,
            card=card,
            private=args.private,
            dry_run_dir=args.dry_run,
            overwrite=args.overwrite,
            commit_message=args.commit_message,
        )
    except (ExportError, ModelCardError, PushError, RemoteCodeError) as err:
        print(f"variformer push: error: {err}", file=sys.stderr)
        return 1
    print(_report(result))
    return 0


def _report(result: PushResult) -> str:
    width = max(len(path) for path, _ in result.files)
    listing = [f"  {path.ljust(width)}  {_size(size):>9}" for path, size in result.files]
    total = _size(sum(size for _, size in result.files))
    if result.dry_run:
        head = (
            f"Dry run: wrote {len(result.files)} files ({total}) to {result.folder}; nothing was sent. "
            f"A push would upload them to {result.endpoint}/{result.repo_id} in one commit:"
        )
    else:
        head = f"Pushed {len(result.files)} files ({total}) to {result.endpoint}/{result.repo_id} in one commit:"
    tail = [] if result.dry_run else [f"commit: {result.commit_url}"]
    return "\n".join([head, *listing, *tail])


def _size(size: int) -> str:
    value, unit = float(size), "B"
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            break
        value /= 1000
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


__all__ = ["add_arguments", "run"]
