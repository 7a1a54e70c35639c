"""`--resume` after an interrupted run continues from the saved step with the saved optimizer state, and ends
where an uninterrupted run ends."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from variformer.training import run_recipe

from .conftest import read_metrics, tiny_recipe

SETTINGS = ["training.max_steps=6", "training.save_steps=3", "training.logging_steps=1",
            "training.eval_strategy='no'", "training.save_total_limit=null"]


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
            self.state = {k: {n: t.clone() if torch.is_tensor(t) else t for n, t in v.items()}
                          for k, v in optimizer.state_dict()["state"].items()}


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
    torch.testing.assert_close(torch.tensor(resumed["loss_curve"]), torch.tensor(reference["loss_curve"]),
                               rtol=1e-5, atol=1e-5)
    final, expected = (load_file(str(folder / "final" / "model.safetensors")) for folder in (interrupted,
                                                                                           uninterrupted))
    assert final.keys() == expected.keys()
    for name in final:
        torch.testing.assert_close(final[name], expected[name], rtol=1e-5, atol=1e-6)


def test_resume_without_checkpoint_starts_from_scratch(tmp_path, shared_data):
    run_recipe(tiny_recipe("decoder-lm-multi30k-xsum", tmp_path, "training.max_steps=2", "training.save_strategy='no'",
                           "training.eval_strategy='no'"), resume=True)
    metrics = read_metrics(tmp_path)
    assert metrics["resumed_from"] is None and metrics["global_step"] == 2
