"""`variformer inspect`'s index.html in headless Chromium: moved away from its PNGs it still shows every picture,
and it asks the network for nothing (the report.html conventions, `variformer._html`)."""

from __future__ import annotations

import shutil

from html_browser import browser, open_page  # noqa: F401 (fixture)
from inspect_helpers import TARGET, TEXT, build_model, tokenizer  # noqa: F401 (fixture)

from variformer.inspect import inspect_model


def test_the_inspect_page_is_one_file(browser, tokenizer, tmp_path):
    model = build_model("encdec-sinusoidal-postln", len(tokenizer), num_hidden_layers=1, decoder_layers=1)
    report = inspect_model(model, tokenizer, TEXT, tmp_path / "inspect", target=TARGET)
    alone = tmp_path / "alone"
    alone.mkdir()
    page_path = shutil.copy(report.html_path, alone / "index.html")  # without the PNGs beside it
    opened = open_page(browser, page_path, ready=None)
    images = opened.page.locator("img")
    assert images.count() == len(list(report.output_dir.glob("*.png")))
    widths = images.evaluate_all("images => images.map(image => image.complete ? image.naturalWidth : 0)")
    assert min(widths) > 0  # every picture decoded from the page itself
    assert opened.foreign_requests() == [] and opened.violations() == [] and opened.errors == []
