"""`variformer train` refuses what it cannot do before any work starts, through the real entry point: exit status
non-zero, one message naming the key / file / line and the fix, no traceback, nothing written or deleted."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from variformer.training.recipe import RecipeError, load_recipe

from .test_recipe import minimal


def train(recipe: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "variformer.cli", "train", str(recipe), *options],
        capture_output=True,
        text=True,
        cwd=recipe.parent,
        timeout=300,
    )


def write_recipe(tmp_path: Path, shared_data: Path, **changes) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(minimal(tmp_path, shared_data, **changes)), encoding="utf-8")
    return path


def assert_refused(result: subprocess.CompletedProcess, *words: str, status: int = 2) -> None:
    assert result.returncode == status, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_check_validates_the_values_training_uses(tmp_path, shared_data):
    recipe = write_recipe(tmp_path, shared_data, training={"max_steps": 2, "per_device_train_batch_size": 0})
    result = train(recipe, "--check")
    assert_refused(result, "training.per_device_train_batch_size: 0 is out of range; it must be an integer >= 1")
    assert not (tmp_path / "out").exists()


def test_output_dir_that_is_a_file_fails_before_any_work(tmp_path, shared_data):
    recipe = write_recipe(tmp_path, shared_data)
    (tmp_path / "out").write_text("not a folder")
    result = train(recipe)
    assert_refused(result, f"output_dir: '{tmp_path / 'out'}'", "is a file, not a folder", "--output-dir")
    assert (tmp_path / "out").read_text() == "not a folder"
    result = train(recipe, "--output-dir", str(tmp_path / "out" / "run"))
    assert_refused(result, "output_dir: ", f"cannot be created because {tmp_path / 'out'} is a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "recipe.yaml"]  # no tokenizer, no run folder


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in: read-only by mode, or (as root) /sys."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o555)
        return folder
    try:
        with tempfile.TemporaryFile(dir="/sys"):
            pass
    except OSError:
        return Path("/sys")
    pytest.skip("running as root without a read-only folder to test with")


def test_read_only_output_dir_fails_before_any_work(tmp_path, shared_data):
    folder = _unwritable_folder(tmp_path)
    recipe = write_recipe(tmp_path, shared_data)
    try:
        result = train(recipe, "--output-dir", str(folder / "run"))
    finally:
        if folder.parent == tmp_path:
            folder.chmod(0o755)
    assert_refused(
        result, f"output_dir: '{folder / 'run'}'", "is not writable", f"cannot create files in {folder}", "--output-dir"
    )
    assert not (folder / "run").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "content, line, column, byte",
    [
        ("name: café\n".encode("latin-1"), 1, 10, 0xE9),  # a Latin-1 file
        (b"name: unit\n\x89PNG\r\n\x1a\n\x00\x00", 2, 1, 0x89),  # a binary file
    ],
    ids=["latin-1", "binary"],
)
def test_recipe_that_is_not_utf8_names_the_file_and_line(tmp_path, content, line, column, byte):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_bytes(content)
    result = train(recipe, "--check")
    assert_refused(
        result, f"{recipe}: not UTF-8 text: byte 0x{byte:02x} at line {line}, column {column}", "save the file as UTF-8"
    )


def test_parent_recipe_that_is_not_utf8_is_named(tmp_path):
    (tmp_path / "parent.yaml").write_bytes("name: base\ndescription: Gr\xfc\xdfe\n".encode("latin-1"))
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent.yaml\nname: child\n", encoding="utf-8")
    with pytest.raises(RecipeError, match=r"parent\.yaml: not UTF-8 text: byte 0xfc at line 2, column 16"):
        load_recipe(child)


def test_resume_without_a_complete_checkpoint_is_a_clear_error(tmp_path, shared_data):
    recipe = write_recipe(tmp_path, shared_data)
    broken = tmp_path / "out" / "checkpoint-2"
    broken.mkdir(parents=True)
    (broken / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")  # a truncated header
    result = train(recipe, "--resume")
    assert_refused(
        result,
        "variformer train: error: --resume: no complete checkpoint in",
        "checkpoint-2: no trainer_state.json",
        "left as they are",
        status=1,
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["checkpoint-2"]  # nothing trained or removed
    assert [p.name for p in broken.iterdir()] == ["model.safetensors"]
