"""KV caches and `generate()` for the generative variants (decoder, encoder-decoder).

Cached decoding must reproduce the uncached forward token by token, for the dynamic and the static cache and
every position scheme; `generate()` is checked against a hand-written argmax loop, against itself without a
cache or padding, and with the static cache (compiled with torch.compile when VARIFORMER_SLOW=1).
"""

from __future__ import annotations

import time

import pytest
import torch
from transformers import CompileConfig
from transformers.cache_utils import DynamicCache, EncoderDecoderCache, StaticCache
from transformers.modeling_outputs import BaseModelOutput

from variformer.modeling.cache_names import CACHE_KWARG, output_cache

from .testers import DECODER, ENCODER_DECODER, SLOW_ON_CPU, assert_close

POSITION_TYPES = ["rotary", "relative_bias", "learned", "sinusoidal"]
CACHES = ["dynamic", "static"]
PROMPT_LENGTH = 3  # tokens fed at once before decoding one token at a time
NEW_TOKENS = 6


class CachedDecodingMixin:
    """Prefill, then one token per step through a cache: logits equal the full uncached forward."""

    @pytest.mark.parametrize("cache_kind", CACHES)
    @pytest.mark.parametrize("position_embedding_type", POSITION_TYPES)
    def test_cached_decoding_matches_full_forward(self, position_embedding_type, cache_kind):
        config = self.tester.config(position_embedding_type=position_embedding_type, num_key_value_heads=2)
        model = self.tester.lm_class(config).eval()
        inputs = self.tester.inputs(config)
        inputs["attention_mask"][1, -2:] = 0  # padded source (encoder-decoder) / padded tail (decoder)
        with torch.no_grad():
            expected = model(**inputs, use_cache=False).logits
            steps = self._decode_step_by_step(model, inputs, self._new_cache(config, inputs, cache_kind))
        assert_close(steps, expected)


class GenerateMixin:
    """`generate()`: greedy, sampling, beam search, padding, static cache. Configs have no EOS, so every
    sequence runs to `max_new_tokens` and runs can be compared token for token."""

    def _model(self, **overrides):
        config = self.tester.config(eos_token_id=None, **overrides)
        return self.tester.lm_class(config).eval()

    @pytest.mark.parametrize("position_embedding_type", ["rotary", "relative_bias", "learned"])
    def test_greedy_matches_manual_argmax_loop(self, position_embedding_type):
        model = self._model(position_embedding_type=position_embedding_type)
        prompt = self.tester.token_ids(model.config, 1, 5)
        generated = model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False)
        expected = self._start(model, prompt)
        with torch.no_grad():
            for _ in range(NEW_TOKENS):
                next_token = self._next_token_logits(model, prompt, expected).argmax(-1, keepdim=True)  # (1, 1)
                expected = torch.cat([expected, next_token], dim=1)
        assert generated.tolist() == expected.tolist()

    def test_sampling_is_reproducible_with_a_seed(self):
        model = self._model()
        prompt = self.tester.token_ids(model.config, 2, 5)
        runs = []
        for _ in range(2):
            torch.manual_seed(1234)
            runs.append(
                model.generate(
                    prompt,
                    attention_mask=torch.ones_like(prompt),
                    do_sample=True,
                    top_k=20,
                    temperature=1.5,
                    max_new_tokens=NEW_TOKENS,
                )
            )
        assert runs[0].tolist() == runs[1].tolist()
        assert runs[0].shape == (2, self._output_length(prompt))
        assert int(runs[0].max()) < model.config.vocab_size

    def test_beam_search_with_and_without_cache_agree(self):
        model = self._model()
        prompt = self.tester.token_ids(model.config, 2, 5)
        kwargs = dict(
            attention_mask=torch.ones_like(prompt),
            num_beams=3,
            num_return_sequences=2,
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            return_dict_in_generate=True,
            output_scores=True,
        )
        cached = model.generate(prompt, **kwargs)
        uncached = model.generate(prompt, use_cache=False, **kwargs)
        assert cached.sequences.shape == (4, self._output_length(prompt))
        assert cached.sequences.tolist() == uncached.sequences.tolist()
        assert_close(cached.sequences_scores, uncached.sequences_scores)
        assert cached.sequences[0].tolist() != cached.sequences[1].tolist()  # two distinct beams per prompt
        assert bool((cached.sequences_scores[0::2] >= cached.sequences_scores[1::2]).all())  # best beam first

    @pytest.mark.parametrize("position_embedding_type", ["rotary", "relative_bias", "learned", "sinusoidal"])
    def test_padded_batch_matches_single_generation(self, position_embedding_type):
        model = self._model(position_embedding_type=position_embedding_type)
        prompts = [self.tester.token_ids(model.config, 1, 6), self.tester.token_ids(model.config, 1, 3)]
        batch, mask = self._pad_prompts(prompts, model.config.pad_token_id)
        generated = model.generate(batch, attention_mask=mask, max_new_tokens=NEW_TOKENS, do_sample=False)
        for row, prompt in enumerate(prompts):
            alone = model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False)
            assert (
                self._new_tokens(generated[row : row + 1], batch).tolist() == self._new_tokens(alone, prompt).tolist()
            ), f"row {row}"

    @pytest.mark.parametrize("padded", [False, True], ids=["batch_1", "padded_batch"])
    @pytest.mark.parametrize("cache_implementation", [None, "static"], ids=["dynamic", "static"])
    @pytest.mark.parametrize("position_embedding_type", POSITION_TYPES)
    def test_generated_logits_match_full_recompute(self, position_embedding_type, cache_implementation, padded):
        """Every step's logits from cached `generate()` equal one uncached forward over the whole sequence, to a
        tolerance: equal argmax alone passes by luck (as it did while transformers 5.24 decoded without the past)."""
        model = self._model(position_embedding_type=position_embedding_type, num_key_value_heads=2)
        prompts = [self.tester.token_ids(model.config, 1, 6)]
        if padded:
            prompts.append(self.tester.token_ids(model.config, 1, 3))
        batch, mask = self._pad_prompts(prompts, model.config.pad_token_id)
        generated = model.generate(
            batch,
            attention_mask=mask,
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            cache_implementation=cache_implementation,
            output_logits=True,
            return_dict_in_generate=True,
        )
        with torch.no_grad():
            expected = self._full_logits(model, batch, mask, generated.sequences)  # (batch, new, vocab)
        assert_close(torch.stack(generated.logits, dim=1), expected)

    @pytest.mark.parametrize("mode", ["assistant_model", "prompt_lookup"])
    def test_assisted_decoding_matches_greedy(self, mode):
        """Assisted decoding proposes tokens, verifies them in one forward and crops the cache back on a miss: the
        result is the greedy result."""
        model = self._model()
        prompt = self.tester.token_ids(model.config, 1, 6)
        prompt = torch.cat([prompt, prompt], dim=1)  # a repeat, so that prompt lookup finds candidates
        greedy = model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False)
        if mode == "assistant_model":
            torch.manual_seed(1)
            extra = dict(assistant_model=self._model(num_hidden_layers=1))
        else:
            extra = dict(prompt_lookup_num_tokens=2)
        assisted = model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False, **extra)
        assert assisted.tolist() == greedy.tolist()

    def test_dict_output_returns_the_filled_cache(self):
        model = self._model()
        prompt = self.tester.token_ids(model.config, 2, 5)
        generated = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            return_dict_in_generate=True,
        )
        cache = output_cache(generated)
        assert cache is not None
        # the last generated token has not been fed back yet
        assert cache.get_seq_length() == self._output_length(prompt) - 1
        if model.config.is_encoder_decoder:
            assert len(cache.self_attention_cache) == len(cache.cross_attention_cache) == model.config.decoder_layers
        else:
            assert len(cache) == model.config.num_hidden_layers

    def test_static_cache_generation_matches_dynamic(self):
        model = self._model()
        prompt = self.tester.token_ids(model.config, 2, 5)
        kwargs = dict(attention_mask=torch.ones_like(prompt), max_new_tokens=NEW_TOKENS, do_sample=False)
        dynamic = model.generate(prompt, **kwargs)
        static = model.generate(prompt, cache_implementation="static", **kwargs)
        assert static.tolist() == dynamic.tolist()

    @SLOW_ON_CPU
    def test_compiled_static_cache_generation_matches_eager(self):
        model = self._model()
        prompt = self.tester.token_ids(model.config, 2, 5)
        kwargs = dict(
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            cache_implementation="static",
        )
        expected = model.generate(prompt, disable_compile=True, **kwargs)
        compile_config = CompileConfig(fullgraph=True, mode="default")
        compile_config._compile_all_devices = True  # transformers compiles on CUDA only unless told so
        started = time.perf_counter()
        compiled = model.generate(prompt, compile_config=compile_config, **kwargs)
        assert compiled.tolist() == expected.tolist()
        assert model._compiled_call is not None, "generate() did not compile the forward"
        print(f"compiled static-cache generate: {time.perf_counter() - started:.1f}s")


# ---------------------------------------------------------------------------------------------- variants
class TestDecoderCacheAndGeneration(CachedDecodingMixin, GenerateMixin):
    tester = DECODER

    def _new_cache(self, config, inputs, cache_kind):
        if cache_kind == "static":
            return StaticCache(config=config, max_cache_len=inputs["input_ids"].shape[1] + 2)
        return DynamicCache(config=config)

    def _decode_step_by_step(self, model, inputs, cache):
        """Logits (batch, seq, vocab) computed PROMPT_LENGTH tokens at once, then one token per call."""
        input_ids, mask = inputs["input_ids"], inputs["attention_mask"]
        logits, start = [], 0
        for end in [PROMPT_LENGTH, *range(PROMPT_LENGTH + 1, input_ids.shape[1] + 1)]:
            outputs = model(
                input_ids=input_ids[:, start:end], attention_mask=mask[:, :end], **{CACHE_KWARG: cache}, use_cache=True
            )
            logits.append(outputs.logits)
            start = end
        return torch.cat(logits, dim=1)

    def _start(self, model, prompt):
        return prompt

    def _next_token_logits(self, model, prompt, generated):
        return model(input_ids=generated, use_cache=False).logits[:, -1]

    def _output_length(self, prompt):
        return prompt.shape[1] + NEW_TOKENS

    def _new_tokens(self, output, prompt):
        return output[:, prompt.shape[1] :]

    def _pad_prompts(self, prompts, pad_token_id):
        """Left padding, as decoder-only generation needs."""
        length = max(prompt.shape[1] for prompt in prompts)
        batch = torch.full((len(prompts), length), pad_token_id)
        mask = torch.zeros(len(prompts), length, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            batch[row, length - prompt.shape[1] :] = prompt[0]
            mask[row, length - prompt.shape[1] :] = 1
        return batch, mask

    def _full_logits(self, model, batch, mask, sequences):
        """Next-token logits (batch, new, vocab) of one uncached forward, with the positions generate() gives a
        left-padded prompt (counted over real tokens only)."""
        full_mask = torch.cat([mask, torch.ones(mask.shape[0], NEW_TOKENS, dtype=mask.dtype)], dim=1)
        position_ids = (full_mask.cumsum(-1) - 1).clamp(min=0)  # (batch, seq)
        logits = model(
            input_ids=sequences[:, :-1],
            attention_mask=full_mask[:, :-1],
            position_ids=position_ids[:, :-1],
            use_cache=False,
        ).logits
        return logits[:, batch.shape[1] - 1 :]

    def test_generate_continues_a_given_cache(self):
        model = self._model()
        prompt = self.tester.token_ids(model.config, 1, 5)
        expected = model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False)
        cache = DynamicCache(config=model.config)
        with torch.no_grad():
            model(input_ids=prompt[:, :-1], **{CACHE_KWARG: cache}, use_cache=True)
        continued = model.generate(prompt, **{CACHE_KWARG: cache}, max_new_tokens=NEW_TOKENS, do_sample=False)
        assert continued.tolist() == expected.tolist()


class TestEncoderDecoderCacheAndGeneration(CachedDecodingMixin, GenerateMixin):
    tester = ENCODER_DECODER

    def _new_cache(self, config, inputs, cache_kind):
        if cache_kind == "static":
            return EncoderDecoderCache(
                StaticCache(config=config, max_cache_len=inputs["decoder_input_ids"].shape[1] + 2),
                StaticCache(config=config, max_cache_len=inputs["input_ids"].shape[1]),
            )
        return EncoderDecoderCache(DynamicCache(config=config), DynamicCache(config=config))

    def _decode_step_by_step(self, model, inputs, cache):
        """Decoder logits (batch, tgt, vocab): the encoder runs once, the decoder PROMPT_LENGTH tokens then one."""
        encoder_outputs = model.get_encoder()(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        target = inputs["decoder_input_ids"]
        logits, start = [], 0
        for end in [PROMPT_LENGTH, *range(PROMPT_LENGTH + 1, target.shape[1] + 1)]:
            outputs = model(
                encoder_outputs=BaseModelOutput(last_hidden_state=encoder_outputs.last_hidden_state),
                attention_mask=inputs["attention_mask"],
                decoder_input_ids=target[:, start:end],
                **{CACHE_KWARG: cache},
                use_cache=True,
            )
            logits.append(outputs.logits)
            start = end
        return torch.cat(logits, dim=1)

    def _full_logits(self, model, batch, mask, sequences):
        """Decoder logits (batch, new, vocab) of one uncached forward over the generated target."""
        return model(input_ids=batch, attention_mask=mask, decoder_input_ids=sequences[:, :-1], use_cache=False).logits

    def _start(self, model, prompt):
        return torch.full((prompt.shape[0], 1), model.config.decoder_start_token_id)

    def _next_token_logits(self, model, prompt, generated):
        return model(input_ids=prompt, decoder_input_ids=generated, use_cache=False).logits[:, -1]

    def _output_length(self, prompt):
        return 1 + NEW_TOKENS

    def _new_tokens(self, output, prompt):
        return output[:, 1:]

    def _pad_prompts(self, prompts, pad_token_id):
        """Right padding of the source, as encoders usually get it."""
        length = max(prompt.shape[1] for prompt in prompts)
        batch = torch.full((len(prompts), length), pad_token_id)
        mask = torch.zeros(len(prompts), length, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            batch[row, : prompt.shape[1]] = prompt[0]
            mask[row, : prompt.shape[1]] = 1
        return batch, mask


# ---------------------------------------------------------------------------------------------- per-step work
@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_unpadded_decoding_steps_build_no_mask_and_match_the_full_forward(attn_implementation, monkeypatch):
    """A one-token step through a dynamic cache with no padding sees every key: the stack skips transformers' mask
    function (built only for the prompt) and the logits still equal one uncached forward."""
    from variformer.modeling import stacks

    config = DECODER.config(attn_implementation=attn_implementation)
    model = DECODER.lm_class(config).eval()
    input_ids = DECODER.token_ids(config, 2, PROMPT_LENGTH + NEW_TOKENS)
    mask = torch.ones_like(input_ids)
    mask_lengths = []
    create_causal_mask = stacks.create_causal_mask

    def recording_mask(**kwargs):
        mask_lengths.append(kwargs["inputs_embeds"].shape[1])
        return create_causal_mask(**kwargs)

    monkeypatch.setattr(stacks, "create_causal_mask", recording_mask)
    with torch.no_grad():
        expected = model(input_ids=input_ids, attention_mask=mask, use_cache=False).logits
        steps = TestDecoderCacheAndGeneration()._decode_step_by_step(
            model, {"input_ids": input_ids, "attention_mask": mask}, DynamicCache(config=config)
        )
    assert_close(steps, expected)
    assert mask_lengths == [input_ids.shape[1], PROMPT_LENGTH]  # the full forward and the prompt, no step


def test_padded_decoding_steps_keep_the_mask():
    """With padding a step cannot see every key: the mask is built and the padded position stays hidden."""
    config = DECODER.config(attn_implementation="eager")
    model = DECODER.lm_class(config).eval()
    input_ids = DECODER.token_ids(config, 1, PROMPT_LENGTH + 1)
    with torch.no_grad():
        cache = DynamicCache(config=config)
        model(input_ids=input_ids[:, :-1], **{CACHE_KWARG: cache}, use_cache=True)
        mask = torch.ones_like(input_ids)
        mask[0, 0] = 0
        padded = model(input_ids=input_ids[:, -1:], attention_mask=mask, **{CACHE_KWARG: cache}).logits
        cache.crop(-1)
        unpadded = model(
            input_ids=input_ids[:, -1:], attention_mask=torch.ones_like(mask), **{CACHE_KWARG: cache}
        ).logits
    assert (padded - unpadded).abs().max() > 1e-4


@pytest.mark.parametrize("padded", [False, True], ids=["unpadded", "left_padded"])
@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_static_cache_steps_build_transformers_mask_directly(attn_implementation, padded):
    """generate()'s mask for each one-token step through a static cache is built by `decode_step_mask` (not by the
    general function), and equals what transformers' general `create_masks_for_generate` builds from the same
    arguments. Unpadded, generate() drops the all-ones mask, so the steps arrive with `attention_mask=None`."""
    from transformers.masking_utils import create_masks_for_generate

    from variformer.modeling.cache_names import MASK_CACHE_KWARG
    from variformer.modeling.stacks import decode_step_mask

    config = DECODER.config(attn_implementation=attn_implementation)
    model = DECODER.lm_class(config).eval()
    input_ids = DECODER.token_ids(config, 2, 5)
    mask = torch.ones_like(input_ids)
    if padded:
        mask[1, :2] = 0
    built = model.create_masks_for_generate
    steps = []

    def comparing(**kwargs):
        ours = built(**kwargs)
        if kwargs["inputs_embeds"].shape[1] == 1:
            direct = decode_step_mask(
                config, kwargs["inputs_embeds"], kwargs["attention_mask"], kwargs[MASK_CACHE_KWARG]
            )
            steps.append((kwargs["attention_mask"], direct, ours, create_masks_for_generate(**kwargs)))
        return ours

    model.create_masks_for_generate = comparing
    model.generate(
        input_ids, attention_mask=mask, max_new_tokens=NEW_TOKENS, do_sample=False, cache_implementation="static"
    )
    assert len(steps) == NEW_TOKENS - 1
    for step_mask, direct, ours, reference in steps:
        assert (step_mask is not None) == padded
        assert direct is not None and torch.equal(direct, ours)
        assert ours.dtype == reference.dtype and ours.shape == reference.shape and torch.equal(ours, reference)


@pytest.mark.parametrize("padded", [False, True], ids=["unpadded", "left_padded"])
@pytest.mark.parametrize("cache_class", [DynamicCache, StaticCache], ids=["dynamic", "static"])
@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_one_token_step_mask_equals_transformers(attn_implementation, cache_class, padded, monkeypatch):
    """`decode_step_mask` after a prompt equals transformers' `create_causal_mask` for the next one-token step, and
    the stack uses it (never calling the general function for the step), with the step's logits equal to those of a
    full forward over the prompt and the token."""
    from transformers.masking_utils import create_causal_mask

    import variformer.modeling.stacks as stacks
    from variformer.modeling.cache_names import MASK_CACHE_KWARG
    from variformer.modeling.stacks import decode_step_mask

    config = DECODER.config(attn_implementation=attn_implementation)
    model = DECODER.lm_class(config).eval()
    input_ids = DECODER.token_ids(config, 2, PROMPT_LENGTH + 1)
    mask = torch.ones_like(input_ids)
    if padded:
        mask[1, :2] = 0
    cache = DynamicCache(config=config) if cache_class is DynamicCache else StaticCache(config=config, max_cache_len=9)
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)  # what generate() passes
    with torch.no_grad():
        prompt = dict(input_ids=input_ids[:, :-1], attention_mask=mask[:, :-1], position_ids=position_ids[:, :-1])
        model(**prompt, **{CACHE_KWARG: cache}, use_cache=True)
        step_embeds = torch.empty((2, 1, 0))
        direct = decode_step_mask(config, step_embeds, mask, cache)
        reference = create_causal_mask(
            config=config,
            inputs_embeds=step_embeds,
            attention_mask=mask,
            position_ids=position_ids[:, -1:],
            **{MASK_CACHE_KWARG: cache},
        )
        with monkeypatch.context() as patch:
            patch.setattr(stacks, "create_causal_mask", None)  # calling it would raise a TypeError
            step = model(
                input_ids=input_ids[:, -1:],
                attention_mask=mask,
                position_ids=position_ids[:, -1:],
                **{CACHE_KWARG: cache},
            ).logits[:, -1]
        full = model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids).logits[:, -1]
    assert direct is not None
    if reference is None:  # transformers' sdpa path skips a mask that hides nothing
        assert attn_implementation == "sdpa" and not padded and bool(direct.all())
    else:
        assert direct.dtype == reference.dtype and torch.equal(direct.expand_as(reference), reference)
    assert_close(step, full)
