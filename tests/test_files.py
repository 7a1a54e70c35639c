"""The shared file helpers: atomic writes and folder replacement leave either the old or the new content, never a
mix or a leftover; the writable-folder check names what is wrong."""

from __future__ import annotations

import os

import pytest

from variformer import _files
from variformer._files import atomic_write_text, check_writable_folder, copy_tokenizer_files, replacing_folder


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    target = tmp_path / "deep" / "result.json"
    atomic_write_text(target, "first\n")
    assert target.read_text() == "first\n"

    def broken_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(_files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "second\n")
    assert target.read_text() == "first\n" and os.listdir(target.parent) == ["result.json"]


def test_replacing_folder_swaps_in_the_new_folder_and_keeps_the_old_one_on_error(tmp_path):
    target = tmp_path / "export"
    with replacing_folder(target) as staging:
        (staging / "a.txt").write_text("one")
    assert os.listdir(target) == ["a.txt"]
    with pytest.raises(RuntimeError, match="failed"):
        with replacing_folder(target) as staging:
            (staging / "b.txt").write_text("two")
            raise RuntimeError("failed")
    assert os.listdir(target) == ["a.txt"] and os.listdir(tmp_path) == ["export"]
    with replacing_folder(target) as staging:
        (staging / "b.txt").write_text("two")
    assert os.listdir(target) == ["b.txt"] and os.listdir(tmp_path) == ["export"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o777 & ~_umask())  # mkdir's usual permissions


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_check_writable_folder_names_the_problem(tmp_path):
    assert check_writable_folder(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="^is a file$"):
        check_writable_folder(tmp_path / "file")
    with pytest.raises(NotADirectoryError, match=f"^cannot be created because {tmp_path / 'file'} is a file$"):
        check_writable_folder(tmp_path / "file" / "run")
    assert not (tmp_path / "new").exists()


def test_copy_tokenizer_files_copies_only_tokenizer_files(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    for name in ("tokenizer.json", "source.spm", "model.safetensors", "config.json"):
        (source / name).write_text(name)
    assert copy_tokenizer_files(source, target) == ["tokenizer.json", "source.spm"]
    assert sorted(os.listdir(target)) == ["source.spm", "tokenizer.json"]


def test_save_png_writes_a_png_or_leaves_the_old_file(tmp_path):
    """inspect's `save_png` (through `_files.atomic_write_png`) writes a whole PNG, and a figure that fails to
    render leaves the previous file as it was, with no temporary file beside it."""
    from variformer.inspect.plotting import new_figure, save_png

    figure = new_figure(2, 2)
    figure.add_subplot().plot([0, 1], [1, 0])
    path = save_png(figure, tmp_path / "plots" / "line.png")
    written = path.read_bytes()
    assert written.startswith(b"\x89PNG\r\n\x1a\n")

    class Broken:
        def savefig(self, *args, **kwargs):
            raise RuntimeError("render failed")

    with pytest.raises(RuntimeError, match="render failed"):
        save_png(Broken(), path)
    assert path.read_bytes() == written
    assert sorted(p.name for p in path.parent.iterdir()) == ["line.png"]
