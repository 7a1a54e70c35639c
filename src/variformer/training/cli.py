"""`variformer train RECIPE.yaml [--resume] [--max-steps N] [--output-dir D] [--set KEY=VALUE ...]`.

The recipe is loaded and validated completely (keys, types, value ranges, files, a writable output folder,
TrainingArguments) before anything trains; a bad recipe exits with status 2 and one line naming the key. `--resume`
without a complete checkpoint to continue from exits with status 1. Launch data-parallel with
`accelerate launch [--num_processes N] -m variformer.cli train RECIPE.yaml`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe YAML file (see recipes/)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest complete checkpoint-* folder in the output directory (model, "
        "optimizer, scheduler, RNG and data position); incomplete ones are skipped, not deleted; "
        "starts from scratch if there is none",
    )
    parser.add_argument("--max-steps", type=int, default=None, help="override training.max_steps")
    parser.add_argument("--output-dir", default=None, help="override the recipe's output_dir")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any recipe key (dotted; VALUE is YAML), e.g. --set data.train.max_samples=2000"
        " --set lora.enabled=true; repeatable",
    )
    parser.add_argument("--check", action="store_true", help="validate the recipe and exit without training")


def run(args: argparse.Namespace) -> int:
    from .recipe import RecipeError, load_recipe

    overrides = list(args.overrides)
    if args.max_steps is not None:
        overrides.append(f"training.max_steps={args.max_steps}")
    if args.output_dir is not None:
        overrides.append(f"output_dir={json.dumps(args.output_dir)}")
    try:
        recipe = load_recipe(args.recipe, overrides=overrides)
    except RecipeError as error:
        print(f"variformer train: bad recipe {args.recipe}: {error}", file=sys.stderr)
        return 2
    if args.check:
        print(f"recipe {recipe.name!r} is valid ({recipe.objective}, output_dir {recipe.output_path})")
        return 0
    from .checkpoints import ResumeError
    from .trainer import run_recipe

    _show_training_messages()
    try:
        metrics = run_recipe(recipe, resume=args.resume)
    except ResumeError as error:
        print(f"variformer train: error: {error}", file=sys.stderr)
        return 1
    if "schema_version" in metrics:  # the main process
        print(
            json.dumps(
                {
                    key: metrics[key]
                    for key in ("recipe", "global_step", "wall_time_s", "validation", "test")
                    if key in metrics
                },
                indent=2,
                default=str,
            )
        )
        print(f"metrics: {recipe.output_path / 'metrics.json'}")
    return 0


def _show_training_messages() -> None:
    """Print the messages of variformer.training (which checkpoint --resume continues from, ...) on stderr."""
    log = logging.getLogger("variformer.training")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("variformer train: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


__all__ = ["add_arguments", "run"]
