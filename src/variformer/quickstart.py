"""`variformer quickstart`: the end-to-end demo on the bundled data slices, on CPU in a few minutes.

For each variant it builds a small model, trains it briefly with `transformers.Trainer`, saves it, reloads it
through the Auto classes (checking the reloaded outputs are identical), generates or classifies, and, when the
evaluation harness is available, scores it and writes the harness report:

- decoder: a causal language model on English Multi30k captions (continues a prompt);
- encoder: an SST-2 sentiment classifier;
- encoder-decoder: a German -> English Multi30k translator.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    DataCollatorForLanguageModeling,
    DataCollatorForSeq2Seq,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    set_seed,
)

from .configuration import VariformerConfig
from .training.tokenizer import train_tokenizer

MODEL_SHAPE = dict(
    hidden_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=384,
    max_position_embeddings=128,
    hidden_dropout_prob=0.1,
)


@dataclass(frozen=True)
class Variant:
    architecture: str
    auto_class: type
    options: dict
    description: str
    steps: int  # default training steps: enough for a readable demo on CPU


VARIANTS = (
    Variant(
        "decoder",
        AutoModelForCausalLM,
        dict(position_embedding_type="rotary", norm_type="rmsnorm", hidden_act="swiglu", num_key_value_heads=2),
        "causal LM on English Multi30k captions (rotary, RMSNorm, SwiGLU, grouped-query attention)",
        600,
    ),
    Variant(
        "encoder",
        AutoModelForSequenceClassification,
        dict(
            position_embedding_type="learned",
            norm_position="post",
            embedding_norm=True,
            num_labels=2,
            id2label={0: "negative", 1: "positive"},
            label2id={"negative": 0, "positive": 1},
        ),
        "SST-2 sentiment classifier (BERT-style: learned positions, post-LN)",
        400,
    ),
    Variant(
        "encoder-decoder",
        AutoModelForSeq2SeqLM,
        dict(position_embedding_type="sinusoidal", scale_embeddings=True, hidden_act="relu"),
        "German -> English translator (2017-style: sinusoidal positions, ReLU)",
        1200,
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default="runs/quickstart", help="folder for models, tokenizer and report")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps per variant (default: 600 decoder, 400 encoder, 1200 encoder-decoder)",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-limit", type=int, default=100, help="samples per harness task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-eval", action="store_true", help="train, save, reload and generate only")


def run(args: argparse.Namespace) -> int:
    set_seed(args.seed)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    captions, sentiment = _load_slices()
    texts = [row["de"] for row in captions] + [row["en"] for row in captions] + [row["sentence"] for row in sentiment]
    # byte-level BPE; encodings end with </s>, <s> is written into the decoder's training texts
    tokenizer = train_tokenizer(texts, kind="bpe", vocab_size=4000, template="eos", model_max_length=128)
    tokenizer.save_pretrained(output / "tokenizer")
    summary = {}
    for variant in VARIANTS:
        print(f"\n== {variant.architecture}: {variant.description}")
        started = time.perf_counter()
        model_dir = output / variant.architecture
        model = _build_model(variant, tokenizer)
        steps = args.steps or variant.steps
        train_loss = _train(model, variant, tokenizer, captions, sentiment, model_dir, steps, args)
        model.save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
        reloaded = variant.auto_class.from_pretrained(model_dir).eval()
        _check_reload(model.eval(), reloaded, tokenizer, variant)
        demo = _demo(reloaded, tokenizer, variant)
        summary[variant.architecture] = {
            "train_loss": train_loss,
            "demo": demo,
            "parameters": reloaded.num_parameters(),
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(
            f"   trained {steps} steps, final loss {train_loss:.3f}; reloaded through "
            f"{variant.auto_class.__name__}: outputs identical"
        )
        for line in demo:
            print(f"   {line}")
    if not args.skip_eval:
        summary["evaluation"] = _evaluate(output, args)
    (output / "quickstart.json").write_text(json.dumps(summary, indent=2))
    print(f"\nDone. Models, tokenizer and summary are in {output}/")
    return 0


def _load_slices() -> tuple[list[dict], list[dict]]:
    folder = resources.files("variformer") / "data" / "quickstart"

    def read(name: str) -> list[dict]:
        return [json.loads(line) for line in (folder / name).read_text().splitlines() if line.strip()]

    return read("multi30k_train.jsonl"), read("sst2_train.jsonl")


def _build_model(variant: Variant, tokenizer):
    config = VariformerConfig(
        architecture=variant.architecture,
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.bos_token_id if variant.architecture == "encoder-decoder" else None,
        **MODEL_SHAPE,
        **variant.options,
    )
    return variant.auto_class.from_config(config)


def _train(model, variant, tokenizer, captions, sentiment, model_dir: Path, steps: int, args) -> float:
    if variant.architecture == "decoder":
        features = [tokenizer("<s>" + row["en"], truncation=True) for row in captions]
        collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    elif variant.architecture == "encoder":
        features = [dict(tokenizer(row["sentence"], truncation=True), labels=row["label"]) for row in sentiment]
        collator = DataCollatorWithPadding(tokenizer)
    else:
        features = [
            dict(tokenizer(row["de"], truncation=True), labels=tokenizer(row["en"], truncation=True)["input_ids"])
            for row in captions
        ]
        collator = DataCollatorForSeq2Seq(tokenizer, model=model)
    arguments = TrainingArguments(
        output_dir=str(model_dir / "trainer"),
        max_steps=steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=1e-3,
        warmup_steps=max(1, steps // 10),
        lr_scheduler_type="cosine",
        weight_decay=0.01,
        logging_steps=max(1, steps // 10),
        save_strategy="no",
        report_to=[],
        seed=args.seed,
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=not sys.stderr.isatty(),  # in a log file: the loss lines logging_steps prints, not bar redraws
    )
    trainer = Trainer(model=model, args=arguments, train_dataset=features, data_collator=collator)
    result = trainer.train()
    return float(result.training_loss)


@torch.no_grad()
def _check_reload(original, reloaded, tokenizer, variant: Variant) -> None:
    batch = tokenizer(["Ein Mann fährt Fahrrad.", "A dog runs."], return_tensors="pt", padding=True)
    if variant.architecture == "encoder-decoder":
        batch["decoder_input_ids"] = batch["input_ids"][:, :3]
    before, after = original(**batch).logits, reloaded(**batch).logits
    if not torch.equal(before, after):
        raise RuntimeError(f"reloaded {variant.architecture} model differs by {(before - after).abs().max():.3g}")


@torch.no_grad()
def _demo(model, tokenizer, variant: Variant) -> list[str]:
    if variant.architecture == "encoder":
        texts = ["a gorgeous , witty , seductive movie .", "the film is a dull , lifeless mess ."]
        logits = model(**tokenizer(texts, return_tensors="pt", padding=True)).logits
        return [f"{text!r} -> {model.config.id2label[int(i)]}" for text, i in zip(texts, logits.argmax(-1))]
    if variant.architecture == "decoder":
        prompt = tokenizer(["<s>A man"], return_tensors="pt", add_special_tokens=False)
        output = model.generate(**prompt, max_new_tokens=16, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        return [f"'A man' -> {tokenizer.decode(output[0], skip_special_tokens=True).strip()!r}"]
    sources = ["Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee."]
    batch = tokenizer(sources, return_tensors="pt", padding=True)
    output = model.generate(**batch, max_new_tokens=24, num_beams=4)
    return [
        f"{src!r} -> {tokenizer.decode(out, skip_special_tokens=True).strip()!r}" for src, out in zip(sources, output)
    ]


def _evaluate(output: Path, args) -> dict:
    """Score the three models with the evaluation harness and write its report."""
    from .eval_harness.quickstart import evaluate_quickstart_models

    return evaluate_quickstart_models(output, limit=args.eval_limit, seed=args.seed)


__all__ = ["add_arguments", "run", "VARIANTS"]
