"""Page size and first-render time of report.html for a run of 5,000 samples, in headless Chromium.

Builds a real harness run with the deterministic fake model on the first 5,000 rows of Multi30k train
(`../shared/data/multi30k/train.jsonl`, task multi30k_de_en: prompt, generated text, reference and two per-sample
scores in every row), writes its report.html, opens it several times in headless Chromium (Playwright driving
Debian's `chromium`, no browser download) and writes the figures to a JSON file:

- page_bytes, sample_data_bytes: the file, and the JSON block of sample data inside it;
- first_render_ms: navigation start to the page script's "report-rendered" mark (first page of the sample table
  in the document), per load, with the median; also DOMContentLoaded and load;
- search_ms, wrong_filter_ms, next_page_ms: one search over all samples, toggling the wrong-answer filter, and
  turning a page, each including the re-render (median over the loads).

    python scripts/html_report_load.py [--samples 5000] [--loads 7] [--output docs/html-report/metrics.json]

Timings depend on the machine and on what else runs on it: the file records the CPU count and load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "multi30k" / "train.jsonl"
TIMED_ACTIONS = {  # name -> JavaScript run in the page; each returns the milliseconds its action took
    "search_ms": "() => { const s = performance.now(), box = document.getElementById('search');"
    " box.value = 'hund'; box.dispatchEvent(new Event('input')); return performance.now() - s; }",
    "wrong_filter_ms": "() => { const s = performance.now(), box = document.getElementById('wrong');"
    " box.click(); return performance.now() - s; }",
    "next_page_ms": "() => { const s = performance.now(); document.getElementById('next').click();"
    " return performance.now() - s; }",
}
PAGE_TIMES = """() => {
  const navigation = performance.getEntriesByType("navigation")[0];
  return {first_render_ms: performance.getEntriesByName("report-rendered")[0].startTime,
          dom_content_loaded_ms: navigation.domContentLoadedEventEnd, load_ms: navigation.loadEventEnd};
}"""


def chromium_executable(given: str | None) -> str:
    for candidate in filter(
        None,
        (given, os.environ.get("VARIFORMER_CHROMIUM"), "/usr/lib/chromium/chromium", "chromium", "chromium-browser"),
    ):
        found = candidate if os.path.isfile(candidate) else shutil.which(candidate)
        if found:
            return found
    sys.exit("no Chromium executable: apt-get install chromium, or pass --chromium PATH")


def build_run(folder: Path, samples: int) -> Path:
    """A harness run of `samples` multi30k_de_en samples with the fake model; returns its report.html."""
    from variformer.eval_harness import FakeAdapter, evaluate

    evaluate(
        FakeAdapter(capabilities={"generate"}),
        tasks=["multi30k_de_en"],
        limit=samples,
        task_data={"multi30k_de_en": str(DATA)},
        output_dir=folder,
        cache_dir=None,
        bootstrap_iters=100,
        progress=False,
    )
    return folder / "report.html"


def measure(page_path: Path, executable: str, loads: int) -> tuple[dict, str]:
    """Per-load timings of opening `page_path` (a fresh browser context each time) and the browser version."""
    from playwright.sync_api import sync_playwright

    runs: dict[str, list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        for _ in range(loads):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(page_path.resolve().as_uri())
            page.wait_for_selector("body[data-ready]", state="attached")
            times = page.evaluate(PAGE_TIMES)
            times.update({name: page.evaluate(code) for name, code in TIMED_ACTIONS.items()})
            for name, value in times.items():
                runs.setdefault(name, []).append(round(value, 1))
            context.close()
        version = browser.version
        browser.close()
    return runs, version


def sample_data_bytes(page_path: Path) -> int:
    text = page_path.read_text(encoding="utf-8")
    start = text.index('<script type="application/json" id="report-data">')
    return len(text[start : text.index("</script>", start)].encode("utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--loads", type=int, default=7, help="page loads to time (a fresh context each)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "html-report" / "metrics.json")
    parser.add_argument("--chromium", help="Chromium executable (default: Debian's chromium)")
    args = parser.parse_args()
    executable = chromium_executable(args.chromium)
    with tempfile.TemporaryDirectory(prefix="html-report-load-") as workdir:
        started = time.perf_counter()
        page_path = build_run(Path(workdir) / "run", args.samples)
        build_s = time.perf_counter() - started
        runs, version = measure(page_path, executable, args.loads)
        sizes = {"page_bytes": page_path.stat().st_size, "sample_data_bytes": sample_data_bytes(page_path)}
    from variformer.eval_harness.results import write_json

    medians = {name: round(statistics.median(values), 1) for name, values in runs.items()}
    write_json(
        args.output,
        {
            "what": f"report.html of a harness run of {args.samples} samples (multi30k_de_en, fake model) opened in "
            "headless Chromium; times in ms from navigation start, medians over the loads",
            "command": " ".join(["python scripts/html_report_load.py", *sys.argv[1:]]),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "samples": args.samples,
            "loads": args.loads,
            **sizes,
            "median": medians,
            "per_load": runs,
            "run_build_s": round(build_s, 1),
            "machine": {
                "cpus": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "platform": platform.platform(),
                "chromium": version,
                "playwright": metadata.version("playwright"),
                "python": platform.python_version(),
            },
        },
    )
    print(json.dumps({"page_bytes": sizes["page_bytes"], "median": medians}, indent=2))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
