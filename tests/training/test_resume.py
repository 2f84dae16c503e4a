"""Kill-and-resume: a `keras-hdl train` process killed after its first checkpoint resumes to the
exact weights, optimizer state and metrics of a run that was never interrupted."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

EPOCHS = 4


def checkpoint_tensors(run_dir: Path, module: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoints" / module))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map() if "VARIABLE_VALUE" in name}


def metric_rows(run_dir: Path) -> list[dict]:
    with (run_dir / "metrics.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def start_and_kill_after_first_checkpoint(args: list[str], run_dir: Path) -> int:
    """Start `keras-hdl train ARGS`, SIGKILL it once its first checkpoint exists; returns completed epochs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_hdl", "train", *args, "--out", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    marker = run_dir / "checkpoints" / "phase" / "checkpoint"
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert process.poll() is None, process.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint after 300 s"
        time.sleep(0.02)
    process.kill()
    process.wait()
    process.stderr.close()
    return int(tf.train.load_checkpoint(str(marker.parent)).get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE"))


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_runs_weights(tiny_phantom, tmp_path):
    from keras_hdl.config import load_preset
    from keras_hdl.training.train import TrainOptions, train

    args = ["--module", "phase", "--preset", "tiny", "--epochs", str(EPOCHS), "--data", str(tiny_phantom)]
    killed = tmp_path / "killed"
    completed = start_and_kill_after_first_checkpoint(args, killed)
    assert 1 <= completed < EPOCHS  # killed mid-run, after at least one checkpoint
    resumed = subprocess.run(
        [sys.executable, "-m", "keras_hdl", "train", "--resume", "--out", str(killed)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"phase: epoch {completed + 1}/{EPOCHS}" in resumed.stdout  # continued, did not restart
    assert "phase: epoch 1/" not in resumed.stdout

    reference = tmp_path / "reference"
    train(TrainOptions(reference, module="phase", preset="tiny", data=tiny_phantom, epochs=EPOCHS, verbose=0))

    steps = load_preset("tiny").phase.training.steps_per_epoch
    after, expected = checkpoint_tensors(killed, "phase"), checkpoint_tensors(reference, "phase")
    assert after["epoch/.ATTRIBUTES/VARIABLE_VALUE"] == EPOCHS
    assert after["optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"] == EPOCHS * steps
    assert after["discriminator_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"] == EPOCHS * steps
    assert after.keys() == expected.keys()
    for name, value in expected.items():  # weights and both Adams' moments, bit for bit
        np.testing.assert_array_equal(after[name], value, err_msg=name)

    rows, reference_rows = metric_rows(killed), metric_rows(reference)
    assert [int(row["epoch"]) for row in rows] == list(range(1, EPOCHS + 1))
    for row, expected_row in zip(rows, reference_rows, strict=True):
        for name in ("train_generator_loss", "train_discriminator_loss", "val_l1_foreground", "val_MSE"):
            assert row[name] == expected_row[name], (row["epoch"], name)
    state = json.loads((killed / "run.json").read_text())
    assert state["completed_epochs"] == {"phase": EPOCHS} and state["epochs"] == EPOCHS
