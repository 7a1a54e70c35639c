"""Screenshots of a run's report.html in headless Chromium, for the docs: the whole page, and the sample browser.

    python scripts/html_report_screenshots.py RUN_DIR [--task truthfulqa_mc1] [--output docs/images]

writes OUTPUT/report-page.png (the full page) and OUTPUT/report-samples.png (the sample browser showing TASK,
wrong answers only, sorted by its first per-sample score; long prompts folded). The committed ones come from a
`variformer quickstart` run folder (docs/evaluation.md says which command).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from html_report_load import chromium_executable  # noqa: E402 (the same Chromium lookup)

ROOT = Path(__file__).resolve().parents[1]
CLIP_HEIGHT = 1400  # pixels of the sample browser in its screenshot
SAMPLES_BOX = """() => { const box = document.getElementById("samples").getBoundingClientRect();
  return {x: box.left + scrollX, y: box.top + scrollY, width: box.width, height: box.height}; }"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--task", default="truthfulqa_mc1", help="task shown in the sample browser")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--chromium", help="Chromium executable (default: Debian's chromium)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.output.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(args.chromium))
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((args.run_dir / "report.html").resolve().as_uri())
        page.wait_for_selector("body[data-ready]", state="attached")
        page.screenshot(path=args.output / "report-page.png", full_page=True)
        page.select_option("#task", label=args.task)
        page.check("#wrong")
        page.select_option("#sort", index=1)
        box = page.evaluate(SAMPLES_BOX)  # its top: controls and the first rows
        page.screenshot(
            path=args.output / "report-samples.png",
            full_page=True,
            clip={**box, "height": min(box["height"], CLIP_HEIGHT)},
        )
        browser.close()
    print(f"wrote {args.output / 'report-page.png'} and {args.output / 'report-samples.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
