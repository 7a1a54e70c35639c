"""`--resume` after an interrupted run continues from the saved step with the saved optimizer state, and ends
where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from variformer.training import run_recipe
from variformer.training.checkpoints import checkpoint_problem

from .conftest import REPO_ROOT, TINY_RECIPES, read_metrics, tiny_recipe

SETTINGS = [
    "training.max_steps=6",
    "training.save_steps=3",
    "training.logging_steps=1",
    "training.eval_strategy='no'",
    "training.save_total_limit=null",
]


class SimulatedKill(Exception):
    pass


class KillAfterSave(TrainerCallback):
    """Stops the run right after checkpoint-`step` is written, as a SIGKILL between two steps would."""

    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise SimulatedKill(f"killed after step {self.step}")


class OptimizerProbe(TrainerCallback):
    """Records the step and a copy of the optimizer state when the first training step begins."""

    step: int | None = None
    state: dict | None = None

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        if self.state is None:
            self.step = state.global_step
            self.state = {
                k: {n: t.clone() if torch.is_tensor(t) else t for n, t in v.items()}
                for k, v in optimizer.state_dict()["state"].items()
            }


def test_resume_continues_from_the_saved_step_with_the_same_optimizer_state(tmp_path, shared_data):
    uninterrupted, interrupted = tmp_path / "uninterrupted", tmp_path / "interrupted"
    run_recipe(tiny_recipe("decoder-lm-multi30k-xsum", uninterrupted, *SETTINGS))

    with pytest.raises(SimulatedKill):
        run_recipe(tiny_recipe("decoder-lm-multi30k-xsum", interrupted, *SETTINGS), callbacks=[KillAfterSave(3)])
    assert (interrupted / "checkpoint-3").is_dir() and not (interrupted / "metrics.json").exists()

    probe = OptimizerProbe()
    run_recipe(tiny_recipe("decoder-lm-multi30k-xsum", interrupted, *SETTINGS), resume=True, callbacks=[probe])
    resumed, reference = read_metrics(interrupted), read_metrics(uninterrupted)

    assert resumed["resumed_from"].endswith("checkpoint-3") and resumed["global_step"] == 6
    assert probe.step == 3  # the first step run after resuming is step 4
    saved = torch.load(interrupted / "checkpoint-3" / "optimizer.pt", weights_only=True)["state"]
    assert saved and saved.keys() == probe.state.keys()
    for index, tensors in saved.items():
        for name, tensor in tensors.items():
            torch.testing.assert_close(probe.state[index][name], tensor, rtol=0, atol=0)

    # nothing lost: the same losses at every step and the same final weights as the uninterrupted run
    assert [step for step, _ in resumed["loss_curve"]] == [1, 2, 3, 4, 5, 6]
    torch.testing.assert_close(
        torch.tensor(resumed["loss_curve"]), torch.tensor(reference["loss_curve"]), rtol=1e-5, atol=1e-5
    )
    final, expected = (
        load_file(str(folder / "final" / "model.safetensors")) for folder in (interrupted, uninterrupted)
    )
    assert final.keys() == expected.keys()
    for name in final:
        torch.testing.assert_close(final[name], expected[name], rtol=1e-5, atol=1e-6)


def test_resume_without_checkpoint_starts_from_scratch(tmp_path, shared_data):
    run_recipe(
        tiny_recipe(
            "decoder-lm-multi30k-xsum",
            tmp_path,
            "training.max_steps=2",
            "training.save_strategy='no'",
            "training.eval_strategy='no'",
        ),
        resume=True,
    )
    metrics = read_metrics(tmp_path)
    assert metrics["resumed_from"] is None and metrics["global_step"] == 2


def test_resume_skips_an_incomplete_newest_checkpoint(tmp_path, shared_data):
    """A run killed while saving checkpoint-6 (truncated weights, no trainer_state.json): `variformer train
    --resume` continues from checkpoint-3, says so and that checkpoint-6 was skipped, and ends as the full run."""
    output = tmp_path / "run"
    run_recipe(tiny_recipe("decoder-lm-multi30k-xsum", output, *SETTINGS))
    reference = read_metrics(output)
    (output / "metrics.json").unlink()
    newest = output / "checkpoint-6"
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    (newest / "trainer_state.json").unlink()
    assert checkpoint_problem(newest).startswith("no trainer_state.json")

    command = [
        sys.executable,
        "-m",
        "variformer.cli",
        "train",
        str(TINY_RECIPES / "decoder-lm-multi30k-xsum.yaml"),
        "--resume",
        "--output-dir",
        str(output),
        *(f"--set={setting}" for setting in SETTINGS),
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=600,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert f"--resume: skipped {newest}, it is incomplete (no trainer_state.json)" in result.stderr
    assert "left in place, not deleted" in result.stderr
    assert f"--resume: continuing from {output / 'checkpoint-3'}" in result.stderr

    resumed = json.loads((output / "metrics.json").read_text())
    assert resumed["resumed_from"] == str(output / "checkpoint-3") and resumed["global_step"] == 6
    assert [step for step, _ in resumed["loss_curve"]] == [1, 2, 3, 4, 5, 6]
    torch.testing.assert_close(
        torch.tensor(resumed["loss_curve"]), torch.tensor(reference["loss_curve"]), rtol=1e-5, atol=1e-5
    )
    assert checkpoint_problem(newest) is None  # training reached step 6 again and saved a complete checkpoint


def test_loss_curve_without_losses_draws_a_note_not_an_empty_legend(tmp_path):
    """A finished run resumed only to score logs no loss: the plot says so, and matplotlib warns about nothing."""
    import warnings

    from variformer.training.progress import plot_loss_curve

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = plot_loss_curve([], [], tmp_path / "loss.png", "resumed")
        plot_loss_curve([(1, 2.0), (2, 1.5)], [(2, 1.7)], tmp_path / "curve.png", "trained")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "curve.png").stat().st_size > 0
