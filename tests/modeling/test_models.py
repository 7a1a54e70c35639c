"""Model checks per variant: option grid, heads, save/load, embeddings, padding, attention backends, outputs,
engine-readiness. Each variant class lists only the mixins that apply to it; `cls.tester` builds its configs."""

from __future__ import annotations

import copy
import itertools
import warnings

import pytest
import safetensors.torch
import torch
from conftest import tiny_config
from torch import nn
from transformers import AttentionInterface
from transformers.distributed.parallel_utils import replace_layer_number_by_wildcard
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask

from variformer import PRESETS, VariformerConfig, VariformerForSequenceClassification, VariformerModel
from variformer.modeling.attention import VariformerAttention, eager_attention_forward
from variformer.modeling.norms import VariformerRMSNorm
from variformer.modeling.stacks import VariformerStack

from .testers import (
    DECODER,
    ENCODER,
    ENCODER_DECODER,
    IGNORE_DYNAMO_AUTOGRAD_CTX_WARNING,
    OPTION_VALUES,
    SLOW_ON_CPU,
    assert_close,
    grid_id,
    pairwise_grid,
    variant_tester,
)

OPTION_GRID = pairwise_grid(OPTION_VALUES)
ABSOLUTE_AND_RELATIVE = ["learned", "sinusoidal", "rotary", "relative_bias"]
# torch deprecates a flag that transformers' flex integration passes: torch's deprecation, not one of ours
IGNORE_TORCH_FLEX_DEPRECATION = pytest.mark.filterwarnings(
    "ignore:_compile flag on create_block_mask:DeprecationWarning"
)


def trainable_parameters_without_gradient(model: nn.Module) -> list[str]:
    return [
        name
        for name, param in model.named_parameters()
        if param.requires_grad and (param.grad is None or not param.grad.abs().sum() > 0)
    ]


def pad_right(ids: torch.Tensor, length: int, pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, n) ids -> (1, length) ids and attention mask, padding on the right."""
    padding = length - ids.shape[1]
    padded = nn.functional.pad(ids, (0, padding), value=pad_token_id)
    mask = nn.functional.pad(torch.ones_like(ids), (0, padding), value=0)
    return padded, mask


def main_outputs(model: nn.Module, inputs: dict) -> dict[str, torch.Tensor]:
    outputs = model(**inputs)
    names = ("last_hidden_state", "logits", "start_logits", "end_logits")
    return {name: outputs[name] for name in names if outputs.get(name) is not None}


# ---------------------------------------------------------------------------------------------- family-wide
@pytest.mark.parametrize("module", ["transformers.modeling_utils", "variformer.modeling.stacks", "tests.helper"])
@pytest.mark.parametrize("category", [FutureWarning, DeprecationWarning])
def test_deprecation_warnings_are_errors(category, module):
    """pyproject's filterwarnings turn deprecations into errors wherever a stacklevel attributes them: transformers'
    own, and those a transformers call raises on behalf of our code (5.24's cache rename warned from
    `variformer.modeling.stacks`, which a `transformers.*` filter let through)."""
    with pytest.raises(category):
        warnings.warn_explicit("deprecated", category, "somewhere.py", 1, module=module)


def test_option_grid_covers_every_pair_of_values():
    for (a, values_a), (b, values_b) in itertools.combinations(OPTION_VALUES.items(), 2):
        covered = {(options[a], options[b]) for options in OPTION_GRID}
        assert covered == set(itertools.product(values_a, values_b)), (a, b)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_and_runs(name):
    """Each preset's option combination runs (shrunk to one layer and a small vocabulary to stay fast)."""
    overrides = dict(vocab_size=128, num_hidden_layers=1)
    if PRESETS[name]["architecture"] == "encoder-decoder":
        overrides["decoder_layers"] = 1
    config = VariformerConfig.from_preset(name, **overrides)
    tester = variant_tester(config.architecture)
    model = tester.lm_class(config).eval()
    inputs = tester.inputs(config)
    with torch.no_grad():
        assert torch.isfinite(model(**inputs).logits).all()


@pytest.mark.parametrize("architecture", ["encoder", "decoder", "encoder-decoder"])
def test_variformer_model_builds_the_class_of_the_variant(architecture):
    """One class for AutoModel: `VariformerModel(config)` is a stack model or an encoder-decoder of two stacks."""
    from variformer import VariformerEncoderDecoderModel, VariformerStackModel

    config = tiny_config(architecture)
    model = VariformerModel(config)
    built, other = (
        (VariformerEncoderDecoderModel, VariformerStackModel)
        if architecture == "encoder-decoder"
        else (VariformerStackModel, VariformerEncoderDecoderModel)
    )
    assert type(model) is built and isinstance(model, VariformerModel)
    assert isinstance(model, VariformerStack) == (architecture != "encoder-decoder")
    assert type(copy.deepcopy(model)) is built
    with pytest.raises(ValueError, match=f"{other.__name__} builds architecture=.*architecture='{architecture}'"):
        other(config)


def test_single_stack_model_rejects_decoder_inputs():
    model = VariformerModel(tiny_config("decoder"))
    ids = torch.tensor([[1, 2, 3]])
    with pytest.raises(ValueError, match="decoder_input_ids only apply to architecture='encoder-decoder'"):
        model(input_ids=ids, decoder_input_ids=ids)


# ---------------------------------------------------------------------------------------------- mixins
class OptionGridMixin:
    """Every pair of option values runs forward and backward with a finite loss and gradients everywhere."""

    @pytest.mark.parametrize("options", OPTION_GRID, ids=[grid_id(options) for options in OPTION_GRID])
    def test_forward_backward_over_option_grid(self, options):
        config = self.tester.config(**options)
        model = self.tester.lm_class(config).train()
        inputs = self.tester.head_inputs(self.tester.lm_class, config)
        loss = model(**inputs, **self.tester.labels(self.tester.lm_class, config, inputs)).loss
        assert torch.isfinite(loss)
        loss.backward()
        assert trainable_parameters_without_gradient(model) == []

    @pytest.mark.parametrize("position_embedding_type", ["rotary", "relative_bias"])
    def test_head_dim_independent_of_hidden_size(self, position_embedding_type):
        """hidden 36 with 4 heads of width 6 (attention width 24), as T5 decouples them."""
        config = self.tester.config(
            hidden_size=36, num_attention_heads=4, head_dim=6, position_embedding_type=position_embedding_type
        )
        model = self.tester.lm_class(config)
        inputs = self.tester.head_inputs(self.tester.lm_class, config)
        model(**inputs, **self.tester.labels(self.tester.lm_class, config, inputs)).loss.backward()
        assert model.model.get_input_embeddings().weight.grad is not None


class HeadsMixin:
    """Every head of the variant: output shapes, a finite loss from its labels, gradients on its parameters."""

    def test_head_shapes_loss_and_gradients(self, auto_class, head_class):
        config = self.tester.config(num_labels=3)
        model = head_class(config)
        inputs = self.tester.head_inputs(head_class, config)
        labels = self.tester.labels(head_class, config, inputs) if head_class is not VariformerModel else {}
        outputs = model(**inputs, **labels)
        shapes = self.tester.output_shapes(head_class, config, inputs)
        if hasattr(model, "lm_head"):  # training with labels: a chunked loss and no logits (lm_loss_chunk_size)
            assert outputs.logits is None
            with torch.no_grad():
                outputs_in_eval = model.eval()(**inputs, **labels)
            model.train()
            assert tuple(outputs_in_eval.logits.shape) == shapes.pop("logits")
            torch.testing.assert_close(outputs_in_eval.loss, outputs.loss, atol=0.2, rtol=0)  # dropout differs
        for name, shape in shapes.items():
            assert tuple(outputs[name].shape) == shape, name
        if head_class is VariformerModel:
            outputs.last_hidden_state.sum().backward()
        else:
            assert torch.isfinite(outputs.loss)
            outputs.loss.backward()
        assert trainable_parameters_without_gradient(model) == []

    def test_dropout_only_in_training(self):
        config = self.tester.config(hidden_dropout_prob=0.3, attention_dropout=0.3, classifier_dropout=0.3)
        model = self.tester.lm_class(config)
        inputs = self.tester.head_inputs(self.tester.lm_class, config)
        with torch.no_grad():
            model.train()
            assert not torch.allclose(model(**inputs).logits, model(**inputs).logits)
            model.eval()
            torch.testing.assert_close(model(**inputs).logits, model(**inputs).logits, rtol=0, atol=0)

    def test_initialization(self):
        config = self.tester.config(hidden_size=64, intermediate_size=99)  # enough weights for a stable std
        model = self.tester.lm_class(config)
        for name, module in model.named_modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                assert abs(module.weight.std().item() / config.initializer_range - 1) < 0.3, name
            if isinstance(module, nn.Linear) and module.bias is not None:
                assert torch.all(module.bias == 0), name
            if isinstance(module, (nn.LayerNorm, VariformerRMSNorm)):
                assert torch.all(module.weight == 1), name

    def test_return_dict_false_gives_tuple(self, auto_class, head_class):
        config = self.tester.config()
        model = head_class(config).eval()
        inputs = self.tester.head_inputs(head_class, config)
        first = next(iter(main_outputs(model, inputs).values()))
        assert isinstance(model(**inputs, return_dict=False), tuple)
        assert_close(model(**inputs, return_dict=False)[0], first)


class SaveLoadMixin:
    """Save/load through the Auto classes (safetensors), tied weights, token-embedding resizing."""

    def test_save_load_round_trip_through_auto_class(self, auto_class, head_class, tmp_path):
        model = auto_class.from_config(self.tester.config(num_labels=3)).eval()
        built = type(head_class(model.config))  # VariformerModel(config) builds the class of the config's variant
        assert type(model) is built and isinstance(model, head_class)
        model.save_pretrained(tmp_path)
        assert (tmp_path / "model.safetensors").is_file()
        loaded, info = auto_class.from_pretrained(tmp_path, output_loading_info=True)
        assert type(loaded) is built
        assert {key: value for key, value in info.items() if value} == {}
        inputs = self.tester.head_inputs(head_class, model.config)
        with torch.no_grad():
            expected, actual = main_outputs(model, inputs), main_outputs(loaded.eval(), inputs)
        for name in expected:
            torch.testing.assert_close(actual[name], expected[name], rtol=0, atol=0)

    def test_base_model_and_head_load_each_others_checkpoints(self, tmp_path):
        config = self.tester.config()
        head = self.tester.lm_class(config).eval()
        head.save_pretrained(tmp_path / "head")
        base, info = VariformerModel.from_pretrained(tmp_path / "head", output_loading_info=True)
        assert not info["missing_keys"] and not info["mismatched_keys"]  # the head's own weights are "unexpected"
        inputs = self.tester.inputs(config)
        with torch.no_grad():
            expected = head.model(**inputs).last_hidden_state
            torch.testing.assert_close(base.eval()(**inputs).last_hidden_state, expected, rtol=0, atol=0)
        base.save_pretrained(tmp_path / "base")
        reloaded, info = type(head).from_pretrained(tmp_path / "base", output_loading_info=True)
        head_only = {name for name, _ in head.named_parameters() if not name.startswith("model.")}
        if config.tie_word_embeddings:
            head_only.discard("lm_head.weight")
        assert set(info["missing_keys"]) == head_only and not info["unexpected_keys"]
        with torch.no_grad():
            torch.testing.assert_close(reloaded.eval().model(**inputs).last_hidden_state, expected, rtol=0, atol=0)

    @pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
    def test_word_embedding_tying_survives_save_load(self, tie, tmp_path):
        model = self.tester.lm_class(self.tester.config(tie_word_embeddings=tie))
        model.save_pretrained(tmp_path)
        loaded = type(model).from_pretrained(tmp_path)
        for candidate in (model, loaded):
            shared = candidate.get_output_embeddings().weight is candidate.get_input_embeddings().weight
            assert shared == tie
        torch.testing.assert_close(loaded.get_output_embeddings().weight, model.get_output_embeddings().weight)

    @pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
    def test_sharded_checkpoint_keeps_tied_weights(self, tie, tmp_path):
        """A checkpoint split over several safetensors shards (the tied copy saved once) loads back exactly."""
        config = self.tester.config(tie_word_embeddings=tie)
        model = self.tester.lm_class(config).eval()
        model.save_pretrained(tmp_path, max_shard_size="20KB")
        assert len(list(tmp_path.glob("model-*-of-*.safetensors"))) > 1
        loaded, info = type(model).from_pretrained(tmp_path, output_loading_info=True)
        assert {key: value for key, value in info.items() if value} == {}
        shared = loaded.get_output_embeddings().weight is loaded.get_input_embeddings().weight
        assert shared == tie
        inputs = self.tester.head_inputs(self.tester.lm_class, config)
        with torch.no_grad():
            torch.testing.assert_close(loaded.eval()(**inputs).logits, model(**inputs).logits, rtol=0, atol=0)

    def test_resize_token_embeddings(self, tmp_path):
        config = self.tester.config()
        model = self.tester.lm_class(config).eval()
        old_vocab = config.vocab_size
        old_rows = model.get_input_embeddings().weight.clone()
        new_vocab = old_vocab + 13
        model.resize_token_embeddings(new_vocab)
        assert model.config.vocab_size == new_vocab
        assert model.get_input_embeddings().weight.shape[0] == new_vocab
        assert model.get_output_embeddings().weight.shape[0] == new_vocab
        assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
        torch.testing.assert_close(model.get_input_embeddings().weight[:old_vocab], old_rows)
        inputs = self.tester.head_inputs(self.tester.lm_class, config)
        inputs["input_ids"][0, 0] = new_vocab - 1  # a new token id
        logits = model(**inputs).logits
        assert logits.shape[-1] == new_vocab
        model.save_pretrained(tmp_path)
        loaded = type(model).from_pretrained(tmp_path).eval()
        torch.testing.assert_close(loaded(**inputs).logits, logits, rtol=0, atol=0)


class RightPaddingMixin:
    """Single-stack variants: a right-padded row gives the outputs of the unpadded sequence on its real tokens."""

    @pytest.mark.parametrize("position_embedding_type", ABSOLUTE_AND_RELATIVE)
    def test_right_padding_matches_unpadded(self, position_embedding_type):
        config = self.tester.config(position_embedding_type=position_embedding_type)
        model = self.tester.lm_class(config).eval()
        long, short = self.tester.token_ids(config, 1, 7), self.tester.token_ids(config, 1, 4)
        padded_short, short_mask = pad_right(short, 7, config.pad_token_id)
        batch = torch.cat([long, padded_short])  # (2, 7)
        mask = torch.cat([torch.ones_like(long), short_mask])  # (2, 7)
        with torch.no_grad():
            padded_logits = model(input_ids=batch, attention_mask=mask).logits
            assert_close(padded_logits[1, :4], model(input_ids=short).logits[0])
            assert_close(padded_logits[0], model(input_ids=long).logits[0])


class SequenceClassificationPaddingMixin:
    """Sequence classification pools only real tokens: a padded row scores as the unpadded sequence."""

    @pytest.mark.parametrize("pooling", ["first", "last", "mean"])
    def test_sequence_classification_ignores_padding(self, pooling):
        config = self.tester.config(classifier_pooling=pooling, num_labels=3)
        model = VariformerForSequenceClassification(config).eval()
        long, short = self.tester.token_ids(config, 1, 7), self.tester.token_ids(config, 1, 4)
        padded_short, short_mask = pad_right(short, 7, config.pad_token_id)
        batch, mask = torch.cat([long, padded_short]), torch.cat([torch.ones_like(long), short_mask])
        with torch.no_grad():
            padded = model(input_ids=batch, attention_mask=mask).logits
            assert_close(padded[1], model(input_ids=short).logits[0])
            assert_close(padded[0], model(input_ids=long).logits[0])


class AttentionBackendMixin:
    """eager, sdpa (and flex where it runs) agree; output_attentions and output_hidden_states are well formed."""

    def _padded_inputs(self, config):
        inputs = self.tester.inputs(config)
        inputs["attention_mask"][1, -2:] = 0
        return inputs

    @pytest.mark.parametrize("position_embedding_type", ABSOLUTE_AND_RELATIVE)
    def test_eager_and_sdpa_agree(self, position_embedding_type):
        config = self.tester.config(position_embedding_type=position_embedding_type, num_key_value_heads=2)
        eager = self.tester.lm_class(config).eval()
        eager.set_attn_implementation("eager")
        sdpa = copy.deepcopy(eager)
        sdpa.set_attn_implementation("sdpa")
        assert (eager.config._attn_implementation, sdpa.config._attn_implementation) == ("eager", "sdpa")
        inputs = self._padded_inputs(config)
        with torch.no_grad():
            assert_close(sdpa(**inputs).logits, eager(**inputs).logits)

    @SLOW_ON_CPU  # flex attention compiles its kernel: 5-100 s per case on a loaded CPU
    @IGNORE_TORCH_FLEX_DEPRECATION
    @IGNORE_DYNAMO_AUTOGRAD_CTX_WARNING
    @pytest.mark.parametrize("position_embedding_type", ["rotary", "relative_bias"])
    def test_flex_attention_agrees_with_eager(self, position_embedding_type):
        flex_attention = pytest.importorskip("torch.nn.attention.flex_attention")
        if not hasattr(flex_attention, "flex_attention"):
            pytest.skip("this torch build has no flex_attention")
        config = self.tester.config(position_embedding_type=position_embedding_type)
        eager = self.tester.lm_class(config).eval()
        eager.set_attn_implementation("eager")
        flex = copy.deepcopy(eager)
        flex.set_attn_implementation("flex_attention")
        inputs = self._padded_inputs(config)
        with torch.no_grad():
            assert_close(flex(**inputs).logits, eager(**inputs).logits, atol=1e-4, rtol=1e-3)

    def test_output_attentions(self):
        config = self.tester.config()
        model = self.tester.lm_class(config).eval()
        model.set_attn_implementation("eager")
        inputs = self.tester.inputs(config)
        outputs = model(**inputs, output_attentions=True)
        for name, attentions in self._attention_groups(outputs).items():
            query_length, key_length, num_layers, causal = self._attention_layout(name, config, inputs)
            assert len(attentions) == num_layers, name
            for weights in attentions:
                shape = (self.tester.batch_size, config.num_attention_heads, query_length, key_length)
                assert tuple(weights.shape) == shape, name
                assert_close(weights.sum(-1), torch.ones(shape[:-1]))
                if causal:
                    assert torch.all(weights.triu(diagonal=1) == 0), f"{name} attend to future tokens"

    def test_output_hidden_states(self):
        config = self.tester.config()
        model = self.tester.lm_class(config).eval()
        outputs = model(**self.tester.inputs(config), output_hidden_states=True)
        for name, hidden_states in self._hidden_state_groups(outputs).items():
            num_layers = config.decoder_layers if name.startswith("decoder") else config.num_hidden_layers
            assert len(hidden_states) == num_layers + 1, name
            assert all(state.shape[-1] == config.hidden_size for state in hidden_states)

    def test_output_hidden_states_selects_by_negative_index(self):
        config = self.tester.config()
        model = self.tester.lm_class(config).eval()
        inputs = self.tester.inputs(config)
        with torch.no_grad():
            every = self._hidden_state_groups(model(**inputs, output_hidden_states=True))
            last = self._hidden_state_groups(model(**inputs, output_hidden_states=[-1]))
        for name, hidden_states in last.items():
            assert [state is None for state in hidden_states][:-1] == [True] * (len(every[name]) - 1), name
            assert_close(hidden_states[-1], every[name][-1])


class EngineReadinessMixin:
    """What inference/training engines rely on: layer indices, layer lists, plans, flags, the attention interface."""

    def test_attention_modules_know_their_layer_index(self):
        model = VariformerModel(self.tester.config())
        stacks = [module for module in model.modules() if isinstance(module, VariformerStack)]
        # the encoder-decoder model holds an encoder and a decoder stack; the single-stack model is its stack
        assert len(stacks) == (2 if self.tester.is_encoder_decoder else 1)
        assert (stacks[0] is model) != self.tester.is_encoder_decoder
        for stack in stacks:
            for index, layer in enumerate(stack.layers):
                attentions = [m for m in layer.modules() if isinstance(m, VariformerAttention)]
                assert attentions and all(attention.layer_idx == index for attention in attentions)

    def test_one_module_list_of_layers_per_stack(self):
        model = VariformerModel(self.tester.config())
        lists = [name for name, module in model.named_modules() if isinstance(module, nn.ModuleList)]
        expected = ["encoder.layers", "decoder.layers"] if self.tester.is_encoder_decoder else ["layers"]
        assert lists == expected

    def test_support_flags_and_no_split_modules(self):
        model = self.tester.lm_class(self.tester.config())
        assert model._supports_attention_backend and model.supports_gradient_checkpointing
        module_classes = {type(module).__name__ for module in model.modules()}
        assert model._no_split_modules and set(model._no_split_modules) <= module_classes

    def test_parallel_plans_name_real_modules(self):
        for model in (VariformerModel(self.tester.config()), self.tester.lm_class(self.tester.config())):
            names = _wildcard_names(model)
            for plan_name in ("tp_plan", "pp_plan"):
                plan = getattr(model, plan_name)
                assert plan, f"{type(model).__name__}.{plan_name} is empty"
                assert set(plan) <= names, f"{plan_name} rules naming nothing: {set(plan) - names}"
            projections = _wildcard_names(model, parameters=False)
            unsharded = {name for name in projections if name.endswith("_proj")} - set(model.tp_plan)
            assert not unsharded, f"projections without a tensor-parallel rule: {unsharded}"

    def test_custom_attention_function_receives_forward_kwargs(self):
        received = []

        def recording_attention(module, query, key, value, attention_mask, **kwargs):
            received.append(kwargs)
            return eager_attention_forward(module, query, key, value, attention_mask, **kwargs)

        AttentionInterface.register("variformer_recording", recording_attention)
        ALL_MASK_ATTENTION_FUNCTIONS.register("variformer_recording", eager_mask)
        config = self.tester.config()
        model = self.tester.lm_class(config).eval()
        model.set_attn_implementation("variformer_recording")
        inputs = self.tester.inputs(config)
        inputs["attention_mask"][1, -1] = 0
        with torch.no_grad():
            logits = model(**inputs, variformer_probe="seen").logits
        assert received and all(kwargs.get("variformer_probe") == "seen" for kwargs in received)
        model.set_attn_implementation("eager")
        with torch.no_grad():
            assert_close(logits, model(**inputs).logits)


def _wildcard_names(model: nn.Module, parameters: bool = True) -> set[str]:
    """Module (and parameter) names with layer numbers replaced by `*`, as transformers matches plans; a shared
    module (the encoder-decoder's token embedding) under each of its names."""
    names = [name for name, _ in model.named_modules(remove_duplicate=False)]
    if parameters:
        names += [name for name, _ in model.named_parameters(remove_duplicate=False)]
    return {replace_layer_number_by_wildcard(name) for name in names}


# ---------------------------------------------------------------------------------------------- variants
class TestEncoder(
    OptionGridMixin,
    HeadsMixin,
    SaveLoadMixin,
    RightPaddingMixin,
    SequenceClassificationPaddingMixin,
    AttentionBackendMixin,
    EngineReadinessMixin,
):
    tester = ENCODER

    def _attention_groups(self, outputs):
        return {"attentions": outputs.attentions}

    def _attention_layout(self, name, config, inputs):
        length = inputs["input_ids"].shape[1]
        return length, length, config.num_hidden_layers, False

    def _hidden_state_groups(self, outputs):
        return {"hidden_states": outputs.hidden_states}

    def test_token_type_ids_change_outputs(self):
        config = self.tester.config()
        model = self.tester.lm_class(config).eval()
        input_ids = self.tester.token_ids(config)
        with torch.no_grad():
            default = model(input_ids=input_ids).logits
            assert_close(model(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids)).logits, default)
            assert not torch.allclose(
                model(input_ids=input_ids, token_type_ids=torch.ones_like(input_ids)).logits, default
            )

    def test_attention_is_bidirectional(self):
        config = self.tester.config()
        model = self.tester.lm_class(config).eval()
        input_ids = self.tester.token_ids(config, 1)
        changed = input_ids.clone()
        changed[0, -1] = (changed[0, -1] + 1 - 3) % (config.vocab_size - 3) + 3  # another word id at the end
        with torch.no_grad():
            assert not torch.allclose(model(input_ids=input_ids).logits[0, 0], model(input_ids=changed).logits[0, 0])


class TestDecoder(
    OptionGridMixin,
    HeadsMixin,
    SaveLoadMixin,
    RightPaddingMixin,
    SequenceClassificationPaddingMixin,
    AttentionBackendMixin,
    EngineReadinessMixin,
):
    tester = DECODER

    def _attention_groups(self, outputs):
        return {"attentions": outputs.attentions}

    def _attention_layout(self, name, config, inputs):
        length = inputs["input_ids"].shape[1]
        return length, length, config.num_hidden_layers, True

    def _hidden_state_groups(self, outputs):
        return {"hidden_states": outputs.hidden_states}

    @pytest.mark.parametrize("position_embedding_type", ABSOLUTE_AND_RELATIVE)
    def test_left_padding_with_generate_position_ids_matches_unpadded(self, position_embedding_type):
        config = self.tester.config(position_embedding_type=position_embedding_type)
        model = self.tester.lm_class(config).eval()
        long, short = self.tester.token_ids(config, 1, 7), self.tester.token_ids(config, 1, 4)
        batch = torch.cat([long, torch.cat([torch.full((1, 3), config.pad_token_id), short], dim=1)])  # (2, 7)
        mask = (torch.arange(7) >= torch.tensor([[0], [3]])).long()  # (2, 7)
        position_ids = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)  # as generate() builds them
        with torch.no_grad():
            padded = model(input_ids=batch, attention_mask=mask, position_ids=position_ids).logits
            assert_close(padded[1, 3:], model(input_ids=short).logits[0])
            assert_close(padded[0], model(input_ids=long).logits[0])

    def test_attention_is_causal(self):
        config = self.tester.config()
        model = self.tester.lm_class(config).eval()
        input_ids = self.tester.token_ids(config, 1)
        changed = input_ids.clone()
        changed[0, -1] = (changed[0, -1] + 1 - 3) % (config.vocab_size - 3) + 3
        with torch.no_grad():
            assert_close(model(input_ids=changed).logits[0, :-1], model(input_ids=input_ids).logits[0, :-1])

    def test_config_plans_name_modules_of_the_base_model(self):
        config = self.tester.config()
        names = _wildcard_names(VariformerModel(config))
        assert set(config.base_model_tp_plan) <= names
        assert set(config.base_model_pp_plan) <= names


class TestEncoderDecoder(
    OptionGridMixin,
    HeadsMixin,
    SaveLoadMixin,
    SequenceClassificationPaddingMixin,
    AttentionBackendMixin,
    EngineReadinessMixin,
):
    tester = ENCODER_DECODER

    def _attention_groups(self, outputs):
        return {
            "encoder_attentions": outputs.encoder_attentions,
            "decoder_attentions": outputs.decoder_attentions,
            "cross_attentions": outputs.cross_attentions,
        }

    def _attention_layout(self, name, config, inputs):
        source, target = inputs["input_ids"].shape[1], inputs["decoder_input_ids"].shape[1]
        return {
            "encoder_attentions": (source, source, config.num_hidden_layers, False),
            "decoder_attentions": (target, target, config.decoder_layers, True),
            "cross_attentions": (target, source, config.decoder_layers, False),
        }[name]

    def _hidden_state_groups(self, outputs):
        return {
            "encoder_hidden_states": outputs.encoder_hidden_states,
            "decoder_hidden_states": outputs.decoder_hidden_states,
        }

    def test_decoder_embeddings_are_the_encoder_embeddings(self, tmp_path):
        for tie in (True, False):
            model = self.tester.lm_class(self.tester.config(tie_word_embeddings=tie))
            model.save_pretrained(tmp_path / str(tie))
            saved = set(safetensors.torch.load_file(tmp_path / str(tie) / "model.safetensors"))
            assert "model.encoder.embed_tokens.weight" in saved and "model.decoder.embed_tokens.weight" not in saved
            loaded, info = type(model).from_pretrained(tmp_path / str(tie), output_loading_info=True)
            assert {key: value for key, value in info.items() if value} == {}
            for candidate in (model, loaded):
                assert candidate.model.decoder.embed_tokens.weight is candidate.model.encoder.embed_tokens.weight
            # loaded, not initialized again
            torch.testing.assert_close(
                loaded.model.decoder.embed_tokens.weight, model.model.encoder.embed_tokens.weight, rtol=0, atol=0
            )

    def test_resize_keeps_encoder_and_decoder_embeddings_shared(self):
        model = self.tester.lm_class(self.tester.config(tie_word_embeddings=False))
        model.resize_token_embeddings(model.config.vocab_size + 5)
        assert model.model.decoder.embed_tokens.weight is model.model.encoder.embed_tokens.weight
        assert model.lm_head.weight is not model.model.encoder.embed_tokens.weight
        assert model.lm_head.weight.shape[0] == model.config.vocab_size

    @pytest.mark.parametrize("position_embedding_type", ABSOLUTE_AND_RELATIVE)
    def test_source_and_target_padding_match_unpadded(self, position_embedding_type):
        config = self.tester.config(position_embedding_type=position_embedding_type)
        model = self.tester.lm_class(config).eval()
        source, target = self.tester.token_ids(config, 1, 4), self.tester.token_ids(config, 1, 3)
        padded_source, source_mask = pad_right(source, 7, config.pad_token_id)
        padded_target, target_mask = pad_right(target, 5, config.pad_token_id)
        with torch.no_grad():
            expected = model(input_ids=source, decoder_input_ids=target).logits
            padded = model(
                input_ids=padded_source,
                attention_mask=source_mask,
                decoder_input_ids=padded_target,
                decoder_attention_mask=target_mask,
            ).logits
        assert_close(padded[:, :3], expected)

    def test_cross_attention_ignores_padded_source(self):
        config = self.tester.config()
        model = self.tester.lm_class(config).eval()
        model.set_attn_implementation("eager")
        inputs = self.tester.inputs(config)
        inputs["attention_mask"][1, -3:] = 0
        cross = model(**inputs, output_attentions=True).cross_attentions
        assert all(torch.all(weights[1, :, :, -3:] == 0) for weights in cross)
