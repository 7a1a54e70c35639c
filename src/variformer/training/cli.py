"""`variformer train RECIPE.yaml [--resume] [--max-steps N] [--output-dir D] [--set KEY=VALUE ...]`.

The recipe is loaded and validated completely (keys, types, files, TrainingArguments) before anything trains;
a bad recipe exits with status 2 and one line naming the key. Launch data-parallel with
`accelerate launch [--num_processes N] -m variformer.cli train RECIPE.yaml`.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe YAML file (see recipes/)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the last checkpoint-* folder in the output directory (model, optimizer, "
                             "scheduler, RNG and data position); starts from scratch if there is none")
    parser.add_argument("--max-steps", type=int, default=None, help="override training.max_steps")
    parser.add_argument("--output-dir", default=None, help="override the recipe's output_dir")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override any recipe key (dotted; VALUE is YAML), e.g. --set data.train.max_samples=2000"
                             " --set lora.enabled=true; repeatable")
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
    from .trainer import run_recipe

    metrics = run_recipe(recipe, resume=args.resume)
    if "schema_version" in metrics:  # the main process
        print(json.dumps({key: metrics[key] for key in ("recipe", "global_step", "wall_time_s", "validation", "test")
                          if key in metrics}, indent=2, default=str))
        print(f"metrics: {recipe.output_path / 'metrics.json'}")
    return 0


__all__ = ["add_arguments", "run"]
