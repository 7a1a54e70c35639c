"""Checks that need a CUDA device: bf16, SDPA's flash kernel, torch.compile, the chunked loss under autocast.

They skip without a GPU; `benchmarks/gpu_check.sh` runs them (`pytest -m gpu`) together with the GPU benchmarks.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import CompileConfig

from .testers import DECODER, ENCODER, ENCODER_DECODER, IGNORE_DYNAMO_AUTOGRAD_CTX_WARNING, assert_close

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; none here"),
]
TESTERS = [DECODER, ENCODER, ENCODER_DECODER]


def _model(tester, dtype=torch.bfloat16, **overrides):
    config = tester.config(
        hidden_size=64, num_attention_heads=4, hidden_dropout_prob=0.0, attention_dropout=0.0, **overrides
    )
    return tester.lm_class(config).to("cuda", dtype).eval()


def _cuda(inputs: dict) -> dict:
    return {name: value.cuda() for name, value in inputs.items()}


@pytest.mark.parametrize("tester", TESTERS, ids=lambda tester: tester.architecture)
def test_bf16_forward_follows_fp32(tester):
    model32 = _model(tester, torch.float32)
    model16 = _model(tester, torch.bfloat16)
    model16.load_state_dict(model32.state_dict())
    inputs = _cuda(tester.inputs(model32.config))
    with torch.no_grad():
        expected = model32(**inputs).logits
        actual = model16(**inputs).logits.float()
    assert_close(actual, expected, atol=0.1, rtol=0.05)


def test_flash_kernel_runs_the_decoder_and_matches_the_math_kernel():
    """Causal training-shape input (no padding): the stack passes no mask, so SDPA's flash kernel can run it."""
    model = _model(DECODER)
    input_ids = DECODER.token_ids(model.config, 2, 16).cuda()
    with torch.no_grad():
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            flash = model(input_ids=input_ids).logits.float()
        with sdpa_kernel(SDPBackend.MATH):
            math = model(input_ids=input_ids).logits.float()
    assert_close(flash, math, atol=0.05, rtol=0.05)


def test_compiled_static_cache_generation_matches_eager_on_cuda():
    model = _model(DECODER, eos_token_id=None)
    prompt = DECODER.token_ids(model.config, 2, 5).cuda()
    kwargs = dict(
        attention_mask=torch.ones_like(prompt), max_new_tokens=8, do_sample=False, cache_implementation="static"
    )
    expected = model.generate(prompt, disable_compile=True, **kwargs)
    compiled = model.generate(prompt, compile_config=CompileConfig(fullgraph=True), **kwargs)
    assert compiled.tolist() == expected.tolist()
    assert model._compiled_call is not None, "generate() did not compile the forward"


@pytest.mark.parametrize("tester", TESTERS, ids=lambda tester: tester.architecture)
def test_chunked_loss_under_bf16_autocast_equals_the_plain_loss(tester):
    """The chunked loss matmuls in the autocast dtype, as the plain head does; loss and gradients agree."""
    chunked = _model(tester, torch.float32, lm_loss_chunk_size=7).train()
    plain = _model(tester, torch.float32, lm_loss_chunk_size=None).train()
    plain.load_state_dict(chunked.state_dict())
    inputs = _cuda(tester.inputs(chunked.config))
    labels = (inputs["decoder_input_ids"] if tester.is_encoder_decoder else inputs["input_ids"]).clone()
    losses = []
    for model in (chunked, plain):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(**inputs, labels=labels).loss
        loss.backward()
        losses.append(loss.detach())
    assert_close(losses[0], losses[1], atol=2e-2, rtol=1e-2)
    plain_grads = dict(plain.named_parameters())
    for name, parameter in chunked.named_parameters():
        assert_close(parameter.grad, plain_grads[name].grad, atol=2e-2, rtol=5e-2, msg=name)


@IGNORE_DYNAMO_AUTOGRAD_CTX_WARNING
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")  # raised inside inductor
def test_compiled_training_step_with_the_chunked_loss():
    model = _model(DECODER, torch.float32).train()
    input_ids = DECODER.token_ids(model.config, 2, 16).cuda()
    eager_loss = model(input_ids=input_ids, labels=input_ids).loss
    compiled = torch.compile(model, fullgraph=True)
    compiled_loss = compiled(input_ids=input_ids, labels=input_ids).loss
    compiled_loss.backward()
    assert_close(compiled_loss, eager_loss, atol=1e-4, rtol=1e-4)
    assert all(parameter.grad is not None for parameter in model.parameters() if parameter.requires_grad)
