"""`variformer report RUN_DIR [RUN_DIR ...] [--output PAGE.html]`: one self-contained HTML page for runs.

    variformer report runs/tiny-20261202-101500-123                  # rewrites that run's report.html
    variformer report runs/model-a-... runs/model-b-... --output compare.html

With several runs the page aligns their tasks, adds a difference column per run (against the first) and lets
the reader list the samples where two runs disagree. See `variformer.eval_harness.html_report`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dirs",
        nargs="+",
        type=Path,
        metavar="RUN_DIR",
        help="run folder written by `variformer eval` (holding results.json and samples/)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="PAGE.html",
        help="where to write the page (default with one run: RUN_DIR/report.html; required with several)",
    )


def run(args: argparse.Namespace) -> int:
    from .errors import HarnessError

    try:
        path = _run(args)
    except HarnessError as error:
        print(f"variformer report: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({len(args.run_dirs)} run(s)); open it in a browser")
    return 0


def _run(args: argparse.Namespace) -> Path:
    from .errors import SettingError
    from .html_report import PAGE_NAME, write_runs_page

    output = args.output
    if output is None:
        if len(args.run_dirs) > 1:
            raise SettingError(
                f"{len(args.run_dirs)} runs need --output PAGE.html (the page that shows them side by side)"
            )
        output = args.run_dirs[0] / PAGE_NAME
    if output.is_dir():
        raise SettingError(f"--output {output} is a folder; give a file path, e.g. {output / PAGE_NAME}")
    if not output.parent.is_dir():
        raise SettingError(f"--output {output}: the folder {output.parent} does not exist; create it first")
    return write_runs_page(args.run_dirs, output)


__all__ = ["add_arguments", "run"]
