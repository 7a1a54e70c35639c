"""The package's file helpers: atomic file writes (PNG figures too), a whole folder replaced in one swap, the
writable-folder check, and the tokenizer files a checkpoint folder may hold.

Readers never see a half-written file or folder: content goes to a hidden sibling first and is renamed into place
(`os.replace`, atomic within one file system). Siblings are made with mkdir, so they get the usual permissions.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Files a tokenizer's save_pretrained may write (fast and slow tokenizers, Marian's .spm pair, chat templates).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "source.spm",
    "target.spm",
    "chat_template.jinja",
    "chat_template.json",
)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, then rename it over `path` (all or nothing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def png_bytes(figure, **savefig_options) -> bytes:
    """A matplotlib figure rendered as PNG bytes (`figure.savefig` options pass through)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", **savefig_options)
    return buffer.getvalue()


def atomic_write_png(path: str | os.PathLike, figure, **savefig_options) -> Path:
    """`figure` written to `path` as a PNG, all or nothing (`atomic_write_bytes`)."""
    return atomic_write_bytes(path, png_bytes(figure, **savefig_options))


def sibling_folder(path: Path, purpose: str) -> Path:
    """A new hidden folder `.NAME.PURPOSE-XXXXXXXX` beside `path`."""
    folder = path.parent / f".{path.name}.{purpose}-{secrets.token_hex(4)}"
    folder.mkdir()
    return folder


@contextmanager
def replacing_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new empty folder beside `path` to write into; when the block ends without error it becomes `path`.

    A previous `path` is moved aside first and removed only once the new folder is in place (put back if that
    rename fails). On error the new folder is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = sibling_folder(path, "partial")
    try:
        yield staging
        if not path.exists():
            os.replace(staging, path)
            return
        trash = sibling_folder(path, "previous")
        os.replace(path, trash / path.name)
        try:
            os.replace(staging, path)
        except BaseException:
            os.replace(trash / path.name, path)
            raise
        finally:
            shutil.rmtree(trash, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_writable_folder(path: str | os.PathLike) -> Path:
    """`path` if it is, or can be made, a folder this process can write in. Creates nothing.

    Otherwise raises NotADirectoryError ("is a file", "cannot be created because X is a file") or PermissionError
    ("is not writable: cannot create files in X (reason)"), worded to follow the path in the caller's message; both
    carry `folder` (X: the nearest existing path) and `reason`, for callers that word it their own way.
    """
    path = Path(path)
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        wording = "is a file" if existing == path else f"cannot be created because {existing} is a file"
        refusal = NotADirectoryError(wording)
        refusal.folder, refusal.reason = existing, "is a file"
        raise refusal
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        refusal = PermissionError(f"is not writable: cannot create files in {existing} ({reason})")
        refusal.folder, refusal.reason = existing, reason
        raise refusal from None
    return path


def copy_tokenizer_files(source: Path, target: Path) -> list[str]:
    """Copy the `TOKENIZER_FILES` that `source` holds into `target`; their names."""
    copied = [name for name in TOKENIZER_FILES if (source / name).is_file()]
    for name in copied:
        shutil.copy2(source / name, target / name)
    return copied


__all__ = [
    "TOKENIZER_FILES",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_writable_folder",
    "copy_tokenizer_files",
    "replacing_folder",
    "sibling_folder",
]
