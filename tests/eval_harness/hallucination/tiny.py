"""Tiny models and a tokenizer built offline, plus a one-request-at-a-time log-likelihood written from the formula.

`reference_loglikelihood` is independent of the harness on purpose: it follows lm-evaluation-harness's documented
HF conventions (trailing context whitespace moves into the continuation; decoder-only: encode context + continuation
together and take the tokens after the context's; encoder-decoder: context to the encoder, continuation to the
decoder, encoded alone without special tokens) and scores one request per forward pass, without padding.
"""

from __future__ import annotations

import json
from importlib import resources

import torch

from variformer.eval_harness.hallucination.prompts import TRUTHFULQA_QA_PRIMER, halueval_instruction


def _corpus() -> list[str]:
    texts = [TRUTHFULQA_QA_PRIMER] + [halueval_instruction(task) for task in ("qa", "dialogue", "summarization")]
    folder = resources.files("variformer") / "data" / "hallucination"
    for line in (folder / "truthfulqa_mc.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts += [row["question"], *row["mc2_targets"]["choices"]]
    for line in (folder / "halueval_qa.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts += [row["question"], row["right_answer"], row["hallucinated_answer"]]
    return texts


def tiny_tokenizer(vocab_size: int = 1200):
    """A byte-level BPE (GPT-2 style, no special tokens added on encode) trained on the shipped probe slices."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, pad_token="<pad>", bos_token="<s>", eos_token="</s>", model_max_length=1024
    )


def tiny_llama_tokenizer(vocab_size: int = 1200):
    """The same BPE with a Llama-style post-processor: every encode with special tokens starts with BOS (<s>)."""
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer.from_str(tiny_tokenizer(vocab_size).backend_tokenizer.to_str())  # a copy: the original stays
    bos = bpe.token_to_id("<s>")
    bpe.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, pad_token="<pad>", bos_token="<s>", eos_token="</s>", model_max_length=1024
    )


def tiny_llama(tokenizer, seed: int = 0):
    """A stock LlamaForCausalLM from a random tiny config (2 layers, hidden 32, RoPE, SwiGLU)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config).eval()


def tiny_gpt2(tokenizer, seed: int = 0):
    """A stock GPT2LMHeadModel from a random tiny config (2 layers, hidden 32)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=1024,
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return GPT2LMHeadModel(config).eval()


def tiny_variformer(architecture: str, tokenizer, seed: int = 0, **overrides):
    """A tiny Variformer decoder or encoder-decoder (the test presets) sized to `tokenizer`."""
    from variformer import VariformerConfig, VariformerForCausalLM, VariformerForConditionalGeneration

    preset = {"decoder": "tiny-decoder", "encoder-decoder": "tiny-encoder-decoder"}[architecture]
    config = VariformerConfig.from_preset(
        preset,
        vocab_size=len(tokenizer),
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **overrides,
    )
    torch.manual_seed(seed)
    model_class = VariformerForCausalLM if architecture == "decoder" else VariformerForConditionalGeneration
    return model_class(config).eval()


@torch.no_grad()
def reference_loglikelihood(model, tokenizer, context: str, continuation: str) -> float:
    """Summed log-probability of `continuation` after `context`, one request, one forward pass."""
    stripped = context.rstrip()
    continuation = context[len(stripped) :] + continuation
    context = stripped
    if model.config.is_encoder_decoder:
        context_ids = tokenizer(context)["input_ids"]
        continuation_ids = tokenizer(continuation, add_special_tokens=False)["input_ids"]
        logits = model(input_ids=torch.tensor([context_ids]), labels=torch.tensor([continuation_ids])).logits[0]
    else:
        whole = tokenizer(context + continuation)["input_ids"]
        context_ids = tokenizer(context)["input_ids"]
        continuation_ids = whole[len(context_ids) :]
        logits = model(input_ids=torch.tensor([whole[:-1]])).logits[0, -len(continuation_ids) :]
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    return float(log_probs[torch.arange(len(continuation_ids)), torch.tensor(continuation_ids)].sum())


def tiny_t5(tokenizer, seed: int = 0):
    """A stock T5ForConditionalGeneration from a random tiny config (for the lm-eval parity script)."""
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    return T5ForConditionalGeneration(config).eval()
