"""Run a recipe with `transformers.Trainer` / `Seq2SeqTrainer`: no training loop of our own.

`run_recipe(recipe, resume=...)` builds the tokenizer, data, model (+ LoRA), `TrainingArguments` and trainer;
trains (resuming from the newest complete `checkpoint-*` folder when asked); saves the final model and tokenizer under
`OUTPUT_DIR/final` (LoRA: the adapter there, the merged model under `OUTPUT_DIR/final-merged`); evaluates
(accuracy, perplexity, beam-search sacreBLEU) and writes `OUTPUT_DIR/metrics.json` atomically.
Under `accelerate launch` / `torchrun` the same code runs data-parallel; only the main process writes files.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from .._files import atomic_write_text
from .._provenance import git_state, versions
from ..eval_harness.results import write_jsonl
from .checkpoints import find_resume_checkpoint
from .data import data_collator, load_raw_splits, tokenize_splits, training_texts
from .lora import apply_lora, four_bit_quantization_config, trainable_parameter_summary
from .metrics import accuracy_metrics, corpus_bleu, perplexity
from .progress import ProgressLine, plot_loss_curve
from .recipe import Recipe
from .tokenizer import load_tokenizer, tokenizer_template_for, train_tokenizer

logger = logging.getLogger(__name__)

METRICS_SCHEMA_VERSION = 1
AUTO_CLASS_NAMES = {
    "causal_lm": "AutoModelForCausalLM",
    "masked_lm": "AutoModelForMaskedLM",
    "seq2seq": "AutoModelForSeq2SeqLM",
    "sequence_classification": "AutoModelForSequenceClassification",
}


# ---------------------------------------------------------------------------------------------- tokenizer
def build_tokenizer(recipe: Recipe, train_split, args, reuse_saved: bool = False):
    """The recipe's tokenizer, saved under OUTPUT_DIR/tokenizer; trained once, on the main process first."""
    saved = recipe.output_path / "tokenizer"
    with args.main_process_first(desc="tokenizer"):
        spec = recipe.tokenizer
        if spec is None or spec.pretrained is not None:
            source = spec.pretrained if spec is not None else (recipe.model.checkpoint or recipe.model.convert_from)
            tokenizer = load_tokenizer(recipe.resolve(source))
        elif (saved / "tokenizer.json").is_file() and (reuse_saved or not args.should_save):
            tokenizer = load_tokenizer(saved)  # resumed run, or a non-main process after the main one trained it
        else:
            texts = training_texts(train_split, recipe.objective, recipe.data.prompt)
            if spec.train.max_texts is not None:
                texts = texts[: spec.train.max_texts]
            tokenizer = train_tokenizer(
                texts,
                kind=spec.train.kind,
                vocab_size=spec.train.vocab_size,
                min_frequency=spec.train.min_frequency,
                lowercase=spec.train.lowercase,
                template=tokenizer_template_for(recipe.objective),
            )
        if tokenizer.pad_token is None:  # GPT-2-style tokenizers have no padding token
            tokenizer.pad_token = tokenizer.eos_token
        if args.should_save:
            tokenizer.save_pretrained(str(saved))
    return tokenizer


# ---------------------------------------------------------------------------------------------- model
def build_model(recipe: Recipe, tokenizer, args=None):
    """The objective's Variformer head from a preset, a checkpoint or a converted transformers checkpoint."""
    import transformers

    from ..configuration import VariformerConfig

    auto_class = getattr(transformers, AUTO_CLASS_NAMES[recipe.objective])
    spec = recipe.model
    head_kwargs = _head_kwargs(recipe)
    load_kwargs: dict[str, Any] = {}
    if spec.attn_implementation is not None:
        load_kwargs["attn_implementation"] = spec.attn_implementation
    if recipe.lora.enabled and recipe.lora.quantize_4bit:
        load_kwargs.update(quantization_config=four_bit_quantization_config(), device_map={"": _local_device()})
    if spec.preset is not None:
        token_ids = {
            name: getattr(tokenizer, name)
            for name in ("pad_token_id", "bos_token_id", "eos_token_id")
            if getattr(tokenizer, name) is not None
        }
        config = VariformerConfig.from_preset(
            spec.preset, vocab_size=len(tokenizer), **token_ids, **spec.config, **head_kwargs
        )
        if config.vocab_size < len(tokenizer):
            raise ValueError(
                f"model.config.vocab_size={config.vocab_size} is smaller than the tokenizer ({len(tokenizer)} tokens)"
            )
        return auto_class.from_config(config, **load_kwargs)
    path = recipe.resolve(spec.checkpoint) if spec.checkpoint is not None else _converted_checkpoint(recipe, args)
    return auto_class.from_pretrained(str(path), **spec.config, **head_kwargs, **load_kwargs)


def _head_kwargs(recipe: Recipe) -> dict[str, Any]:
    if recipe.objective != "sequence_classification":
        return {}
    names = recipe.model.label_names or [f"LABEL_{i}" for i in range(recipe.model.num_labels)]
    return {
        "num_labels": recipe.model.num_labels,
        "id2label": dict(enumerate(names)),
        "label2id": {name: i for i, name in enumerate(names)},
    }


def _local_device() -> int | str:
    return int(os.environ.get("LOCAL_RANK", 0)) if torch.cuda.is_available() else "cpu"


def _converted_checkpoint(recipe: Recipe, args=None) -> Path:
    """Convert model.convert_from (a transformers BERT/GPT-2/T5 folder) once into OUTPUT_DIR/converted.

    `variformer.convert.convert_checkpoint` checks that the converted outputs match the source and copies the
    tokenizer files; the main process converts while the others wait.
    """
    from contextlib import nullcontext

    from ..convert import convert_checkpoint

    target = recipe.output_path / "converted"
    main = args is None or args.should_save
    with args.main_process_first(desc="convert") if args is not None else nullcontext():
        if main and not (target / "config.json").is_file():
            difference = convert_checkpoint(recipe.resolve(recipe.model.convert_from), target, overwrite=True)
            logger.info(
                "converted %s -> %s (max output difference %.2g)", recipe.model.convert_from, target, difference
            )
    return target


# ---------------------------------------------------------------------------------------------- trainer
def build_trainer(recipe: Recipe, model, tokenizer, datasets: dict, args, callbacks: list | None = None):
    from transformers import EarlyStoppingCallback, PrinterCallback, Seq2SeqTrainer, Trainer

    callbacks = [ProgressLine(), *(callbacks or [])]
    if recipe.early_stopping is not None:
        callbacks.append(
            EarlyStoppingCallback(
                early_stopping_patience=recipe.early_stopping.patience,
                early_stopping_threshold=recipe.early_stopping.threshold,
            )
        )
    trainer_class = Seq2SeqTrainer if recipe.objective == "seq2seq" else Trainer
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets.get("validation"),
        processing_class=tokenizer,
        data_collator=data_collator(recipe, tokenizer, model),
        compute_metrics=accuracy_metrics if recipe.objective == "sequence_classification" else None,
        compute_loss_func=_shifted_label_smoothing(args) if recipe.objective == "causal_lm" else None,
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # with tqdm off it prints each log dict; ProgressLine shows them
    return trainer


def _shifted_label_smoothing(args):
    """Label smoothing for causal LMs with the next-token shift.

    `Trainer` only shifts labels for models listed in transformers' own causal-LM table; models registered with
    `AutoModelForCausalLM.register` (Variformer) would get unshifted, wrong targets.
    """
    if not args.label_smoothing_factor:
        return None
    from transformers.trainer_pt_utils import LabelSmoother

    smoother = LabelSmoother(epsilon=args.label_smoothing_factor)

    def loss(outputs, labels, num_items_in_batch=None):
        return smoother(outputs, labels, shift_labels=True)

    return loss


def training_arguments(recipe: Recipe, **overrides):
    """The recipe's arguments; `prediction_loss_only` by default except for classification (accuracy)."""
    defaults = {} if recipe.objective == "sequence_classification" else {"prediction_loss_only": True}
    defaults.update(overrides)
    for key in list(defaults):
        if key in recipe.training:
            defaults.pop(key)
    return recipe.training_arguments(**defaults)


# ---------------------------------------------------------------------------------------------- run
def run_recipe(recipe: Recipe, resume: bool = False, callbacks: list | None = None) -> dict[str, Any]:
    """Train and evaluate `recipe`; returns the metrics also written to OUTPUT_DIR/metrics.json.

    resume: continue from the newest complete `checkpoint-*` folder of the output directory (weights, optimizer,
    scheduler, RNG states, data position); incomplete newer ones are skipped and logged, `ResumeError` when every
    checkpoint folder is incomplete. callbacks: extra `TrainerCallback`s.
    """
    from transformers import set_seed

    started, git = time.time(), git_state()
    set_seed(recipe.seed)
    output = recipe.output_path
    checkpoint = resume_checkpoint(output) if resume else None
    output.mkdir(parents=True, exist_ok=True)
    args = training_arguments(recipe)

    raw = load_raw_splits(recipe)
    tokenizer = build_tokenizer(recipe, raw["train"], args, reuse_saved=checkpoint is not None)
    with args.main_process_first(desc="tokenize"):
        datasets = tokenize_splits(raw, tokenizer, recipe)
    model = build_model(recipe, tokenizer, args)
    _set_generation_defaults(recipe, model, tokenizer)
    if recipe.lora.enabled:
        model = apply_lora(
            model,
            recipe.objective,
            quantized=recipe.lora.quantize_4bit,
            r=recipe.lora.r,
            alpha=recipe.lora.alpha,
            dropout=recipe.lora.dropout,
            target_modules=recipe.lora.target_modules,
            modules_to_save=recipe.lora.modules_to_save,
        )
    parameters = trainable_parameter_summary(model)
    trainer = build_trainer(recipe, model, tokenizer, datasets, args, callbacks)

    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    if recipe.average_checkpoints > 1:
        average_last_checkpoints(trainer, recipe.average_checkpoints)
    trainer.save_model(str(output / "final"))
    _drop_early_stopping(trainer)  # the final evaluations below use other metric prefixes
    metrics = {
        "train": dict(train_result.metrics),
        "global_step": trainer.state.global_step,
        "loss_curve": [[entry["step"], entry["loss"]] for entry in trainer.state.log_history if "loss" in entry],
        "eval_curve": [
            [entry["step"], entry["eval_loss"]] for entry in trainer.state.log_history if "eval_loss" in entry
        ],
    }
    metrics.update(evaluate_splits(recipe, trainer, datasets, raw, tokenizer))
    if recipe.lora.enabled and recipe.lora.save_merged and not recipe.lora.quantize_4bit:
        save_merged(trainer, tokenizer, output / "final-merged")
    if trainer.is_world_process_zero():
        record = _run_record(recipe, trainer, parameters, checkpoint, started, git)
        record.update(metrics)
        write_json_atomic(output / "metrics.json", record)
        plot_loss_curve(
            metrics["loss_curve"], metrics["eval_curve"], output / "loss_curve.png", title=f"{recipe.name}: loss"
        )
        return record
    return metrics


def resume_checkpoint(output: Path) -> str | None:
    """The newest complete checkpoint-* folder of `output` (see `checkpoints.py`), logging the folders skipped."""
    point = find_resume_checkpoint(output)
    for folder, problem in point.skipped:
        logger.warning("--resume: skipped %s, it is incomplete (%s); it is left in place, not deleted", folder, problem)
    if point.checkpoint is None:
        logger.warning("--resume: no checkpoint-* folder in %s; starting from scratch", output)
        return None
    logger.info("--resume: continuing from %s", point.checkpoint)
    return str(point.checkpoint)


def _drop_early_stopping(trainer) -> None:
    from transformers import EarlyStoppingCallback

    trainer.remove_callback(EarlyStoppingCallback)


def _set_generation_defaults(recipe: Recipe, model, tokenizer) -> None:
    if recipe.objective != "seq2seq" or getattr(model, "generation_config", None) is None:
        return
    generation = model.generation_config
    generation.decoder_start_token_id = model.config.decoder_start_token_id
    generation.eos_token_id = tokenizer.eos_token_id
    generation.pad_token_id = tokenizer.pad_token_id
    generation.num_beams = recipe.generation.num_beams
    generation.max_new_tokens = recipe.generation.max_new_tokens
    generation.length_penalty = recipe.generation.length_penalty


@contextmanager
def in_dataset_order(trainer):
    """Evaluation batches in dataset order inside the block. With `train_sampling_strategy: group_by_length`,
    transformers also batches *evaluation* rows by length (a LengthGroupedSampler), so `predict()` returns them
    permuted: fine for a metric over all rows, wrong for anything paired with the rows by position."""
    args = trainer.args
    saved = args.train_sampling_strategy
    args.train_sampling_strategy = "sequential" if saved == "group_by_length" else saved
    try:
        yield trainer
    finally:
        args.train_sampling_strategy = saved


def evaluate_splits(recipe: Recipe, trainer, datasets: dict, raw: dict, tokenizer) -> dict[str, dict]:
    """Loss (+ perplexity or accuracy) on validation and test; beam-search sacreBLEU for seq2seq.

    Per-row predictions land beside metrics.json as `SPLIT_predictions.jsonl`: the text, label, predicted label and
    its probability for classification; source, reference and hypothesis for translation. Predictions are made in
    dataset order (`in_dataset_order`), so each row sits beside its own prediction.
    """
    with in_dataset_order(trainer):
        return _evaluate_splits(recipe, trainer, datasets, raw, tokenizer)


def _evaluate_splits(recipe: Recipe, trainer, datasets: dict, raw: dict, tokenizer) -> dict[str, dict]:
    results: dict[str, dict] = {}
    write = trainer.is_world_process_zero()
    for split in ("validation", "test"):
        if split not in datasets:
            continue
        if recipe.objective == "sequence_classification":
            output = trainer.predict(datasets[split], metric_key_prefix=split)
            values = dict(output.metrics)
            if write:
                rows = classification_rows(raw[split], output.predictions, recipe.model.label_names)
                write_jsonl(recipe.output_path / f"{split}_predictions.jsonl", rows)
        else:
            values = dict(trainer.evaluate(datasets[split], metric_key_prefix=split))
        if recipe.objective in ("causal_lm", "masked_lm"):
            values[f"{split}_perplexity"] = perplexity(values.get(f"{split}_loss"))
        results[split] = values
    bleu_split = "test" if "test" in datasets else "validation" if "validation" in datasets else None
    if recipe.objective == "seq2seq" and bleu_split is not None:
        hypotheses = generate_translations(recipe, trainer, datasets[bleu_split], tokenizer)
        references = list(raw[bleu_split]["target"])
        results[bleu_split].update({f"{bleu_split}_{k}": v for k, v in corpus_bleu(hypotheses, references).items()})
        if write:
            atomic_write_text(recipe.output_path / f"{bleu_split}_hypotheses.txt", "\n".join(hypotheses) + "\n")
            rows = [
                {"index": i, "source": source, "reference": reference, "hypothesis": hypothesis}
                for i, (source, reference, hypothesis) in enumerate(
                    zip(raw[bleu_split]["source"], references, hypotheses)
                )
            ]
            write_jsonl(recipe.output_path / f"{bleu_split}_predictions.jsonl", rows)
    return results


def classification_rows(raw_split, logits, label_names: list[str] | None) -> list[dict]:
    """One record per row: index, text, gold label, predicted label, probability of each label."""
    logits = torch.as_tensor(logits[0] if isinstance(logits, tuple) else logits, dtype=torch.float32)
    probabilities = logits.softmax(-1)
    names = list(label_names) if label_names else [str(i) for i in range(probabilities.shape[-1])]
    rows = []
    for i, (text, label, row) in enumerate(zip(raw_split["text"], raw_split["label"], probabilities.tolist())):
        predicted = max(range(len(row)), key=row.__getitem__)
        rows.append(
            {
                "index": i,
                "text": text,
                "label": names[int(label)],
                "prediction": names[predicted],
                "correct": predicted == int(label),
                "probabilities": {name: round(p, 6) for name, p in zip(names, row)},
            }
        )
    return rows


def generate_translations(recipe: Recipe, trainer, dataset, tokenizer) -> list[str]:
    """Beam-search outputs of the trained seq2seq model on `dataset`, detokenized (Seq2SeqTrainer.predict)."""
    args = trainer.args
    saved = (args.predict_with_generate, args.prediction_loss_only, args.per_device_eval_batch_size)
    args.predict_with_generate, args.prediction_loss_only = True, False
    args.per_device_eval_batch_size = recipe.generation.batch_size
    try:
        output = trainer.predict(
            dataset,
            metric_key_prefix="generate",
            num_beams=recipe.generation.num_beams,
            max_new_tokens=recipe.generation.max_new_tokens,
            length_penalty=recipe.generation.length_penalty,
        )
    finally:
        args.predict_with_generate, args.prediction_loss_only, args.per_device_eval_batch_size = saved
    predictions = output.predictions
    predictions[predictions < 0] = tokenizer.pad_token_id
    return [text.strip() for text in tokenizer.batch_decode(predictions, skip_special_tokens=True)]


def average_last_checkpoints(trainer, count: int) -> list[str]:
    """Replace the model weights by the mean of the last `count` checkpoints' weights (Vaswani et al. 2017)."""
    from safetensors.torch import load_file

    output = Path(trainer.args.output_dir)
    folders = sorted(output.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))[-count:]
    folders = [f for f in folders if (f / "model.safetensors").is_file()]
    if len(folders) < 2:
        logger.warning(
            "average_checkpoints=%d: found %d checkpoint(s) with model.safetensors; not averaging", count, len(folders)
        )
        return []
    total: dict[str, torch.Tensor] = {}
    for folder in folders:
        for name, tensor in load_file(str(folder / "model.safetensors")).items():
            total[name] = total.get(name, 0) + tensor.double()
    model = trainer.accelerator.unwrap_model(trainer.model)
    state = {name: (value / len(folders)).to(model.state_dict()[name].dtype) for name, value in total.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise RuntimeError(f"checkpoint averaging: unexpected keys {unexpected[:5]}")
    model.tie_weights()
    logger.info("averaged the weights of %s", [f.name for f in folders])
    return [f.name for f in folders]


def save_merged(trainer, tokenizer, folder: Path) -> None:
    """merge_and_unload() the LoRA adapters into the base weights and save a plain Variformer checkpoint."""
    if not trainer.is_world_process_zero():
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    merged = model.merge_and_unload()
    merged.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))


# ---------------------------------------------------------------------------------------------- records
def _run_record(recipe: Recipe, trainer, parameters: dict, checkpoint: str | None, started: float, git: dict) -> dict:
    """What metrics.json says about the run; `git`: the checkout's state when the run started (the code it ran)."""
    return {
        "schema_version": METRICS_SCHEMA_VERSION,
        "recipe": recipe.name,
        "objective": recipe.objective,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(time.time() - started, 1),
        "git_commit": git["commit"],
        "git_dirty": git.get("dirty"),
        "versions": versions(),
        "device": _device_name(trainer.args.device),
        "world_size": trainer.args.world_size,
        "seed": recipe.seed,
        "resumed_from": checkpoint,
        "parameters": parameters,
        "lora": {
            "enabled": recipe.lora.enabled,
            "r": recipe.lora.r,
            "alpha": recipe.lora.alpha,
            "quantize_4bit": recipe.lora.quantize_4bit,
        }
        if recipe.lora.enabled
        else None,
        "num_examples": {
            split: len(dataset)
            for split, dataset in (("train", trainer.train_dataset), ("validation", trainer.eval_dataset))
            if dataset is not None
        },
        "output_dir": str(recipe.output_path),
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} logical cores)"


def write_json_atomic(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


__all__ = [
    "average_last_checkpoints",
    "build_model",
    "build_tokenizer",
    "build_trainer",
    "classification_rows",
    "evaluate_splits",
    "generate_translations",
    "resume_checkpoint",
    "run_recipe",
    "save_merged",
    "training_arguments",
    "write_json_atomic",
]
