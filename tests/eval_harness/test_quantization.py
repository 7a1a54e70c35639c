"""Quantized runs beside full precision (issue 14 section 6): CPU int8 through torchao on any transformers model
(stock GPT-2, a BERT classifier, Variformer), the model passed in left as it was, sizes counted as stored, scores close
to full precision, and `compare_precision` / `--compare-precision` writing one table with the paired intervals."""

from __future__ import annotations

import json

import pytest
import torch

from variformer.eval_harness import compare_precision, evaluate, get_task
from variformer.eval_harness.adapters import load_adapter
from variformer.eval_harness.errors import SettingError
from variformer.eval_harness.quantization import check_quantize, model_size_bytes, quantized_copy

from . import tiny_models

pytest.importorskip("torchao", reason="CPU int8 evaluation uses torchao (pip install torchao)")


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_models.tiny_tokenizer()


def _sst2(shared_data):
    return get_task("sst2").with_data(shared_data / "sst2" / "validation.jsonl")


def test_int8_copy_leaves_the_model_alone_and_stores_linear_weights_in_a_quarter(tokenizer):
    model = tiny_models.variformer("decoder", tokenizer)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    quantized = quantized_copy(model, "int8")
    for name, tensor in model.state_dict().items():
        assert type(tensor) is torch.Tensor and torch.equal(tensor, before[name]), name
    tied = model.get_input_embeddings().weight
    assert model.lm_head.weight is tied and quantized.lm_head.weight is quantized.get_input_embeddings().weight
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.weight is not tied]
    linear_bytes = sum(m.weight.numel() * 4 for m in linear)
    full, small = model_size_bytes(model), model_size_bytes(quantized)
    assert full == sum(t.numel() * t.element_size() for t in {id(p): p for p in model.parameters()}.values()) + sum(
        b.numel() * b.element_size() for b in model.buffers()
    )
    # int8 weights are a quarter of fp32 ones; the per-row scales add a little
    saved = full - small
    assert 0.6 * linear_bytes < saved < 0.75 * linear_bytes + 1, (full, small, linear_bytes)


@pytest.mark.parametrize("build", ["gpt2", "bert_classifier", "variformer_decoder", "t5"])
def test_any_transformers_model_scores_close_to_full_precision(build, tokenizer, shared_data):
    builders = {
        "gpt2": tiny_models.gpt2,
        "bert_classifier": tiny_models.bert_classifier,
        "variformer_decoder": lambda t: tiny_models.variformer("decoder", t),
        "t5": tiny_models.t5,
    }
    model = builders[build](tokenizer)
    options = dict(limit=24, bootstrap_iters=0, progress=False, robustness="none", report=False, cache_dir=None)
    full = evaluate(model, tokenizer, [_sst2(shared_data)], **options)
    quantized = evaluate(model, tokenizer, [_sst2(shared_data)], quantize="int8", **options)
    assert quantized.model["quantization"].startswith("int8: torchao") and full.model["quantization"] is None
    assert quantized.model["fingerprint"] != full.model["fingerprint"]  # never served from the other's cache
    assert quantized.model["size_bytes"] < full.model["size_bytes"]
    pairs = list(zip(full.samples["sst2"], quantized.samples["sst2"], strict=True))
    assert len(pairs) == 24
    for a, b in pairs:  # the choice probabilities (label log-likelihoods or the classifier softmax) stay close
        assert b.probabilities == pytest.approx(a.probabilities, abs=0.05), build


def test_quantize_settings_are_checked():
    assert check_quantize("none", "cpu") is None and check_quantize(None, "cpu") is None
    with pytest.raises(SettingError, match="int4 .*needs a CUDA GPU and bitsandbytes; on CPU use --quantize int8"):
        check_quantize("int4", "cpu")
    with pytest.raises(SettingError, match="must be one of none, int8, int4, got 'fp8'"):
        check_quantize("fp8", "cpu")


def test_compare_precision_writes_both_runs_and_one_table(tokenizer, shared_data, tmp_path):
    model = tiny_models.gpt2(tokenizer)
    result = compare_precision(
        model,
        tokenizer,
        [_sst2(shared_data)],
        output_dir=tmp_path,
        limit=30,
        bootstrap_iters=100,
        progress=False,
        robustness="none",
    )
    table = json.loads((result.folder / "precision.json").read_text())
    assert table["full"]["size_bytes"] > table["quantized"]["size_bytes"] > 0
    assert table["full"]["time_s"] > 0 and table["quantized"]["quantization"].startswith("int8")
    rows = {(row["task"], row["metric"]): row for row in table["metrics"]}
    accuracy = rows[("sst2", "accuracy")]
    assert accuracy["full"] == pytest.approx(result.full.tasks["sst2"].metrics["accuracy"].value)
    assert accuracy["quantized"] == pytest.approx(result.quantized.tasks["sst2"].metrics["accuracy"].value)
    assert accuracy["difference"] == pytest.approx(accuracy["quantized"] - accuracy["full"])
    assert accuracy["ci_low"] <= accuracy["difference"] <= accuracy["ci_high"] and accuracy["num_shared"] == 30
    markdown = (result.folder / "precision.md").read_text()
    assert "| model size |" in markdown and "| sst2 | accuracy |" in markdown
    assert (result.folder / "comparison.json").is_file()
    assert {p.name for p in tmp_path.iterdir()} == {result.full.run_id, result.quantized.run_id, result.folder.name}


def test_cli_compare_precision(tokenizer, shared_data, tmp_path, capsys):
    from variformer.cli import main

    folder = tmp_path / "model"
    tiny_models.gpt2(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    data = shared_data / "sst2" / "validation.jsonl"
    args = ["eval", "--model", str(folder), "--tasks", "sst2", "--task-data", f"sst2={data}", "--limit", "12"]
    args += ["--output", str(tmp_path / "runs"), "--no-progress", "--robustness", "none", "--device", "cpu"]
    assert main([*args, "--compare-precision"]) == 0
    (table,) = (tmp_path / "runs").glob("precision_*/precision.md")
    assert "| sst2 | accuracy |" in table.read_text() and "precision:" in capsys.readouterr().out
    assert main(["eval", "--architecture", "fake", "--model", "m", "--tasks", "sst2", "--quantize", "int8"]) == 2


def test_a_model_adapter_is_not_quantized():
    from variformer.eval_harness import FakeAdapter

    with pytest.raises(SettingError, match="quantize applies to transformers models"):
        load_adapter(FakeAdapter(), quantize="int8")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="bitsandbytes 8-bit / 4-bit NF4 evaluation needs CUDA")
@pytest.mark.parametrize("quantize", ["int8", "int4"])
def test_bitsandbytes_on_cuda(quantize, tokenizer, shared_data, tmp_path):
    pytest.importorskip("bitsandbytes", reason="CUDA quantization uses bitsandbytes (pip install bitsandbytes)")
    folder = tmp_path / "model"
    tiny_models.gpt2(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    result = evaluate(
        str(folder),
        tasks=[_sst2(shared_data)],
        limit=8,
        quantize=quantize,
        device="cuda",
        progress=False,
        robustness="none",
        cache_dir=None,
    )
    assert result.model["quantization"].startswith(f"{quantize}: bitsandbytes")
