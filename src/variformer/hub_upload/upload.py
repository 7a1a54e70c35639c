"""Push a Variformer checkpoint to the Hub: export it, create the repo, upload everything in one commit.

The files go up in a single `create_commit`: large files are first sent to the Hub's storage (invisible in the
repo), then one commit adds every file, so a failure at any point leaves the repo's history as it was.
`HfApi.upload_folder` is not used because with `hf_xet` installed (huggingface_hub >= 1) it may split a folder
into several commits.

The token comes from HF_TOKEN or the hub's login cache (`huggingface_hub.get_token()`); it is handed to `HfApi`
only, never printed, logged or written, and scrubbed from error messages. HF_ENDPOINT (read when the push starts)
selects a private hub.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, constants, get_token
from huggingface_hub.errors import HfHubHTTPError, HFValidationError
from huggingface_hub.utils import validate_repo_id

from .export import export_model
from .model_card import EVAL_REPORT_PATH, CardOptions, eval_report_file


def _client_errors() -> tuple[type[BaseException], ...]:
    """The transport errors of huggingface_hub's HTTP client (httpx in 1.x, httpx2 in 2.x): not OSErrors."""
    errors = []
    for module in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(module).HTTPError)
        except ImportError:
            continue
    return tuple(errors)


logger = logging.getLogger(__name__)
_NETWORK_ERRORS = (HfHubHTTPError, OSError, *_client_errors())


class PushError(RuntimeError):
    """The push cannot start or failed; the message says what happened to the remote repo and what to do."""


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    endpoint: str
    files: tuple[tuple[str, int], ...]  # (path in repo, size in bytes)
    folder: Path | None = None  # the exported folder of a dry run
    commit_url: str | None = None
    commit_oid: str | None = None

    @property
    def dry_run(self) -> bool:
        return self.commit_oid is None


# ---------------------------------------------------------------------------------------------- inputs
def check_repo_id(repo_id: str) -> str:
    """`repo_id` if it is a valid "namespace/name" model id, else PushError saying what is wrong."""
    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise PushError(
            f"invalid repo id {repo_id!r}: use 'namespace/name', your user or organization name, a "
            "slash and the model name (e.g. 'alice/variformer-mt-de-en')."
        )
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise PushError(f"invalid repo id {repo_id!r}: {err}") from None
    return repo_id


def hub_endpoint() -> str:
    """HF_ENDPOINT when set (a private hub), else the public Hub."""
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def find_token() -> str:
    """The token from HF_TOKEN or the hub's login cache; PushError when there is none."""
    try:
        token = get_token()
    except Exception as err:  # noqa: BLE001 - e.g. a failed OIDC exchange; its message holds no token
        raise PushError(f"could not read a Hugging Face token: {type(err).__name__}: {err}") from None
    if not token:
        raise PushError(
            "no Hugging Face token found: set HF_TOKEN to a token with write access, or run "
            "`hf auth login` once (the token is then read from the login cache)."
        )
    return token


def upload_files(folder: Path) -> tuple[tuple[str, int], ...]:
    """(path in repo, size) of every file the push uploads from `folder`, sorted; hidden entries are skipped."""
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            files.append((relative.as_posix(), path.stat().st_size))
    return tuple(files)


# ---------------------------------------------------------------------------------------------- push
def push_folder(
    folder: Path,
    repo_id: str,
    *,
    token: str,
    endpoint: str | None = None,
    private: bool = False,
    commit_message: str = "Upload Variformer model",
) -> PushResult:
    """create_repo (kept if it exists) and one commit holding every file of `folder`."""
    endpoint = endpoint or hub_endpoint()
    _require_online()
    files = upload_files(folder)
    if not files:
        raise PushError(f"{folder} holds no file to upload.")
    api = HfApi(endpoint=endpoint, token=token, library_name="variformer")
    logger.info("creating (or reusing) model repo %s on %s", repo_id, endpoint)
    _call(
        token,
        f"creating the repo {repo_id} on {endpoint}",
        api.create_repo,
        refused="Nothing was uploaded.",
        unanswered="Nothing was uploaded; the repo may or may not have been created.",
        repo_id=repo_id,
        repo_type="model",
        private=private,
        exist_ok=True,
    )
    operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(folder / path)) for path, _ in files]
    logger.info("uploading %d files to %s in one commit", len(files), repo_id)
    commit = _call(
        token,
        f"uploading to {repo_id} on {endpoint}",
        api.create_commit,
        refused="No commit was made: the repo's files and history are as they were (a repo created by "
        "this push stays empty). Running the push again is safe.",
        unanswered="The connection failed before the Hub answered, so the commit may or may not have "
        "been made; a commit is all or nothing, so the repo holds every file of this push or none of "
        "them. Check its history, then push again if needed.",
        repo_id=repo_id,
        repo_type="model",
        operations=operations,
        commit_message=commit_message,
    )
    return PushResult(
        repo_id=repo_id, endpoint=endpoint, files=files, commit_url=commit.commit_url, commit_oid=commit.oid
    )


def _require_online() -> None:
    if constants.is_offline_mode():
        raise PushError(
            "offline mode is on (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE); unset it to push, or use "
            "--dry-run to only write the folder."
        )


def _call(token: str, step: str, function, *, refused: str, unanswered: str, **kwargs):
    """`function(**kwargs)`, with Hub and network failures turned into a PushError free of the token.

    `refused` says what happened to the repo when the Hub answered with an error, `unanswered` when no answer came.
    """
    try:
        return function(**kwargs)
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else None
        detail = err.server_message or str(err).strip().splitlines()[0]
        hint = {
            401: " The token was rejected: check HF_TOKEN or run `hf auth login`.",
            403: " The token may not write to this namespace, or the repo is gated/disabled.",
        }.get(status, "")
        message = f"{step} failed: HTTP {status}: {detail}.{hint} {refused}"
    except ValueError as err:  # e.g. README metadata refused by the Hub's validation
        message = f"{step} failed: {err} {refused}"
    except _NETWORK_ERRORS as err:
        message = f"{step} failed: {type(err).__name__}: {err}. {unanswered}"
    raise PushError(_scrub(message, token))


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "<token>") if token else text


def push_checkpoint(
    checkpoint: str | os.PathLike,
    repo_id: str,
    *,
    card: CardOptions | None = None,
    private: bool = False,
    dry_run_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    commit_message: str | None = None,
) -> PushResult:
    """Export `checkpoint` (see `export.export_model`) and push it to `repo_id`, or with `dry_run_dir` only write
    the folder there and report what would be uploaded. When `card.eval_results` is a run folder (or its
    results.json) with a report.html, that page goes up in the same commit and the card links it."""
    check_repo_id(repo_id)
    card = card or CardOptions()
    report = eval_report_file(card.eval_results) if card.eval_results is not None else None
    card = replace(card, repo_id=card.repo_id or repo_id, eval_report=report)
    if dry_run_dir is not None:
        exported = export_model(checkpoint, dry_run_dir, card=card, overwrite=overwrite)
        _add_eval_report(exported.folder, report)
        return PushResult(
            repo_id=repo_id, endpoint=hub_endpoint(), files=upload_files(exported.folder), folder=exported.folder
        )
    token = find_token()
    _require_online()
    with tempfile.TemporaryDirectory(prefix="variformer-push-") as workdir:
        exported = export_model(checkpoint, Path(workdir) / "export", card=card)
        _add_eval_report(exported.folder, report)
        message = commit_message or f"Upload {exported.model_class} (variformer export)"
        return push_folder(exported.folder, repo_id, token=token, private=private, commit_message=message)


def _add_eval_report(folder: Path, report: Path | None) -> None:
    """Put the run's report.html into the exported folder at EVAL_REPORT_PATH (the card links it there)."""
    if report is not None:
        target = folder / EVAL_REPORT_PATH
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report, target)


__all__ = [
    "PushError",
    "PushResult",
    "check_repo_id",
    "find_token",
    "hub_endpoint",
    "push_checkpoint",
    "push_folder",
    "upload_files",
]
