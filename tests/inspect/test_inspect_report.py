"""Every picture of every variant is written as a valid PNG, with the Markdown/HTML page; the CLI end to end."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from inspect_helpers import (  # noqa: F401 (fixtures)
    LONG_TEXT,
    SCHEMES,
    TARGET,
    TEXT,
    VARIANTS,
    build_model,
    tokenizer,
    tokenizer_dir,
)
from PIL import Image

from variformer.cli import main
from variformer.inspect import inspect_model
from variformer.inspect import report as report_module

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_valid_png(path: Path) -> None:
    assert path.is_file() and path.read_bytes()[:8] == PNG_MAGIC, path
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        width, height = image.size
    assert 200 <= width <= 4000 and 150 <= height <= 4000, (path.name, width, height)


def one_layer(name: str, vocab_size: int):
    """The variant with one layer per stack: every kind of picture, fewer copies of it (keeps the suite fast)."""
    extra = {"decoder_layers": 1} if VARIANTS[name][0] == "tiny-encoder-decoder" else {}
    return build_model(name, vocab_size, num_hidden_layers=1, **extra)


def expected_names(model, report) -> set[str]:
    config = model.config
    kinds = (
        {"encoder": config.num_hidden_layers, "decoder": config.decoder_layers, "cross": config.decoder_layers}
        if config.is_encoder_decoder
        else {"self": config.num_hidden_layers}
    )
    names = {f"attention_{kind}_overview.png" for kind in kinds}
    names |= {f"attention_{kind}_layer{layer:02d}.png" for kind, layers in kinds.items() for layer in range(layers)}
    names |= {f"{picture.name}.png" for picture in report.positions.pictures}
    return names | {"architecture.png", "parameters.png"}


def check_written(name: str, model, report, folder: Path) -> None:
    """All pictures of `report` exist as valid PNGs, and both pages show them, the table and the formula."""
    written = {path.name for path in folder.glob("*.png") if "_head" not in path.name}
    assert written == expected_names(model, report)
    for path in folder.glob("*.png"):
        assert_valid_png(path)
    positions = {"rotary": 1, "learned": 1, "sinusoidal": 1, "relative_bias": 4, "none": 0}[SCHEMES[name]]
    assert len(report.positions.pictures) == positions
    markdown = (folder / "report.md").read_text()
    page = (folder / "index.html").read_text()
    for png in written:  # the page holds every picture itself (a data: URI), so it opens on its own
        assert f"({png})" in markdown and base64.b64encode((folder / png).read_bytes()).decode() in page
    assert re.findall(r'src="([^"]{0,22})', page) == ["data:image/png;base64,"] * len(written)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert f"{model.num_parameters():,}" in markdown and f"{model.num_parameters():,}" in page
    assert "4 * n_heads * d_head * T_k" in markdown and "4 * n_heads * d_head * T_k" in page
    assert report.positions.scheme in markdown
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")


# encdec-relative-bias is rendered end to end through the CLI below
@pytest.mark.parametrize("name", [name for name in VARIANTS if name != "encdec-relative-bias"])
def test_every_picture_is_written(name, tokenizer, tmp_path):
    model = one_layer(name, len(tokenizer))
    report = inspect_model(model, tokenizer, TEXT, tmp_path, target=TARGET)
    check_written(name, model, report, tmp_path)


def _save_checkpoint(model, tokenizer, folder: Path) -> Path:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_cli_end_to_end_encoder_decoder(tokenizer, tmp_path, capsys, monkeypatch):
    model = one_layer("encdec-relative-bias", len(tokenizer))
    checkpoint = _save_checkpoint(model, tokenizer, tmp_path / "ckpt")
    output = tmp_path / "inspect"
    reports = []
    monkeypatch.setattr(
        report_module,
        "inspect_model",
        lambda *args, **kwargs: reports.append(inspect_model(*args, **kwargs)) or reports[-1],
    )
    code = main(["inspect", str(checkpoint), "--text", TEXT, "--target", TARGET, "--output", str(output)])
    assert code == 0
    assert "index.html" in capsys.readouterr().out
    check_written("encdec-relative-bias", model, reports[0], output)
    assert set(reports[0].attention.maps) == {"encoder", "decoder", "cross"}
    assert "cross-attention (target → source)" in (output / "index.html").read_text()


def test_cli_long_text_gets_a_visible_truncation_note(tokenizer, tmp_path, capsys):
    checkpoint = _save_checkpoint(one_layer("decoder-rotary-gqa", len(tokenizer)), tokenizer, tmp_path / "ckpt")
    output = tmp_path / "inspect"
    code = main(["inspect", str(checkpoint), "--text", LONG_TEXT, "--output", str(output), "--max-tokens", "24"])
    assert code == 0
    assert "Truncated" in capsys.readouterr().out
    assert "Truncated: the text has" in (output / "index.html").read_text()
    assert "Truncated" in (output / "report.md").read_text()
    assert_valid_png(output / "attention_self_layer00.png")


def test_cli_stock_transformers_checkpoint(tokenizer, tmp_path):
    from transformers import BertConfig, BertForMaskedLM

    model = BertForMaskedLM(
        BertConfig(
            vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20
        )
    )
    checkpoint = _save_checkpoint(model, tokenizer, tmp_path / "bert")
    output = tmp_path / "inspect"
    assert main(["inspect", str(checkpoint), "--text", TEXT, "--output", str(output)]) == 0
    assert_valid_png(output / "attention_self_layer00.png")
    assert_valid_png(output / "positions_learned.png")
    assert "post-LN" in (output / "report.md").read_text()


def test_cli_without_tokenizer_explains_and_per_head(tokenizer, tmp_path, capsys):
    checkpoint = tmp_path / "ckpt"
    model = build_model("decoder-none-mqa", len(tokenizer), num_hidden_layers=1, num_attention_heads=2)
    model.save_pretrained(checkpoint)
    output = tmp_path / "out"
    assert main(["inspect", str(checkpoint), "--text", TEXT, "--output", str(output)]) == 1
    assert "--tokenizer" in capsys.readouterr().err
    code = main(
        [
            "inspect",
            str(checkpoint),
            "--text",
            TEXT,
            "--output",
            str(output),
            "--per-head",
            "--tokenizer",
            str(tokenizer_dir()),
        ]
    )
    assert code == 0
    heads = sorted(path.name for path in output.glob("attention_self_layer*_head*.png"))
    assert heads == ["attention_self_layer00_head00.png", "attention_self_layer00_head01.png"]
    assert_valid_png(output / heads[1])
