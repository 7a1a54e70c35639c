"""What a training run shows while it runs and leaves behind: one progress line per log step, the loss curve PNG.

`ProgressLine` is a `TrainerCallback` that prints, on the main process, one line per logging step:

    step 500/2105 (24%) | loss 0.3412 | lr 8.1e-05 | 1,234 tok/s | 12.3 ex/s | elapsed 5m02s | ETA 16m10s

and, during an evaluation, one line every tenth of its batches. Tokens are the non-padding input tokens
`Trainer` counts (`include_num_input_tokens_seen="non_padding"`); the rates are over the whole run so far, so the
ETA does not jump with a single slow step. It replaces tqdm's bars, which interleave badly with log lines.
"""

from __future__ import annotations

import time
from pathlib import Path

from transformers import TrainerCallback


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


class ProgressLine(TrainerCallback):
    """One line per log step: step, loss, learning rate, tokens/s, examples/s, elapsed, ETA."""

    def __init__(self, print_fn=print):
        self.print = print_fn
        self._started = None
        self._first_step = 0
        self._first_tokens = 0
        self._eval_seen = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._started = time.perf_counter()
        self._first_step = state.global_step  # a resumed run's rates count only the steps run here
        self._first_tokens = state.num_input_tokens_seen or 0

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or self._started is None:
            return
        if "loss" not in logs and "eval_loss" not in logs:
            return
        if "eval_loss" in logs:
            shown = {
                key[len("eval_") :]: value
                for key, value in logs.items()
                if key.startswith("eval_") and isinstance(value, float) and not key.endswith(("runtime", "per_second"))
            }
            self.print(
                f"eval at step {state.global_step}: "
                + " | ".join(f"{key} {value:.4f}" for key, value in shown.items()),
                flush=True,
            )
            return
        elapsed = time.perf_counter() - self._started
        steps = state.global_step - self._first_step
        total = state.max_steps
        parts = [
            f"step {state.global_step}/{total} ({100 * state.global_step / max(total, 1):.0f}%)",
            f"loss {logs['loss']:.4f}",
        ]
        if "learning_rate" in logs:
            parts.append(f"lr {logs['learning_rate']:.2e}")
        if elapsed > 0 and steps > 0:
            tokens = (state.num_input_tokens_seen or 0) - self._first_tokens
            if tokens:
                parts.append(f"{tokens / elapsed:,.0f} tok/s")
            examples = steps * args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
            parts.append(f"{examples / elapsed:,.1f} ex/s")
            parts.append(f"elapsed {_duration(elapsed)}")
            parts.append(f"ETA {_duration(elapsed / steps * (total - state.global_step))}")
        self.print(" | ".join(parts), flush=True)

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        if not state.is_world_process_zero or eval_dataloader is None:
            return
        try:
            total = len(eval_dataloader)
        except TypeError:
            return
        self._eval_seen += 1
        every = max(1, total // 10)
        if self._eval_seen % every == 0 or self._eval_seen == total:
            self.print(f"  evaluating: batch {self._eval_seen}/{total}", flush=True)
        if self._eval_seen >= total:
            self._eval_seen = 0

    def on_evaluate(self, args, state, control, **kwargs):
        self._eval_seen = 0

    on_predict = on_evaluate


def plot_loss_curve(loss_curve: list, eval_curve: list, path: Path, title: str) -> Path:
    """Training loss per log step and evaluation loss per evaluation, as a PNG (written atomically)."""
    from matplotlib.figure import Figure

    from .._files import atomic_write_png

    figure = Figure(figsize=(7, 4), dpi=110, layout="constrained")
    axes = figure.add_subplot()
    if loss_curve:
        steps, losses = zip(*loss_curve)
        axes.plot(steps, losses, label="training loss (per log step)", linewidth=1)
    if eval_curve:
        steps, losses = zip(*eval_curve)
        axes.plot(steps, losses, "o-", label="validation loss", linewidth=1.5)
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("cross-entropy")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    if loss_curve or eval_curve:
        axes.legend()
    else:  # a run that logged no loss yet (a resumed, finished run): say so rather than draw empty axes
        axes.text(0.5, 0.5, "no loss logged", ha="center", va="center", transform=axes.transAxes)
    return atomic_write_png(path, figure)


__all__ = ["ProgressLine", "plot_loss_curve"]
