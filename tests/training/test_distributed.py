"""Data parallelism on CPU: `accelerate launch` runs the same recipe in 2 processes (DDP over gloo); the run
completes and its losses match a single-process run with the same global batch.

accelerate 1.x only starts several CPU processes through mpirun (`--cpu` plus an MPI host file); without MPI,
`--multi_gpu` uses its torchrun launcher, and on a machine without CUDA the recipe's default `use_cpu: true`
makes each process a CPU DDP worker with the gloo backend.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import torch

from variformer.training import run_recipe

from .conftest import REPO_ROOT, TINY_RECIPES, read_metrics, tiny_recipe

STEPS = 6
PER_PROCESS_BATCH = 4
# sequential sampling: rank r takes batches r, r+2, ... of the sequence, so one step of 2 processes x 4 blocks
# sees the same 8 blocks as one step of 1 process x 8 blocks; packed blocks all have the same length.
COMMON = [
    "training.train_sampling_strategy=sequential",
    "training.logging_steps=1",
    "training.save_strategy='no'",
    "training.eval_strategy='no'",
    f"training.max_steps={STEPS}",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_cpu_ddp_matches_single_process(tmp_path, shared_data):
    distributed = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.accelerate_cli",
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        "-m",
        "variformer.cli",
        "train",
        str(TINY_RECIPES / "decoder-lm-multi30k-xsum.yaml"),
        "--output-dir",
        str(distributed),
        "--set",
        f"training.per_device_train_batch_size={PER_PROCESS_BATCH}",
        *[part for setting in COMMON for part in ("--set", setting)],
    ]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    single = tmp_path / "single"
    run_recipe(
        tiny_recipe(
            "decoder-lm-multi30k-xsum", single, *COMMON, f"training.per_device_train_batch_size={2 * PER_PROCESS_BATCH}"
        )
    )

    ddp, reference = read_metrics(distributed), read_metrics(single)
    assert ddp["world_size"] == 2 and reference["world_size"] == 1
    assert ddp["global_step"] == reference["global_step"] == STEPS
    assert [step for step, _ in ddp["loss_curve"]] == list(range(1, STEPS + 1))
    torch.testing.assert_close(
        torch.tensor(ddp["loss_curve"]), torch.tensor(reference["loss_curve"]), rtol=1e-4, atol=1e-4
    )
    # evaluation shards the validation blocks over the 2 processes (padding the odd one out by repetition)
    assert abs(ddp["validation"]["validation_loss"] - reference["validation"]["validation_loss"]) < 1e-2
    assert not (distributed / "final").joinpath("adapter_config.json").exists()
    assert (distributed / "final" / "model.safetensors").is_file()
