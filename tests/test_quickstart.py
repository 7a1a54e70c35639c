"""`variformer quickstart`, the README's main job, end to end with a handful of steps."""

from __future__ import annotations

import json

from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from variformer.cli import main


def test_quickstart_trains_saves_reloads_and_evaluates_every_variant(tmp_path):
    assert main(["quickstart", "--output", str(tmp_path), "--steps", "3", "--eval-limit", "2"]) == 0

    summary = json.loads((tmp_path / "quickstart.json").read_text())
    assert set(summary) == {"decoder", "encoder", "encoder-decoder", "evaluation"}
    for variant in ("decoder", "encoder", "encoder-decoder"):
        assert summary[variant]["parameters"] > 0 and summary[variant]["demo"]
        assert (tmp_path / variant / "model.safetensors").is_file()
    evaluation = summary["evaluation"]
    assert set(evaluation["encoder"]) == {"sst2"}
    assert {"sst2", "multi30k_de_en", "xsum", "truthfulqa_mc2", "summary_faithfulness"} <= set(
        evaluation["encoder-decoder"]
    )
    assert 0.0 <= evaluation["decoder"]["truthfulqa_mc2"]["mc2"]["value"] <= 1.0
    table = (tmp_path / "eval" / "summary.md").read_text()
    assert table.startswith("# Quickstart evaluation")
    # calibration, robustness and prompt spread for the models, in the summary and in each model's report
    row = next(line for line in table.splitlines() if line.startswith("| decoder | sst2 | multiple_choice | accuracy"))
    worst, spread, ece = row.split("|")[7:10]
    assert float(worst) >= 0 and "over 4 formats" in spread and float(ece) >= 0
    for variant in ("decoder", "encoder-decoder"):
        report = (tmp_path / "eval" / variant / "report.md").read_text()
        assert "## Calibration" in report and "## Robustness" in report and "## Prompt and few-shot spread" in report

    # what was saved is a plain transformers checkpoint with its tokenizer
    model = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "encoder-decoder")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "encoder-decoder")
    output = model.generate(**tokenizer(["Ein Hund."], return_tensors="pt"), max_new_tokens=3)
    assert output.shape[0] == 1
