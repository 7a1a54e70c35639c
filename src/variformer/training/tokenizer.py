"""Tokenizers for recipes: train a byte-level BPE or a Unigram model with the `tokenizers` library, or reuse one.

A trained tokenizer is wrapped as a transformers fast tokenizer (with pad/bos/eos/unk/mask special tokens, ids
0-4 in that order, matching the Variformer presets) and saved with `save_pretrained`, so
`AutoTokenizer.from_pretrained(folder)` loads it back.

Special-token templates: seq2seq inputs and targets end with `</s>` (the decoder starts from
`decoder_start_token_id`); every other objective wraps a text as `<s> text </s>` (pairs: `<s> a </s> b </s>`),
so encoders pool on `<s>` and decoders see `</s>` between packed documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

SPECIAL_TOKENS = {
    "pad_token": "<pad>",
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "mask_token": "<mask>",
}


def train_tokenizer(
    texts: Iterable[str],
    kind: str = "bpe",
    vocab_size: int = 8000,
    min_frequency: int = 2,
    lowercase: bool = False,
    template: str = "wrap",
    model_max_length: int = 1024,
):
    """Train a tokenizer on `texts` and return it as a `PreTrainedTokenizerFast`.

    kind: "bpe" (byte-level BPE: lossless round trip, no unknown tokens) or "unigram" (SentencePiece-style
    Unigram over Metaspace pieces). template: "wrap" (`<s> text </s>`) or "eos" (`text </s>`, seq2seq).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    specials = list(SPECIAL_TOKENS.values())
    if kind == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token=None))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        # the prefix space the pre-tokenizer adds is stripped again on decode
        tokenizer.decoder = decoders.Sequence([decoders.ByteLevel(), decoders.Strip(content=" ", left=1, right=0)])
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    elif kind == "unigram":
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=specials, unk_token=SPECIAL_TOKENS["unk_token"], show_progress=False
        )
    else:
        raise ValueError(f"kind={kind!r} is not supported; choose 'bpe' or 'unigram'")
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.train_from_iterator(_non_empty(texts), trainer=trainer)
    tokenizer.post_processor = _template(tokenizer, template)
    return wrap_tokenizer(tokenizer, model_max_length=model_max_length)


def _non_empty(texts: Iterable[str]) -> Iterator[str]:
    return (text for text in texts if text)


def _template(tokenizer, template: str):
    from tokenizers import processors

    ids = {token: tokenizer.token_to_id(token) for token in ("<s>", "</s>")}
    if template == "eos":
        return processors.TemplateProcessing(
            single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", ids["</s>"])]
        )
    if template == "wrap":
        return processors.TemplateProcessing(
            single="<s> $A </s>",
            pair="<s> $A </s> $B </s>",
            special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])],
        )
    raise ValueError(f"template={template!r} is not supported; choose 'wrap' or 'eos'")


def wrap_tokenizer(tokenizer, model_max_length: int = 1024):
    """A `tokenizers.Tokenizer` as a transformers fast tokenizer with the Variformer special tokens."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        model_max_length=model_max_length,
        model_input_names=["input_ids", "attention_mask"],
        **SPECIAL_TOKENS,
    )


def load_tokenizer(path: str | Path):
    """`AutoTokenizer.from_pretrained` on a local folder (a saved tokenizer or a checkpoint beside one)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def tokenizer_template_for(objective: str) -> str:
    return "eos" if objective == "seq2seq" else "wrap"


__all__ = ["SPECIAL_TOKENS", "load_tokenizer", "tokenizer_template_for", "train_tokenizer", "wrap_tokenizer"]
