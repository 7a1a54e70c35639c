"""report.html in headless Chromium, checked the way a person reads it: the metric table shows results.json's
numbers, the search box and the wrong-answer filter pick exactly the right samples, a `<script>` in a sample is
text that never runs, two runs' disagreements are the samples whose predictions differ, and the page asks the
network for nothing. The runs are real harness runs of the deterministic fake model (two seeds)."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from html_browser import browser, open_page  # noqa: F401 (fixture)

from variformer.eval_harness import FakeAdapter, evaluate
from variformer.eval_harness.html_report import FOLD_AT, write_runs_page

HOSTILE = (
    "<script>window.__pwned = 1</script></script><script>window.__pwned = 2</script>"
    '<img src=x onerror="window.__pwned = 3">'
)
HOSTILE_ID = "3"  # the sst2 row (idx 3) whose sentence carries HOSTILE, long enough to fold
LIMIT = 40


def _rows(name: str) -> list[dict]:
    text = (resources.files("variformer") / "data" / "eval" / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()[:LIMIT]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs (fake model, seeds 0 and 1) of sst2 and multi30k_de_en, one sst2 row carrying markup; their
    folders and the page comparing them."""
    root = tmp_path_factory.mktemp("html-report")
    sst2 = _rows("sst2/validation.jsonl")
    sst2[int(HOSTILE_ID)]["sentence"] = f"a review with markup {HOSTILE} " + "and a long tail " * 20
    multi30k = _rows("multi30k/test2016.jsonl")
    multi30k[0]["de"] = f"Ein Mann {HOSTILE} mit Hut"
    data = {}
    for name, rows in (("sst2", sst2), ("multi30k_de_en", multi30k)):
        data[name] = root / f"{name}.jsonl"
        data[name].write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    folders = []
    for seed in (0, 1):
        folders.append(root / f"run-{seed}")
        evaluate(
            FakeAdapter(seed=seed, capabilities={"loglikelihood", "generate"}),
            tasks=list(data),
            task_data=data,
            output_dir=folders[-1],
            cache_dir=None,
            bootstrap_iters=20,
            progress=False,
        )
    return {"folders": folders, "compare": write_runs_page(folders, root / "compare.html")}


def _samples(folder, task: str) -> list[dict]:
    lines = (folder / "samples" / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _shown_ids(page) -> list[str]:
    """The ids of every sample the browser lists, page by page."""
    ids = page.locator("#sample-table tbody td.id").all_inner_texts()
    while page.locator("#next").is_enabled():
        page.click("#next")
        ids += page.locator("#sample-table tbody td.id").all_inner_texts()
    return ids


def _choose_task(page, task: str) -> None:
    page.select_option("#task", label=task)


def test_the_metric_table_shows_the_numbers_of_results_json(browser, runs):
    folder = runs["folders"][0]
    results = json.loads((folder / "results.json").read_text())
    opened = open_page(browser, folder / "report.html")
    header = opened.page.locator("table.metrics").first.locator("th").all_inner_texts()
    value, stderr = header.index("value"), header.index("± stderr")
    seen = set()
    for row in opened.page.locator("table.metrics tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        metric = results["tasks"][cells[0]]["metrics"][cells[1]]
        tolerance = 0.005 if abs(metric["value"]) >= 10 else 0.00005
        assert float(cells[value]) == pytest.approx(metric["value"], abs=tolerance), cells
        assert float(cells[stderr]) == pytest.approx(metric["stderr"], abs=0.00005), cells
        seen.add((cells[0], cells[1]))
    assert seen == {(task, name) for task, entry in results["tasks"].items() for name in entry["metrics"]}
    assert opened.foreign_requests() == [] and opened.violations() == [] and opened.errors == []


def test_search_filters_the_sample_table(browser, runs):
    folder = runs["folders"][0]
    opened = open_page(browser, folder / "report.html")
    page = opened.page
    _choose_task(page, "sst2")
    assert page.locator("#count").inner_text().endswith(f"of {LIMIT}")
    word = "film"
    expected = [str(r["id"]) for r in _samples(folder, "sst2") if word in (r["prompt"] + str(r["id"])).lower()]
    assert 1 < len(expected) < LIMIT  # the word picks some samples, not all
    page.fill("#search", word.upper())  # case does not matter
    assert _shown_ids(page) == expected
    page.fill("#search", "no sample says this")
    assert page.locator("#sample-table tbody tr").count() == 0
    assert page.locator("#count").inner_text().startswith("No sample matches")


def test_the_wrong_answer_filter_shows_exactly_the_wrong_samples(browser, runs):
    folder = runs["folders"][0]
    page = open_page(browser, folder / "report.html").page
    _choose_task(page, "sst2")
    page.check("#wrong")
    wrong = [str(r["id"]) for r in _samples(folder, "sst2") if r["prediction"] != r["target"]]
    assert 0 < len(wrong) < LIMIT
    assert _shown_ids(page) == wrong
    assert set(page.locator("#sample-table tbody td.mark").all_inner_texts()) == {"✗"}


def test_markup_in_a_sample_is_shown_as_text_and_never_runs(browser, runs):
    folder = runs["folders"][0]
    opened = open_page(browser, folder / "report.html")
    page = opened.page
    _choose_task(page, "sst2")
    page.fill("#search", "a review with markup")
    row = page.locator("#sample-table tbody tr")
    assert row.count() == 1 and row.locator("td.id").inner_text() == HOSTILE_ID
    prompt = row.locator("td.text").first
    assert prompt.locator("details").count() == 1  # a long prompt folds ...
    text = _samples(folder, "sst2")[int(HOSTILE_ID)]["prompt"]
    head = FOLD_AT // 3  # the folded prompt shows its start and its end
    assert prompt.locator("summary .preview").inner_text() == f"{text[:head]} … {text[-(FOLD_AT - head) :]}"
    prompt.locator("summary").click()  # ... and unfolds to the whole text, markup as characters
    assert HOSTILE in prompt.locator(".full").inner_text()
    _choose_task(page, "multi30k_de_en")
    page.fill("#search", "ein mann <script>")
    assert HOSTILE in page.locator("#sample-table tbody td.text").first.inner_text()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#sample-table img, #sample-table script").count() == 0
    assert opened.errors == [] and opened.violations() == [] and opened.foreign_requests() == []


def test_sorting_by_a_score(browser, runs):
    folder = runs["folders"][0]
    page = open_page(browser, folder / "report.html").page
    _choose_task(page, "multi30k_de_en")
    page.select_option("#sort", label="sentence_bleu, highest first")
    column = page.locator("#sample-table th").all_inner_texts().index("sentence_bleu")
    shown = [float(row.locator("td").nth(column).inner_text()) for row in page.locator("#sample-table tbody tr").all()]
    best = max(r["scores"]["sentence_bleu"] for r in _samples(folder, "multi30k_de_en"))
    assert shown == sorted(shown, reverse=True) and shown[0] == pytest.approx(best, abs=0.00005)


def test_the_comparison_page_aligns_runs_and_lists_their_disagreements(browser, runs):
    first, second = runs["folders"]
    opened = open_page(browser, runs["compare"])
    page = opened.page
    header = page.locator("table.metrics").first.locator("th").all_inner_texts()
    row = page.locator('table.metrics tr[data-task="sst2"][data-metric="accuracy"] td').all_inner_texts()
    values = [
        json.loads((f / "results.json").read_text())["tasks"]["sst2"]["metrics"]["accuracy"]["value"]
        for f in (first, second)
    ]
    assert float(row[header.index("Δ B−A")]) == pytest.approx(values[1] - values[0], abs=0.00005)
    _choose_task(page, "sst2")
    page.check("#disagree")
    predictions = {r["id"]: r["prediction"] for r in _samples(second, "sst2")}
    disagree = [str(r["id"]) for r in _samples(first, "sst2") if r["prediction"] != predictions[r["id"]]]
    assert 0 < len(disagree) < LIMIT
    assert _shown_ids(page) == disagree
    assert opened.foreign_requests() == [] and opened.violations() == [] and opened.errors == []


def test_the_network_check_catches_a_page_that_fetches(browser, tmp_path):
    """The detector the tests above rely on: a page that loads a remote picture and calls fetch is caught."""
    page = tmp_path / "fetches.html"
    page.write_text(
        '<!doctype html><img src="http://127.0.0.1:9/x.png"><script>fetch("http://127.0.0.1:9/y")'
        ".catch(function () {})</script>"
    )
    opened = open_page(browser, page, ready=None)
    opened.page.wait_for_timeout(200)
    assert sorted(opened.foreign_requests()) == ["http://127.0.0.1:9/x.png", "http://127.0.0.1:9/y"]
