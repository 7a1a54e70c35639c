"""Where batch-1 CPU decoding of the 6x384 model loses to stock GPT-2: the layers' matrix-vector products (issue 18,
section 2).

One decoding step multiplies one token's vector by every layer's weights. Stock GPT-2 keeps its weights as `Conv1D`
(in, out) matrices with q, k and v fused into one `c_attn`; Variformer, like Llama, BERT and T5 in transformers,
keeps `nn.Linear` (out, in) matrices with separate `q_proj`, `k_proj`, `v_proj` (checkpoint keys, LoRA targets and
tensor-parallel plans name them). This times the same products four ways on the weights of the benchmark's two
models (the converted model holds the same numbers): each model's own, and the two other combinations of layout and
fusion, to tell which of the two differences costs the time. Calls alternate (a, b, c, d, d, c, b, a, ...) within one
process, so that a shared machine's load falls on all four alike.

    python -m benchmarks.gemv_layout --output benchmarks/results/<date>-cpu-gemv-layout.json

Legend: hidden = model width, inner = MLP width, heads * head_dim = hidden.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional

from variformer._files import atomic_write_text

from .decoding import overhead_models
from .timing import measure_alternating

STEPS_PER_CALL = 10  # one timed call runs this many steps' products: a few ms each, too short to time alone


def layer_products(models: dict) -> dict:
    """{form: a function running `STEPS_PER_CALL` steps' layer products (all layers, batch 1)} for four weight
    forms."""
    stock, ours = models["stock"].transformer.h, models["variformer"].model.layers
    hidden = ours[0].self_attn.q_proj.in_features
    token, inner_token = torch.randn(1, hidden), torch.randn(1, ours[0].mlp.down_proj.in_features)

    def linear_weights(layer, fused: bool) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(input, (out, in) weight, bias) per product of one Variformer layer."""
        attention, mlp = layer.self_attn, layer.mlp
        projections = [attention.q_proj, attention.k_proj, attention.v_proj]
        if fused:
            weight = torch.cat([p.weight for p in projections])  # (3 * hidden, hidden)
            attention_products = [(token, weight, torch.cat([p.bias for p in projections]))]
        else:
            attention_products = [(token, p.weight, p.bias) for p in projections]
        rest = [(token, attention.o_proj), (token, mlp.up_proj), (inner_token, mlp.down_proj)]
        return attention_products + [(x, m.weight, m.bias) for x, m in rest]

    def conv_weights(layer) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(input, (in, out) weight, bias) per product of one stock GPT-2 layer."""
        modules = [(token, layer.attn.c_attn), (token, layer.attn.c_proj), (token, layer.mlp.c_fc)]
        return [(x, m.weight, m.bias) for x, m in modules + [(inner_token, layer.mlp.c_proj)]]

    def split_conv_weights(layer) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Variformer's separate products, with each weight stored (in, out)."""
        return [(x, weight.t().contiguous(), bias) for x, weight, bias in linear_weights(layer, fused=False)]

    forms = {
        "variformer: linear (out, in), separate q/k/v": ("linear", [linear_weights(x, False) for x in ours]),
        "linear (out, in), fused qkv": ("linear", [linear_weights(x, True) for x in ours]),
        "(in, out), separate q/k/v": ("addmm", [split_conv_weights(x) for x in ours]),
        "stock GPT-2: Conv1D (in, out), fused qkv": ("addmm", [conv_weights(x) for x in stock]),
    }

    def runner(kind: str, layers: list) -> Callable[[], None]:
        def run() -> None:
            for _ in range(STEPS_PER_CALL):
                for products in layers:
                    for x, weight, bias in products:
                        functional.linear(x, weight, bias) if kind == "linear" else torch.addmm(bias, x, weight)

        return run

    return {name: runner(kind, layers) for name, (kind, layers) in forms.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt2-6x384")
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cpu = torch.device("cpu")
    with torch.no_grad():
        steps = layer_products(overhead_models(args.model, "sdpa", seed=0, device=cpu))
        timings = measure_alternating(steps, cpu, warmup=5, repeats=args.rounds)
    medians_us = {name: timing.median_s * 1e6 / STEPS_PER_CALL for name, timing in timings.items()}
    ours = medians_us["variformer: linear (out, in), separate q/k/v"]
    report = {
        "what": "one decoding step's layer products (all layers, batch 1, fp32, 1 thread), median microseconds",
        "model": args.model,
        "versions": {"torch": torch.__version__},
        "median_us": medians_us,
        "speed_vs_variformer": {name: ours / value for name, value in medians_us.items()},
    }
    atomic_write_text(args.output, json.dumps(report, indent=2) + "\n")
    for name, value in medians_us.items():
        print(f"{name}: {value:,.0f} us ({ours / value:.2f}x Variformer's)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
