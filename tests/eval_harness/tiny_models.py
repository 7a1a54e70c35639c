"""Tiny models for the harness tests: a BPE tokenizer trained on the shipped evaluation slices, stock transformers
models from tiny configs (GPT-2, BERT classifier, T5) and Variformer models from the tiny presets."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import torch

LABELS = {0: "negative", 1: "positive"}
MAX_POSITIONS = 128


def _texts() -> list[str]:
    folder = resources.files("variformer") / "data" / "eval"
    texts = []
    for name, fields in (
        ("sst2/validation.jsonl", ("sentence",)),
        ("multi30k/test2016.jsonl", ("de", "en")),
        ("xsum/test.jsonl", ("summary",)),
    ):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts += [row[field] for field in fields]
    return texts + ["Question: Is this sentence positive or negative?\nAnswer: positive negative"]


@cache
def tiny_tokenizer():
    """Byte-level BPE, 400 tokens; <pad>=0, <s>=1, </s>=2, <unk>=3; special tokens append </s> (like T5)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_texts(), trainer=trainer)
    bpe.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 2)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=MAX_POSITIONS,
    )


def _ids(tokenizer) -> dict:
    return dict(vocab_size=len(tokenizer), pad_token_id=0, bos_token_id=1, eos_token_id=2)


def gpt2(tokenizer, seed: int = 0, positions: int = MAX_POSITIONS):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(n_positions=positions, n_embd=32, n_layer=2, n_head=4, **_ids(tokenizer))
    return GPT2LMHeadModel(config).eval()


def bert_classifier(tokenizer, seed: int = 0):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=MAX_POSITIONS,
        num_labels=2,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
        **_ids(tokenizer),
    )
    return BertForSequenceClassification(config).eval()


def t5(tokenizer, seed: int = 0):
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    config = T5Config(
        d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, decoder_start_token_id=0, **_ids(tokenizer)
    )
    return T5ForConditionalGeneration(config).eval()


def variformer(architecture: str, tokenizer, seed: int = 0, classifier: bool = False):
    from variformer import (
        VariformerConfig,
        VariformerForCausalLM,
        VariformerForConditionalGeneration,
        VariformerForSequenceClassification,
    )

    preset = {"encoder": "tiny-encoder", "decoder": "tiny-decoder", "encoder-decoder": "tiny-encoder-decoder"}
    extra = dict(num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}) if classifier else {}
    if architecture == "encoder-decoder":
        extra["decoder_start_token_id"] = 1
    config = VariformerConfig.from_preset(
        preset[architecture], max_position_embeddings=MAX_POSITIONS, **_ids(tokenizer), **extra
    )
    torch.manual_seed(seed)
    if classifier:
        return VariformerForSequenceClassification(config).eval()
    model_class = VariformerForCausalLM if architecture == "decoder" else VariformerForConditionalGeneration
    return model_class(config).eval()
