"""Push: against a fake Hub on 127.0.0.1 (see conftest.FakeHub): one repo, one commit with every exported file,
the token only in the Authorization header; failures leave the repo as it was and say so."""

from __future__ import annotations

import json
import logging

import pytest
from huggingface_hub import constants

from variformer.cli import main
from variformer.hub_upload import CardOptions, ExportError, PushError, export_model, push_checkpoint, push_folder
from variformer.hub_upload.export import EXPORT_MARKER

from .conftest import harness_run, harness_task

RESULTS = harness_run(harness_task("multi30k", {"bleu": (12.5, 0.5, True)}, {"hub_id": "bentrevett/multi30k"}))


def _folder_bytes(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _assert_no_token(token: str, *texts: str) -> None:
    for text in texts:
        assert token not in text


@pytest.fixture(scope="module")
def exported_decoder(checkpoints, tmp_path_factory):
    return export_model(checkpoints["decoder"], tmp_path_factory.mktemp("push") / "decoder")


def test_push_creates_the_repo_and_one_commit_with_every_file(
    fake_hub, hub_token, checkpoints, tmp_path, capfd, caplog
):
    caplog.set_level(logging.DEBUG)
    results = tmp_path / "results.json"
    results.write_text(json.dumps(RESULTS))
    card = CardOptions(eval_results=results)
    result = push_checkpoint(checkpoints["encoder-decoder"], "alice/variformer-mt", card=card, private=True)

    repo = fake_hub.repos["alice/variformer-mt"]
    assert repo["private"] is True
    assert len(repo["commits"]) == 1 and repo["commits"][0]["oid"] == result.commit_oid
    assert result.commit_url.startswith(fake_hub.url)  # HF_ENDPOINT was honoured
    committed = fake_hub.files("alice/variformer-mt")
    dry = push_checkpoint(
        checkpoints["encoder-decoder"], "alice/variformer-mt", card=card, dry_run_dir=tmp_path / "dry"
    )
    exported = _folder_bytes(dry.folder)
    assert exported.pop(EXPORT_MARKER)  # the export marker stays local: hidden files are never uploaded
    assert committed == exported  # exactly the exported folder, byte for byte
    assert [path for path, _ in result.files] == sorted(committed)
    assert (
        json.loads(committed["config.json"])["auto_map"]["AutoModelForSeq2SeqLM"]
        == "heads.VariformerForConditionalGeneration"
    )
    assert "model-index" in committed["README.md"].decode()
    assert [path for method, path in fake_hub.requests if "/commit/" in path] == [
        "/api/models/alice/variformer-mt/commit/main"
    ]
    assert fake_hub.unexpected == [] and fake_hub.bad_auth == 0

    captured = capfd.readouterr()
    _assert_no_token(
        hub_token,
        captured.out,
        captured.err,
        caplog.text,
        *[data.decode("latin-1") for data in [*committed.values(), *_folder_bytes(dry.folder).values()]],
    )


@pytest.mark.parametrize("failure", ["error", "drop"])
def test_failure_mid_push_leaves_the_repo_as_it_was(
    fake_hub, hub_token, exported_decoder, tmp_path, capfd, caplog, failure
):
    caplog.set_level(logging.DEBUG)
    first = tmp_path / "first"
    first.mkdir()
    (first / "README.md").write_text("---\nlicense: mit\n---\n# first\n")
    push_folder(first, "alice/tiny", token=hub_token)
    before = fake_hub.files("alice/tiny")

    fake_hub.fail_commit = failure
    with pytest.raises(PushError) as caught:
        push_folder(exported_decoder.folder, "alice/tiny", token=hub_token)
    message = str(caught.value)
    assert "uploading to alice/tiny" in message
    if failure == "error":
        assert "HTTP 500" in message and "storage backend unavailable" in message and "No commit was made" in message
    else:
        assert "before the Hub answered" in message and "all or nothing" in message
    assert len(fake_hub.repos["alice/tiny"]["commits"]) == 1 and fake_hub.files("alice/tiny") == before
    captured = capfd.readouterr()
    _assert_no_token(hub_token, message, captured.out, captured.err, caplog.text)


def test_rejected_token_is_reported_without_the_token(fake_hub, monkeypatch, tmp_path):
    wrong = "hf_wrong_" + "x" * 24
    (tmp_path / "README.md").write_text("# x\n")
    with pytest.raises(PushError, match="HTTP 401.*token was rejected") as caught:
        push_folder(tmp_path, "alice/x", token=wrong)
    assert wrong not in str(caught.value) and "Nothing was uploaded" in str(caught.value)
    assert fake_hub.repos == {}


def test_token_from_the_login_cache_and_missing_token(fake_hub, hub_token, monkeypatch, checkpoints, tmp_path):
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    with pytest.raises(PushError, match="no Hugging Face token found: set HF_TOKEN .*hf auth login"):
        push_checkpoint(checkpoints["encoder"], "alice/enc")
    assert fake_hub.requests == []

    (tmp_path / "token").write_text(hub_token)  # what `hf auth login` stores
    result = push_checkpoint(checkpoints["encoder"], "alice/enc")
    assert result.commit_oid and fake_hub.bad_auth == 0
    assert "heads.py" in fake_hub.files("alice/enc")


@pytest.mark.parametrize("repo_id", ["no-namespace", "alice/too/deep", "alice/bad name", "alice/-bad-", ""])
def test_invalid_repo_id(fake_hub, checkpoints, repo_id):
    with pytest.raises(PushError, match="invalid repo id"):
        push_checkpoint(checkpoints["decoder"], repo_id)
    assert fake_hub.requests == []


def test_checkpoint_that_is_not_variformer(fake_hub, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ExportError, match="not a Variformer checkpoint"):
        push_checkpoint(tmp_path, "alice/bert")
    assert fake_hub.requests == []


def test_offline_mode_is_a_clear_error(hub_token, monkeypatch, tmp_path):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    (tmp_path / "README.md").write_text("# x\n")
    with pytest.raises(PushError, match="offline mode is on"):
        push_folder(tmp_path, "alice/x", token=hub_token)


def test_cli_dry_run_writes_the_folder_and_lists_the_files(checkpoints, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)  # a dry run needs no token
    out = tmp_path / "hub-folder"
    code = main(
        [
            "push",
            str(checkpoints["decoder"]),
            "alice/variformer-lm",
            "--dry-run",
            str(out),
            "--dataset",
            "some/corpus",
            "--license",
            "mit",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "Dry run" in printed and "nothing was sent" in printed
    for name in ("model.safetensors", "config.json", "heads.py", "README.md", "tokenizer.json"):
        assert name in printed and (out / name).is_file()
    readme = (out / "README.md").read_text()
    assert "license: mit" in readme and "- some/corpus" in readme


def test_cli_reports_errors(checkpoints, tmp_path, capsys):
    assert main(["push", str(checkpoints["decoder"]), "not-a-repo-id", "--dry-run", str(tmp_path / "o")]) == 1
    assert "variformer push: error: invalid repo id 'not-a-repo-id'" in capsys.readouterr().err
    assert main(["push", str(tmp_path / "nope"), "alice/x", "--dry-run", str(tmp_path / "o")]) == 1
    assert "is not a folder" in capsys.readouterr().err
