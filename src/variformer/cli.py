"""The `variformer` command line: `variformer COMMAND [options]`.

Each command lives in its own module, which provides `add_arguments(parser)` and `run(args) -> int`; modules are
imported only when their command runs, so `variformer --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": ("variformer.quickstart", "Train, save, reload and evaluate a tiny model of each variant on CPU."),
    "convert": ("variformer.convert", "Convert a transformers GPT-2 / BERT / T5 checkpoint folder to Variformer."),
    "train": ("variformer.training.cli", "Train or fine-tune from a recipe YAML (Trainer, LoRA, accelerate)."),
    "eval": ("variformer.eval_harness.cli", "Evaluate any transformers model on harness tasks."),
    "report": ("variformer.eval_harness.report_cli", "Write one self-contained HTML page for one or more eval runs."),
    "compare": (
        "variformer.eval_harness.compare_cli",
        "Paired bootstrap comparison of two eval runs, per task and metric.",
    ),
    "inspect": ("variformer.inspect.cli", "Draw attention maps, positional encodings and an architecture sheet."),
    "push": ("variformer.hub_upload.cli", "Export a checkpoint as a self-contained Hub repo and push it."),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: variformer COMMAND [options]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {description}" for name, (_, description) in COMMANDS.items()]
    lines += ["", "Run `variformer COMMAND --help` for the options of a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from . import __version__

        print(f"variformer {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"variformer: unknown command {name!r}; choose one of {', '.join(COMMANDS)}.", file=sys.stderr)
        return 2
    module_name, description = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"variformer {name}", description=description)
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
