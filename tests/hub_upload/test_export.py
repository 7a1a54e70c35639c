"""Export: the Hub folder of each variant, loaded back with `variformer` and, in a subprocess that cannot import
it, through the Auto classes with `trust_remote_code=True`: same outputs, same greedy generate()."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoTokenizer

import variformer
from variformer.hub_upload import ExportError, export_model
from variformer.hub_upload import export as export_module
from variformer.hub_upload.remote_code import PACKAGE_DIR, REMOTE_PACKAGES, flat_source

from .conftest import VARIANTS

INPUT_IDS = [[5, 17, 42, 8, 23, 61, 9], [0, 11, 13, 77, 54, 30, 12]]  # left padding (decoders generate)
ATTENTION_MASK = [[1, 1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1, 1]]
TEXT = "w10 w11 w97 w4"
SERVED = {
    "decoder": {"AutoConfig", "AutoModel", "AutoModelForCausalLM", "AutoModelForSequenceClassification"},
    "encoder": {
        "AutoConfig",
        "AutoModel",
        "AutoModelForMaskedLM",
        "AutoModelForSequenceClassification",
        "AutoModelForTokenClassification",
        "AutoModelForQuestionAnswering",
    },
    "encoder-decoder": {"AutoConfig", "AutoModel", "AutoModelForSeq2SeqLM", "AutoModelForSequenceClassification"},
}

# Runs with `python -I`: blocks every import of variformer (also through the editable install's path entry),
# proves it, then loads each exported folder through its Auto classes with trust_remote_code=True.
LOAD_WITHOUT_VARIFORMER = r"""
import importlib.abc, json, os, sys

class _BlockVariformer(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "variformer" or name.startswith("variformer."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, _BlockVariformer())
sys.path[:] = [p for p in sys.path if not os.path.isdir(os.path.join(p or os.getcwd(), "variformer"))]
try:
    import variformer
except ImportError:
    pass
else:
    raise SystemExit("variformer is importable in the isolated interpreter")

import torch
import transformers

job = json.loads(sys.argv[1])
inputs = torch.tensor(job["input_ids"])
mask = torch.tensor(job["attention_mask"])
results = {}
for variant, (folder, auto_name) in job["folders"].items():
    auto_map = json.load(open(os.path.join(folder, "config.json")))["auto_map"]
    loaded = {}
    for name in auto_map:
        if name != "AutoConfig":
            loaded[name] = type(getattr(transformers, name).from_pretrained(folder, trust_remote_code=True)).__name__
    model = getattr(transformers, auto_name).from_pretrained(folder, trust_remote_code=True).eval()
    out = {"module": type(model).__module__, "loaded": loaded}
    with torch.no_grad():
        if variant == "encoder-decoder":
            out["logits"] = model(input_ids=inputs, attention_mask=mask, decoder_input_ids=inputs[:, :4]).logits
        else:
            out["logits"] = model(input_ids=inputs, attention_mask=mask).logits
        if variant != "encoder":
            out["generated"] = model.generate(input_ids=inputs, attention_mask=mask, max_new_tokens=6,
                                              do_sample=False, num_beams=1)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    out["token_ids"] = tokenizer(job["text"])["input_ids"]
    results[variant] = out
results["variformer_imported"] = any(name.split(".")[0] == "variformer" for name in sys.modules)
torch.save(results, job["output"])
"""


@pytest.fixture(scope="module")
def exported(checkpoints, tmp_path_factory):
    root = tmp_path_factory.mktemp("exported")
    return {variant: export_model(checkpoints[variant], root / variant) for variant in VARIANTS}


def _reference(model, variant: str) -> dict:
    inputs, mask = torch.tensor(INPUT_IDS), torch.tensor(ATTENTION_MASK)
    with torch.no_grad():
        if variant == "encoder-decoder":
            logits = model(input_ids=inputs, attention_mask=mask, decoder_input_ids=inputs[:, :4]).logits
        else:
            logits = model(input_ids=inputs, attention_mask=mask).logits
        out = {"logits": logits}
        if variant != "encoder":
            out["generated"] = model.generate(
                input_ids=inputs, attention_mask=mask, max_new_tokens=6, do_sample=False, num_beams=1
            )
    return out


@pytest.fixture(scope="module")
def references(checkpoints) -> dict[str, dict]:
    """Outputs of the original checkpoints, loaded with the installed classes."""
    return {
        variant: _reference(
            getattr(variformer, VARIANTS[variant][0]).from_pretrained(checkpoints[variant]).eval(), variant
        )
        for variant in VARIANTS
    }


def _package_sources() -> dict[str, Path]:
    """Flat file name -> package source file, for the model code packages (`__init__.py` as `<package>.py`)."""
    return {
        (f"{package}.py" if path.name == "__init__.py" else path.name): path
        for package in REMOTE_PACKAGES
        for path in (PACKAGE_DIR / package).glob("*.py")
    }


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_folder_layout_and_auto_map(exported, variant):
    result = exported[variant]
    files = set(result.files)
    assert {
        "README.md",
        "config.json",
        "model.safetensors",
        "config.py",
        "heads.py",
        "models.py",
        "tokenizer.json",
        "tokenizer_config.json",
    } <= files
    assert ("generation_config.json" in files) == (variant != "encoder")
    if variant != "encoder":
        assert json.loads((result.folder / "generation_config.json").read_text())["max_new_tokens"] == 11
    assert not [name for name in files if name.endswith((".bin", ".pt", ".pth"))]
    config = json.loads((result.folder / "config.json").read_text())
    assert config["auto_map"] == result.auto_map and set(config["auto_map"]) == SERVED[variant]
    assert config["auto_map"]["AutoConfig"] == "config.VariformerConfig"
    assert config["auto_map"][VARIANTS[variant][1]] == f"heads.{VARIANTS[variant][0]}"
    assert {f"{reference.split('.')[0]}.py" for reference in config["auto_map"].values()} <= files
    assert config["architectures"] == [VARIANTS[variant][0]]
    assert not list(result.folder.parent.glob(".*partial*"))  # the staging folder was renamed away


def test_code_files_are_the_current_package_sources_and_nothing_else(exported):
    """Only our code: each .py file is a module of configuration/ or modeling/ as it reads now, with the
    cross-folder import made a same-folder one, and it imports nothing of the installed package."""
    sources = _package_sources()
    for result in exported.values():
        code = [name for name in result.files if name.endswith(".py")]
        assert set(code) <= set(sources) and {"configuration.py", "presets.py"} <= set(code)
        for name in code:
            text = (result.folder / name).read_text(encoding="utf-8")
            assert text == flat_source(sources[name].read_text(encoding="utf-8"))
            assert "from .." not in text and "import variformer" not in text and "from variformer" not in text


def test_loads_back_with_variformer_installed(exported, references):
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM

    autos = {"decoder": AutoModelForCausalLM, "encoder": AutoModelForMaskedLM, "encoder-decoder": AutoModelForSeq2SeqLM}
    for variant, auto_class in autos.items():
        loaded = auto_class.from_pretrained(exported[variant].folder).eval()
        assert type(loaded).__module__.startswith("variformer.")  # the installed classes, no remote code
        expected, actual = references[variant], _reference(loaded, variant)
        torch.testing.assert_close(actual["logits"], expected["logits"], rtol=0, atol=0)
        if "generated" in expected:
            assert torch.equal(actual["generated"], expected["generated"])
    assert isinstance(AutoConfig.from_pretrained(exported["decoder"].folder), variformer.VariformerConfig)


def test_loads_without_variformer_through_remote_code(exported, references, checkpoints, tmp_path):
    output = tmp_path / "remote_outputs.pt"
    job = {
        "folders": {variant: [str(exported[variant].folder), VARIANTS[variant][1]] for variant in VARIANTS},
        "input_ids": INPUT_IDS,
        "attention_mask": ATTENTION_MASK,
        "text": TEXT,
        "output": str(output),
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(HF_MODULES_CACHE=str(tmp_path / "modules"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-I", "-c", LOAD_WITHOUT_VARIFORMER, json.dumps(job)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    remote = torch.load(output, weights_only=False)
    assert remote["variformer_imported"] is False
    for variant in VARIANTS:
        got, expected = remote[variant], references[variant]
        assert got["module"].startswith("transformers_modules.") and got["module"].endswith(".heads")
        assert set(got["loaded"]) == SERVED[variant] - {"AutoConfig"}
        torch.testing.assert_close(got["logits"], expected["logits"], rtol=1e-6, atol=1e-6)
        if variant != "encoder":
            assert torch.equal(got["generated"], expected["generated"])
            new_tokens = expected["generated"][:, -6:]
            assert len(set(new_tokens.flatten().tolist())) > 2  # not a degenerate repetition
        tokenizer = AutoTokenizer.from_pretrained(checkpoints[variant])
        assert got["token_ids"] == tokenizer(TEXT)["input_ids"]


def test_rejects_checkpoints_that_are_not_variformer(tmp_path):
    with pytest.raises(ExportError, match="not a folder"):
        export_model(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="no config.json"):
        export_model(tmp_path / "empty", tmp_path / "out")
    gpt2 = tmp_path / "gpt2"
    gpt2.mkdir()
    (gpt2 / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 2}))
    with pytest.raises(ExportError, match="model_type='gpt2'.*variformer convert"):
        export_model(gpt2, tmp_path / "out")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(ExportError, match="LoRA adapter.*merged model"):
        export_model(adapter, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_failed_export_leaves_nothing_and_keeps_a_previous_folder(checkpoints, tmp_path, monkeypatch):
    target = tmp_path / "hub"
    export_model(checkpoints["decoder"], target)
    (target / "keep.txt").write_text("previous export")
    with pytest.raises(ExportError, match="holds an earlier export; replace it with `variformer push --overwrite`"):
        export_model(checkpoints["decoder"], target)

    def broken_card(*args, **kwargs):
        raise RuntimeError("card failed")

    monkeypatch.setattr(export_module, "build_model_card", broken_card)
    with pytest.raises(RuntimeError, match="card failed"):
        export_model(checkpoints["decoder"], target, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["hub"]  # no staging folder left behind
    assert (target / "keep.txt").read_text() == "previous export"
    monkeypatch.undo()
    result = export_model(checkpoints["decoder"], target, overwrite=True)
    assert "keep.txt" not in result.files and "model.safetensors" in result.files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hub"]
