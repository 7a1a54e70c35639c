"""`variformer push --eval-results RUN_DIR`: the run's report.html goes up in the same single commit as the model,
and the card links it; a results.json path keeps working (its report.html beside it comes along)."""

from __future__ import annotations

import pytest

from variformer.cli import main
from variformer.eval_harness import FakeAdapter, evaluate
from variformer.hub_upload import CardOptions, export_model, push_checkpoint
from variformer.hub_upload.model_card import EVAL_REPORT_PATH

LINK = f"]({EVAL_REPORT_PATH})"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval-run")
    evaluate(
        FakeAdapter(capabilities={"loglikelihood", "generate"}),
        tasks=["sst2"],
        limit=8,
        output_dir=folder,
        cache_dir=None,
        bootstrap_iters=10,
        progress=False,
    )
    return folder


def test_the_report_is_pushed_in_the_same_commit_and_linked(fake_hub, checkpoints, run_dir):
    push_checkpoint(checkpoints["decoder"], "alice/tiny-eval", card=CardOptions(eval_results=run_dir))
    (commit,) = fake_hub.repos["alice/tiny-eval"]["commits"]
    assert commit["files"][EVAL_REPORT_PATH] == (run_dir / "report.html").read_bytes()
    card = commit["files"]["README.md"].decode()
    assert LINK in card and "model-index" in card and "| sst2 |" in card


def test_a_results_json_path_brings_its_report_along(checkpoints, run_dir, tmp_path, capsys):
    assert (
        main(
            [
                "push",
                str(checkpoints["decoder"]),
                "alice/tiny-eval",
                "--eval-results",
                str(run_dir / "results.json"),
                "--dry-run",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    assert EVAL_REPORT_PATH in capsys.readouterr().out  # listed among the files a push would upload
    assert (tmp_path / "out" / EVAL_REPORT_PATH).read_bytes() == (run_dir / "report.html").read_bytes()
    assert LINK in (tmp_path / "out" / "README.md").read_text()


def test_no_link_without_the_page(checkpoints, run_dir, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "results.json").write_bytes((run_dir / "results.json").read_bytes())  # a run saved without report
    dry = push_checkpoint(
        checkpoints["decoder"], "alice/x", card=CardOptions(eval_results=bare), dry_run_dir=tmp_path / "out"
    )
    assert EVAL_REPORT_PATH not in dict(dry.files) and LINK not in (dry.folder / "README.md").read_text()
    exported = export_model(checkpoints["decoder"], tmp_path / "export", card=CardOptions(eval_results=run_dir))
    assert LINK not in (exported.folder / "README.md").read_text()  # export alone uploads nothing: no dead link
    assert (
        main(
            [
                "push",
                str(checkpoints["decoder"]),
                "alice/x",
                "--eval-results",
                str(tmp_path),
                "--dry-run",
                str(tmp_path / "out2"),
            ]
        )
        == 1
    )
    assert "is a folder without results.json" in capsys.readouterr().err
