"""Training readiness per variant: one `transformers.Trainer` step per head, `num_items_in_batch` (gradient
accumulation gives the same update as one large batch), gradient checkpointing, and PEFT LoRA."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import Trainer, TrainingArguments

from variformer import VariformerForCausalLM

from .testers import DECODER, ENCODER, ENCODER_DECODER, assert_close


def examples(tester, head_class, config, count: int) -> list[dict]:
    """`count` training examples (dicts of unbatched tensors) for `head_class`, label counts differing per example."""
    inputs = tester.head_inputs(head_class, config, batch=count)
    batch = {**inputs, **tester.labels(head_class, config, inputs)}
    labels = batch.get("labels")
    if labels is not None and labels.dim() == 2:
        labels[0, -3:] = -100  # the first example has fewer target tokens than the others
    return [{name: tensor[row] for name, tensor in batch.items()} for row in range(count)]


def training_arguments(tmp_path, **overrides) -> TrainingArguments:
    defaults = dict(
        output_dir=str(tmp_path),
        per_device_train_batch_size=2,
        max_steps=1,
        learning_rate=1e-2,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
    )
    return TrainingArguments(**{**defaults, **overrides})


class TrainerMixin:
    """One Trainer step per head; gradient accumulation equals the large batch (num_items_in_batch honoured)."""

    def test_one_trainer_step_updates_every_parameter(self, trainable_head, tmp_path):
        config = self.tester.config(num_labels=3)
        model = trainable_head(config)
        parameters_before = {name: param.detach().clone() for name, param in model.named_parameters()}
        buffers_before = {name: buffer.clone() for name, buffer in model.named_buffers()}
        trainer = Trainer(
            model=model,
            args=training_arguments(tmp_path),
            train_dataset=examples(self.tester, trainable_head, config, 2),
        )
        result = trainer.train()
        assert math.isfinite(result.training_loss)
        unchanged = [name for name, param in model.named_parameters() if torch.equal(param, parameters_before[name])]
        assert unchanged == []
        for name, buffer in model.named_buffers():  # position tables are fixed, not trained
            torch.testing.assert_close(buffer, buffers_before[name], rtol=0, atol=0, msg=name)

    def test_gradient_accumulation_matches_one_large_batch(self, trainable_head, tmp_path):
        """Trainer passes `num_items_in_batch` to heads whose forward takes **kwargs; the loss must then be the
        summed loss over that count, or accumulated micro-batches would be weighted wrongly."""
        config = self.tester.config(num_labels=3)
        dataset = examples(self.tester, trainable_head, config, 2)
        initial = trainable_head(config).state_dict()
        updated, losses = [], []
        for batch_size, steps in ((2, 1), (1, 2)):
            model = trainable_head(config)
            model.load_state_dict(initial)
            args = training_arguments(
                tmp_path,
                per_device_train_batch_size=batch_size,
                max_grad_norm=0.0,
                gradient_accumulation_steps=steps,
                optim="sgd",
                learning_rate=1.0,
            )
            losses.append(Trainer(model=model, args=args, train_dataset=dataset).train().training_loss)
            updated.append(model.state_dict())
        assert losses[1] == pytest.approx(losses[0], rel=1e-5)
        for name in initial:
            assert_close(updated[1][name], updated[0][name], atol=1e-6, msg=name)


class NumItemsInBatchMixin:
    """Token-level losses: with `num_items_in_batch`, the loss is the sum over target tokens divided by it."""

    def test_loss_with_num_items_in_batch_is_sum_over_count(self):
        config = self.tester.config()
        model = self.tester.lm_class(config).eval()
        inputs = self.tester.inputs(config)
        labels = self.tester.labels(self.tester.lm_class, config, inputs)["labels"]
        labels[0, -2:] = -100
        counted = labels[:, 1:] if self.tester.lm_class is VariformerForCausalLM else labels  # causal LM shifts
        num_targets = int((counted != -100).sum())
        with torch.no_grad():
            mean_loss = model(**inputs, labels=labels).loss
            summed_over_7 = model(**inputs, labels=labels, num_items_in_batch=torch.tensor(7)).loss
        assert_close(summed_over_7, mean_loss * num_targets / 7)


class GradientCheckpointingMixin:
    """Recomputing activations in the backward pass gives the same loss and gradients, for reentrant and
    non-reentrant checkpointing, on a padded batch. In training the cache is dropped (as Llama and BART do): a
    decoder that kept it would write its self-attention cache twice, and the encoder-decoder would read its
    cross-attention keys from the cache in the replay (and lose their gradients)."""

    @pytest.mark.parametrize("reentrant", [False, True], ids=["non_reentrant", "reentrant"])
    @pytest.mark.parametrize("norm_position", ["pre", "post"])
    @pytest.mark.parametrize("position_embedding_type", ["learned", "relative_bias"])
    def test_gradient_checkpointing_gives_same_gradients(self, norm_position, reentrant, position_embedding_type):
        config = self.tester.config(norm_position=norm_position, position_embedding_type=position_embedding_type)
        inputs = self.tester.inputs(config)
        inputs["attention_mask"][1, -2:] = 0  # a padded batch
        labels = self.tester.labels(self.tester.lm_class, config, inputs)
        results = []
        for checkpointing in (False, True):
            torch.manual_seed(0)
            model = self.tester.lm_class(config).train()
            if checkpointing:
                model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": reentrant})
                assert model.is_activation_checkpointing
            outputs = model(**inputs, **labels)
            outputs.loss.backward()
            results.append((outputs.loss.detach(), {name: param.grad for name, param in model.named_parameters()}))
        (loss, gradients), (checkpointed_loss, checkpointed_gradients) = results
        assert_close(checkpointed_loss, loss)
        missing = [
            name
            for name, gradient in checkpointed_gradients.items()
            if gradient is None and gradients[name] is not None
        ]
        assert missing == []
        for name, gradient in gradients.items():
            if gradient is not None:
                assert_close(checkpointed_gradients[name], gradient, msg=name)


class LoraMixin:
    """PEFT LoRA on the documented projection names: attach, train only the adapters, merge exactly."""

    # PEFT (0.21) itself reads transformers' deprecated `is_gradient_checkpointing`; Variformer code does not
    @pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
    def test_lora_attach_train_merge(self):
        from peft import LoraConfig, get_peft_model

        config = self.tester.config()
        inputs = self.tester.inputs(config)
        labels = self.tester.labels(self.tester.lm_class, config, inputs)
        model = get_peft_model(
            self.tester.lm_class(config),
            LoraConfig(
                r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj", "up_proj", "down_proj"]
            ),
        )
        trainable = {name for name, param in model.named_parameters() if param.requires_grad}
        assert trainable and all("lora_" in name for name in trainable)
        frozen_before = {
            name: param.detach().clone() for name, param in model.named_parameters() if name not in trainable
        }
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        model(**inputs, **labels).loss.backward()
        optimizer.step()
        for name, param in model.named_parameters():
            if name in frozen_before:
                torch.testing.assert_close(param, frozen_before[name], rtol=0, atol=0, msg=name)
        model.eval()
        with torch.no_grad():
            adapted = model(**inputs).logits
            merged = model.merge_and_unload()
            assert type(merged) is self.tester.lm_class
            assert_close(merged(**inputs).logits, adapted)


class TestEncoderTraining(TrainerMixin, NumItemsInBatchMixin, GradientCheckpointingMixin, LoraMixin):
    tester = ENCODER


class TestDecoderTraining(TrainerMixin, NumItemsInBatchMixin, GradientCheckpointingMixin, LoraMixin):
    tester = DECODER


class TestEncoderDecoderTraining(TrainerMixin, NumItemsInBatchMixin, GradientCheckpointingMixin, LoraMixin):
    tester = ENCODER_DECODER


def test_plain_trainer_label_smoothing_shifts_causal_lm_targets(tmp_path):
    """transformers' Trainer shifts labels for `label_smoothing_factor > 0` only for the causal-LM classes it knows
    by name; `import variformer` lists ours, so the smoothed loss is over next tokens, not the tokens themselves."""
    config = DECODER.config()
    model = VariformerForCausalLM(config).eval()
    inputs = DECODER.inputs(config)
    labels = inputs["input_ids"].clone()
    labels[0, -2:] = -100
    trainer = Trainer(model=model, args=training_arguments(tmp_path, label_smoothing_factor=0.1))
    with torch.no_grad():
        loss = trainer.compute_loss(model, {**inputs, "labels": labels})
        logits = model(**inputs).logits
    expected = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, config.vocab_size),
        labels[:, 1:].reshape(-1),
        ignore_index=-100,
        label_smoothing=0.1,
    )
    unshifted = torch.nn.functional.cross_entropy(
        logits.reshape(-1, config.vocab_size),
        labels.reshape(-1),
        ignore_index=-100,
        label_smoothing=0.1,
    )
    assert_close(loss, expected)
    assert not torch.allclose(loss, unshifted)
