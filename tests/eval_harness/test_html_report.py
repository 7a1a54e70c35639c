"""report.html without a browser: every run writes it beside report.md; it is one file (pictures inline, no
external reference, a CSP that forbids fetching and names the one script it allows); its data is the samples
JSONL; `variformer report` rewrites the same page and puts several runs side by side; bad input is named."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from html.parser import HTMLParser

import pytest

from variformer.cli import main
from variformer.eval_harness import FakeAdapter, evaluate, read_results
from variformer.eval_harness.html_report import RunPage, is_correct, render_page
from variformer.eval_harness.report import render_plots

TASKS = ["sst2", "xsum", "truthfulqa_mc1"]


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text of each script element."""

    def __init__(self):
        super().__init__()
        self.tags, self.scripts, self._script = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = [dict(attrs), ""]

    def handle_data(self, data):
        if self._script is not None:
            self._script[1] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append(tuple(self._script))
            self._script = None


def _parse(text: str) -> _Elements:
    parser = _Elements()
    parser.feed(text)
    return parser


def _data(page: str) -> dict:
    ((attrs, text),) = [script for script in _parse(page).scripts if script[0].get("type") == "application/json"]
    assert "<" not in text and ">" not in text  # no value can close the element
    return json.loads(text)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    evaluate(
        FakeAdapter(capabilities={"loglikelihood", "generate"}),
        tasks=TASKS,
        limit=12,
        output_dir=folder,
        cache_dir=None,
        bootstrap_iters=20,
        progress=False,
    )
    return folder


def test_every_run_writes_one_self_contained_page(run):
    page = (run / "report.html").read_text(encoding="utf-8")
    elements = _parse(page)
    sources = [attrs["src"] for tag, attrs in elements.tags if "src" in attrs]
    pngs = sorted((run / "plots").glob("*.png"))
    assert len(sources) == len(pngs) and all(s.startswith("data:image/png;base64,") for s in sources)
    assert sorted(sources) == sorted(
        f"data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}" for p in pngs
    )  # the same pictures as report.md's
    assert not [tag for tag, attrs in elements.tags if "href" in attrs or tag in ("link", "iframe", "object")]
    (policy,) = [
        attrs["content"] for tag, attrs in elements.tags if attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    assert "default-src 'none'" in policy and "img-src data:" in policy
    (code,) = [text for attrs, text in elements.scripts if "type" not in attrs]
    digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
    assert re.search(r"script-src ([^;]+);", policy).group(1) == f"'sha256-{digest}'"  # only that script runs
    assert "<h2>Hallucination</h2>" in page and "Headline numbers" in page  # the group's own section


def test_the_page_data_is_the_samples_jsonl(run):
    data = _data((run / "report.html").read_text(encoding="utf-8"))
    assert [task["name"] for task in data["tasks"]] == TASKS
    for task in data["tasks"]:
        records = [json.loads(line) for line in (run / "samples" / f"{task['name']}.jsonl").read_text().splitlines()]
        (rows,) = task["runs"]
        assert [row[0] for row in rows] == [str(r["id"]) for r in records]
        assert [row[1] for row in rows] == [r["prompt"] for r in records]
        assert [row[4] for row in rows] == [is_correct(r) for r in records]
        assert [row[5] for row in rows] == [[r["scores"].get(name) for name in task["scores"]] for r in records]
    sst2 = data["tasks"][0]["runs"][0]
    assert {row[2] for row in sst2} <= {"negative", "positive"}  # labels, not indices
    mc1 = json.loads((run / "samples" / "truthfulqa_mc1.jsonl").read_text().splitlines()[0])
    assert data["tasks"][2]["runs"][0][0][2] == mc1["choices"][mc1["prediction"]].strip()  # the chosen answer


def test_variformer_report_rewrites_the_same_page(run, tmp_path, capsys):
    copy = shutil.copytree(run, tmp_path / "run")
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert "report.html" in capsys.readouterr().out
    assert (copy / "report.html").read_bytes() == (run / "report.html").read_bytes()


def test_several_runs_side_by_side(run, tmp_path):
    other = shutil.copytree(run, tmp_path / "other")
    results = json.loads((other / "results.json").read_text())
    del results["tasks"]["xsum"]  # a run without one of the tasks
    results["tasks"]["sst2"]["metrics"]["accuracy"]["value"] += 0.25
    (other / "results.json").write_text(json.dumps(results))
    assert main(["report", str(run), str(other), "--output", str(tmp_path / "both.html")]) == 0
    page = (tmp_path / "both.html").read_text(encoding="utf-8")
    row = re.search(r'<tr data-task="sst2" data-metric="accuracy">(.*?)</tr>', page).group(1)
    assert re.findall(r"<td>(.*?)</td>", row)[8] == "+0.2500"  # task, metric, 2 x (value, stderr, interval), Δ
    xsum = re.search(r'<tr data-task="xsum" data-metric="rouge1">(.*?)</tr>', page).group(1)
    assert re.findall(r"<td>(.*?)</td>", xsum)[5:9] == ["–", "–", "–", "–"]  # B has no xsum: no value, no Δ
    data = _data(page)
    assert [task["name"] for task in data["tasks"]] == TASKS and data["tasks"][1]["runs"][1] is None
    assert [run["label"] for run in data["runs"]] == ["A", "B"]


def test_fields_beyond_the_schema_are_shown_not_invented(run):
    result = read_results(run / "results.json")
    headers = lambda page: re.findall(r'<table class="metrics"><thead>(.*?)</thead>', page)  # noqa: E731
    plain = render_page([RunPage("A", result, {}, render_plots(result))])
    assert not [header for header in headers(plain) if "<th>also</th>" in header]  # no column when nothing to say
    vars(result.tasks["sst2"].metrics["accuracy"])["ece_10_bin"] = 0.0312  # as a later schema may add
    page = render_page([RunPage("A", result, {}, render_plots(result))])
    assert "<th>also</th>" in headers(page)[0] and "<td>ece_10_bin 0.0312</td>" in page


@pytest.mark.parametrize(
    "record, expected",
    [
        ({"prediction": 1, "target": 1, "scores": {"accuracy": 0.0}}, False),  # the task's own accuracy decides
        ({"prediction": 1, "target": 0, "scores": {}}, False),
        ({"prediction": 2, "target": 2, "scores": {"mc2": 0.3}}, True),
        ({"prediction": " A man. ", "target": ["a man.", "A man."], "scores": {"bleu": 3.0}}, True),
        ({"prediction": "A dog.", "target": ["A man."], "scores": {}}, False),
        ({"prediction": "A dog.", "target": {"true": ["x"]}, "scores": {}}, None),  # cannot tell: never "wrong"
    ],
)
def test_what_counts_as_a_wrong_answer(record, expected):
    assert is_correct(record) is expected


def test_report_names_what_is_wrong(run, tmp_path, capsys):
    assert main(["report", str(run), str(run)]) == 2
    assert "--output PAGE.html" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert f"{tmp_path} holds no results.json" in capsys.readouterr().err
    assert main(["report", str(run), "--output", str(tmp_path)]) == 2
    assert "is a folder; give a file path" in capsys.readouterr().err
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": "0.1"}))
    assert main(["report", str(tmp_path), "--output", str(tmp_path / "x.html")]) == 2
    assert "is not a harness results file" in capsys.readouterr().err
