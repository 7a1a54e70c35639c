"""Fixtures of the Hub-upload tests: tiny trained-looking checkpoints of each variant, and a fake Hub on loopback."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from conftest import tiny_config

# variant -> (model class, Auto class that loads it)
VARIANTS = {
    "decoder": ("VariformerForCausalLM", "AutoModelForCausalLM"),
    "encoder": ("VariformerForMaskedLM", "AutoModelForMaskedLM"),
    "encoder-decoder": ("VariformerForConditionalGeneration", "AutoModelForSeq2SeqLM"),
}
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]  # ids 0-3, matching the tiny presets' pad/bos/eos ids


def harness_task(name: str, metrics: dict, data: dict | None = None, group: str = "", num_samples: int = 50):
    """A task as `variformer eval` records it; metrics: name -> (value, stderr, higher_is_better)."""
    from variformer.eval_harness.results import MetricResult, TaskResult

    data = data or {"path": f"../shared/data/{name}.jsonl", "sha256": "00"}
    return TaskResult(
        name=name,
        version="1",
        group=group,
        scoring_mode={"name": "generation"},
        spec={"name": name, "version": "1", "data": data, "group": group},
        num_samples=num_samples,
        num_rows=1000,
        limit=None,
        samples_file=f"samples/{name}.jsonl",
        metrics={
            metric: MetricResult(value, stderr, None, None, up, "mean")
            for metric, (value, stderr, up) in metrics.items()
        },
    )


def harness_run(*tasks) -> dict:
    """The results.json content (schema 1.0) of a run of `tasks` (`harness_task`)."""
    from variformer.eval_harness.results import RunResult

    return RunResult(
        run_id="run-7",
        created_at="2026-11-22T20:00:00+00:00",
        git={"commit": "abc123", "dirty": False},
        versions={},
        environment={},
        model={},
        settings={},
        tasks={task.name: task for task in tasks},
        counts={},
        timing={},
    ).to_dict()


def _save_tokenizer(folder: Path, vocab_size: int) -> None:
    """A word-level tokenizer over "w4" ... "w{vocab_size-1}", saved with save_pretrained."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    vocab.update({f"w{index}": index for index in range(len(SPECIAL_TOKENS), vocab_size)})
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.save_pretrained(folder)


def build_checkpoint(variant: str, folder: Path, tokenizer: bool = True):
    """A tiny model of `variant` with large random weights (so greedy decoding is not degenerate), saved."""
    import variformer

    torch.manual_seed({"decoder": 1, "encoder": 2, "encoder-decoder": 3}[variant])
    model = getattr(variformer, VARIANTS[variant][0])(tiny_config(variant)).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.normal_(1.0 if name.endswith("weight") else 0.0, 0.1)
            else:
                parameter.normal_(0.0, 0.5)
    if model.can_generate():
        model.generation_config.max_new_tokens = 11  # a training-time generation default the export must keep
    model.save_pretrained(folder)
    if tokenizer:
        _save_tokenizer(folder, model.config.vocab_size)
    return model


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """variant -> checkpoint folder (weights, config, generation config, tokenizer)."""
    root = tmp_path_factory.mktemp("checkpoints")
    folders = {}
    for variant in VARIANTS:
        folders[variant] = root / variant
        build_checkpoint(variant, folders[variant])
    return folders


# ---------------------------------------------------------------------------------------------- fake Hub
class FakeHub:
    """A loopback-only HTTP server speaking the part of the Hub API huggingface_hub uses for `create_repo` and
    `create_commit`: POST /api/repos/create, /api/validate-yaml, /api/models/{id}/preupload/{rev} (every file is
    answered "regular", so no LFS transfer happens) and /api/models/{id}/commit/{rev} (ndjson, applied atomically).

    The serving loop is bounded: it stops after `max_requests` requests or `lifetime_s` seconds, or on `stop()`.
    `fail_commit` = "error" answers commits with HTTP 500; "drop" closes the connection without an answer.
    """

    def __init__(self, token: str, max_requests: int = 200, lifetime_s: float = 60.0):
        self.token = token
        self.repos: dict[str, dict] = {}  # repo id -> {"private": bool, "commits": [{"message", "files"}]}
        self.requests: list[tuple[str, str]] = []
        self.unexpected: list[str] = []
        self.bad_auth = 0
        self.fail_commit: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.timeout = 0.05
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self._serve, args=(max_requests, lifetime_s), daemon=True)
        self._thread.start()

    def _serve(self, max_requests: int, lifetime_s: float) -> None:
        deadline = time.monotonic() + lifetime_s
        try:
            while not self._stop.is_set() and time.monotonic() < deadline and len(self.requests) < max_requests:
                self.server.handle_request()
        finally:
            self.server.server_close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def files(self, repo_id: str) -> dict[str, bytes]:
        """The repo's files at its last commit."""
        files: dict[str, bytes] = {}
        for commit in self.repos[repo_id]["commits"]:
            files.update(commit["files"])
        return files

    # ------------------------------------------------------------------ endpoints
    def handle(self, method: str, path: str, headers, body: bytes) -> tuple[int, dict | None]:
        with self._lock:
            self.requests.append((method, path))
        if headers.get("Authorization") != f"Bearer {self.token}":
            self.bad_auth += 1
            return 401, {"error": "Invalid credentials in Authorization header"}
        parts = path.split("?")[0].strip("/").split("/")
        if method == "POST" and parts == ["api", "repos", "create"]:
            return self.create_repo(json.loads(body))
        if method == "POST" and parts == ["api", "validate-yaml"]:
            return 200, {"errors": [], "warnings": []}
        if method == "POST" and len(parts) == 6 and parts[:2] == ["api", "models"]:
            repo_id = f"{parts[2]}/{parts[3]}"
            if repo_id not in self.repos:
                return 404, {"error": "Repository not found"}
            if parts[4] == "preupload":
                files = json.loads(body)["files"]
                return 200, {
                    "files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
                }
            if parts[4] == "commit":
                return self.commit(repo_id, body)
        self.unexpected.append(f"{method} {path}")
        return 404, {"error": f"not implemented by the fake hub: {method} {path}"}

    def create_repo(self, payload: dict) -> tuple[int, dict]:
        repo_id = f"{payload['organization']}/{payload['name']}"
        if repo_id in self.repos:
            return 409, {"error": "You already created this model repo", "url": f"{self.url}/{repo_id}"}
        self.repos[repo_id] = {
            "private": payload.get("visibility") == "private" or payload.get("private") is True,
            "commits": [],
        }
        return 200, {"url": f"{self.url}/{repo_id}", "name": repo_id}

    def commit(self, repo_id: str, body: bytes) -> tuple[int, dict | None]:
        if self.fail_commit == "drop":
            return 0, None
        if self.fail_commit == "error":
            return 500, {"error": "Internal Error: storage backend unavailable"}
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        files = {
            line["value"]["path"]: base64.b64decode(line["value"]["content"]) for line in lines if line["key"] == "file"
        }
        if any(line["key"] not in ("header", "file") for line in lines):
            return 400, {"error": "the fake hub only takes regular files"}
        oid = secrets.token_hex(20)
        self.repos[repo_id]["commits"].append({"message": header["summary"], "files": files, "oid": oid})
        return 200, {"commitUrl": f"{self.url}/{repo_id}/commit/{oid}", "commitOid": oid, "pullRequestUrl": None}

    def _handler_class(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _dispatch(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = hub.handle(self.command, self.path, self.headers, body)
                if status == 0:  # drop the connection without an answer
                    self.close_connection = True
                    return
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = _dispatch

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

        return Handler


@pytest.fixture
def hub_token(monkeypatch) -> str:
    token = "hf_" + secrets.token_hex(16)
    monkeypatch.setenv("HF_TOKEN", token)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    return token


@pytest.fixture
def fake_hub(hub_token, monkeypatch):
    """A FakeHub reachable through HF_ENDPOINT, with huggingface_hub's offline mode lifted for the test."""
    import huggingface_hub
    from huggingface_hub import constants

    hub = FakeHub(hub_token)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    huggingface_hub.close_session()  # a fresh HTTP client that sees NO_PROXY
    yield hub
    hub.stop()
    huggingface_hub.close_session()
