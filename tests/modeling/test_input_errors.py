"""Bad model inputs get a ValueError that names the config field, the value and the fix, never an opaque
`IndexError: index out of range in self` (a device-side assert that kills the process on CUDA)."""

from __future__ import annotations

import pytest
import torch

from variformer import VariformerForCausalLM, VariformerForConditionalGeneration, VariformerForSequenceClassification
from variformer.modeling.cache_names import CACHE_KWARG, output_cache

from .testers import DECODER, ENCODER, ENCODER_DECODER

GENERATIVE = [DECODER, ENCODER_DECODER]
ALL = [ENCODER, DECODER, ENCODER_DECODER]


def _ids(tester):
    return tester.architecture


@pytest.mark.parametrize("tester", ALL, ids=_ids)
@pytest.mark.parametrize("bad_id", [99, 1000, -1])
def test_token_id_outside_the_vocabulary(tester, bad_id):
    config = tester.config()
    model = tester.lm_class(config).eval()
    inputs = tester.inputs(config)
    inputs["input_ids"][0, 2] = bad_id
    with pytest.raises(ValueError, match=rf"input_ids.*{bad_id}.*vocab_size=99.*resize_token_embeddings"):
        model(**inputs)


def test_decoder_token_id_outside_the_vocabulary_of_the_decoder_inputs():
    config = ENCODER_DECODER.config()
    model = VariformerForConditionalGeneration(config).eval()
    inputs = ENCODER_DECODER.inputs(config)
    inputs["decoder_input_ids"][1, 0] = config.vocab_size
    with pytest.raises(ValueError, match=r"input_ids.*99.*vocab_size"):
        model(**inputs)


@pytest.mark.parametrize("tester", GENERATIVE, ids=_ids)
def test_token_id_outside_the_vocabulary_in_a_decoding_step(tester):
    """One-token steps are not pre-checked (no per-step read); the failed lookup still gives the clear error."""
    config = tester.config(eos_token_id=None)
    model = tester.lm_class(config).eval()
    source = {"input_ids": tester.token_ids(config, 1, 4)} if tester.is_encoder_decoder else {}
    target_key = "decoder_input_ids" if tester.is_encoder_decoder else "input_ids"
    with torch.no_grad():
        cache = output_cache(model(**source, **{target_key: tester.token_ids(config, 1, 3)}, use_cache=True))
        with pytest.raises(ValueError, match=r"input_ids.*holds id 99.*vocab_size=99"):
            model(**source, **{target_key: torch.tensor([[config.vocab_size]])}, use_cache=True, **{CACHE_KWARG: cache})


@pytest.mark.parametrize("position_embedding_type", ["learned", "sinusoidal"])
@pytest.mark.parametrize("tester", ALL, ids=_ids)
def test_input_longer_than_the_positions(tester, position_embedding_type):
    config = tester.config(position_embedding_type=position_embedding_type, max_position_embeddings=16)
    model = tester.lm_class(config).eval()
    input_ids = tester.token_ids(config, 1, 17)
    inputs = {"input_ids": input_ids}
    if tester.is_encoder_decoder:
        inputs["decoder_input_ids"] = tester.token_ids(config, 1, 3)
    with pytest.raises(ValueError, match=r"position 17.*max_position_embeddings=16.*truncate"):
        model(**inputs)


@pytest.mark.parametrize("tester", GENERATIVE, ids=_ids)
def test_cached_length_counts_toward_the_positions(tester):
    """16 learned positions: 12 cached tokens plus 5 new ones reach position 17."""
    config = tester.config(position_embedding_type="learned", max_position_embeddings=16, eos_token_id=None)
    model = tester.lm_class(config).eval()
    source = {"input_ids": tester.token_ids(config, 1, 4)} if tester.is_encoder_decoder else {}
    target_key = "decoder_input_ids" if tester.is_encoder_decoder else "input_ids"
    with torch.no_grad():
        cache = output_cache(model(**source, **{target_key: tester.token_ids(config, 1, 12)}, use_cache=True))
        with pytest.raises(ValueError, match=r"position 17 \(12 cached \+ 5 new.*max_position_embeddings=16"):
            model(**source, **{target_key: tester.token_ids(config, 1, 5)}, use_cache=True, **{CACHE_KWARG: cache})


def test_generation_past_the_positions_is_refused():
    config = DECODER.config(position_embedding_type="learned", max_position_embeddings=16, eos_token_id=None)
    model = VariformerForCausalLM(config).eval()
    with pytest.raises(ValueError, match=r"max_position_embeddings=16"):
        model.generate(DECODER.token_ids(config, 1, 10), max_new_tokens=10, do_sample=False)


@pytest.mark.parametrize("tester", ALL, ids=_ids)
def test_attention_mask_of_the_wrong_shape(tester):
    config = tester.config()
    model = tester.lm_class(config).eval()
    inputs = tester.inputs(config)
    inputs["attention_mask"] = inputs["attention_mask"][:, :-1]
    with pytest.raises(ValueError, match=r"attention_mask.*\(2, 6\).*\(2, 7\)"):
        model(**inputs)


def test_encoder_decoder_without_decoder_inputs():
    config = ENCODER_DECODER.config()
    model = VariformerForConditionalGeneration(config).eval()
    inputs = ENCODER_DECODER.inputs(config)
    del inputs["decoder_input_ids"]
    with pytest.raises(ValueError, match=r"architecture='encoder-decoder'.*decoder_input_ids.*labels"):
        model(**inputs)


@pytest.mark.parametrize("tester", ALL, ids=_ids)
def test_neither_input_ids_nor_embeddings(tester):
    model = tester.lm_class(tester.config()).eval()
    with pytest.raises(ValueError, match=r"exactly one of `input_ids` or `inputs_embeds`, got neither"):
        model(
            attention_mask=torch.ones(1, 3, dtype=torch.long),
            **({"decoder_input_ids": torch.ones(1, 2, dtype=torch.long)} if tester.is_encoder_decoder else {}),
        )


def test_token_type_ids_without_token_type_embeddings():
    config = ENCODER.config(type_vocab_size=0)
    model = ENCODER.lm_class(config).eval()
    inputs = ENCODER.inputs(config)
    with pytest.raises(ValueError, match=r"token_type_ids.*type_vocab_size=0"):
        model(**inputs, token_type_ids=torch.zeros_like(inputs["input_ids"]))


def test_token_type_id_outside_the_token_types():
    config = ENCODER.config(type_vocab_size=2)
    model = ENCODER.lm_class(config).eval()
    inputs = ENCODER.inputs(config)
    with pytest.raises(ValueError, match=r"token_type_ids.*holds id 2.*type_vocab_size=2"):
        model(**inputs, token_type_ids=torch.full_like(inputs["input_ids"], 2))


def test_decoder_classifier_batch_without_padding_token_or_mask():
    """GPT-2 raises here too: with no mask and no pad id, the last position of a padded row is padding."""
    config = DECODER.config(pad_token_id=None, num_labels=2)
    model = VariformerForSequenceClassification(config).eval()
    input_ids = DECODER.token_ids(config, 2, 5)
    with pytest.raises(ValueError, match=r"no `attention_mask`.*pad_token_id=None.*classifier_pooling='last'"):
        model(input_ids=input_ids)
    assert model(input_ids=input_ids[:1]).logits.shape == (1, 2)  # one sequence has no padding to misread
    assert model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).logits.shape == (2, 2)


def test_valid_inputs_at_the_limits_still_run():
    config = DECODER.config(position_embedding_type="learned", max_position_embeddings=16)
    model = VariformerForCausalLM(config).eval()
    input_ids = DECODER.token_ids(config, 1, 16)
    input_ids[0, 0], input_ids[0, 1] = 0, config.vocab_size - 1
    assert model(input_ids=input_ids).logits.shape == (1, 16, config.vocab_size)


def test_input_checks_add_no_graph_break_to_a_static_cache_decoding_step():
    """The checks are shape comparisons inside torch.compile; the value check of token ids is skipped there."""
    from transformers.cache_utils import StaticCache

    config = DECODER.config(position_embedding_type="learned", max_position_embeddings=16)
    model = VariformerForCausalLM(config).eval()
    cache = StaticCache(config=config, max_cache_len=12)
    prompt = DECODER.token_ids(config, 1, 5)
    with torch.no_grad():
        model(input_ids=prompt, use_cache=True, **{CACHE_KWARG: cache})
        step = DECODER.token_ids(config, 1, 1)
        mask = torch.ones(1, 6, dtype=torch.long)
        explanation = torch._dynamo.explain(model)(
            input_ids=step,
            attention_mask=mask,
            use_cache=True,
            position_ids=torch.tensor([[5]]),
            **{CACHE_KWARG: cache},
        )
    assert explanation.graph_break_count == 0, explanation.break_reasons
