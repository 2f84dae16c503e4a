"""The epoch loop: one module's run from its last checkpoint to its last epoch.

:func:`keras_hdl.training.steps.distributed_step` runs the trainers' own ``train_step`` on every
replica (``model.fit`` fails under MultiWorkerMirroredStrategy in Keras 3.15). Every epoch draws its
samples from (seed, epoch) and the optimizer's step counter seeds the background noise, so a resumed
run continues exactly where the last completed epoch left it: only the interrupted epoch is lost.
With a weight average (:mod:`keras_hdl.training.averaging`) every step updates it after the optimizers;
the validation figures, the best epoch and the saved network are the average's (the validation loss
terms stay the trained network's).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import keras
import tensorflow as tf

from keras_hdl.config import build_from_config
from keras_hdl.precision import dtype_policy
from keras_hdl.training.distribute import data_sharded
from keras_hdl.training.run_folder import MetricsLog, write_state
from keras_hdl.training.steps import distributed_step
from keras_hdl.training.tasks import ModuleRun


def float32_network(run: ModuleRun) -> keras.Model:
    """The evaluated network (:attr:`ModuleRun.evaluated_network`), under mixed precision a float32 copy
    with its weights (for saving)."""
    network = run.evaluated_network
    if network.dtype_policy.name == "float32":
        return network
    with dtype_policy("float32"):
        copy = build_from_config(run.network_config)
    copy.set_weights(network.get_weights())
    return copy


def _run_epoch(run: ModuleRun, strategy, train_step, epoch: int, writer, verbose: int) -> dict[str, float]:
    """One epoch of ``run.steps_per_epoch`` distributed steps; returns the epoch's mean training figures."""
    dataset = strategy.experimental_distribute_dataset(data_sharded(run.make_dataset(epoch)))
    run.trainer.reset_metrics()
    shown = [metric.name for metric in run.trainer.metrics if not metric.name.endswith("_weighted")]
    progress = keras.utils.Progbar(run.steps_per_epoch, verbose=verbose, stateful_metrics=shown)
    logs: dict[str, float] = {}
    first_step = epoch * run.steps_per_epoch
    for step, batch in zip(range(run.steps_per_epoch), dataset, strict=False):
        logs = {name: float(value) for name, value in train_step(batch).items()}
        if run.average is not None:
            run.average.update()
        progress.update(step + 1, [(name, logs[name]) for name in shown])
        with writer.as_default(step=first_step + step + 1):
            for name, value in logs.items():
                tf.summary.scalar(f"step/{name}", value)
    return logs


def _validation_losses(run: ModuleRun, test_step, validation) -> dict[str, float]:
    """The trainer's loss terms averaged over the (distributed) validation batches."""
    run.trainer.reset_metrics()
    logs = {}
    for batch in validation:
        logs = test_step(batch)
    return {name: float(value) for name, value in logs.items()}


def _rounded(value: float) -> float:
    return float(f"{float(value):.6g}")


def _save_best(run: ModuleRun, checkpoint_dir: Path) -> None:
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    partial = checkpoint_dir / ".best.partial.keras"  # Keras wants the .keras suffix
    float32_network(run).save(partial)
    os.replace(partial, checkpoint_dir / "best.keras")


def train_module(
    run: ModuleRun, strategy, out_dir: Path, work_dir: Path, log: MetricsLog, state: dict, verbose: int
) -> None:
    """Train one module from its last checkpoint to ``run.epochs``; its best figures go into ``state``.

    Restores from ``out_dir`` (the chief's run folder) and writes into ``work_dir``
    (the same folder on the chief, a temporary one on the other workers).
    """
    checkpoint_dir = work_dir / "checkpoints" / run.name
    manager = tf.train.CheckpointManager(run.checkpoint, checkpoint_dir, max_to_keep=1, checkpoint_name="last")
    latest = tf.train.latest_checkpoint(out_dir / "checkpoints" / run.name)
    if latest:
        run.checkpoint.restore(latest).assert_existing_objects_matched()
    best = state["best"].get(run.name)
    train_step = distributed_step(run.trainer, strategy)
    test_step = distributed_step(run.trainer, strategy, training=False)
    validation = strategy.experimental_distribute_dataset(data_sharded(run.validation))
    writer = tf.summary.create_file_writer(str(work_dir / "tensorboard" / run.name))
    for epoch in range(int(run.epoch.numpy()), run.epochs):
        if verbose:
            print(f"{run.name}: epoch {epoch + 1}/{run.epochs}", flush=True)
        start = time.perf_counter()
        train_logs = _run_epoch(run, strategy, train_step, epoch, writer, verbose)
        validation_losses = _validation_losses(run, test_step, validation)
        figures = run.validation_metrics(run.evaluated_network, run.validation)
        seconds = time.perf_counter() - start
        row = {"module": run.name, "epoch": epoch + 1, "seconds": round(seconds, 2)}
        row |= {f"train_{name}": _rounded(value) for name, value in train_logs.items()}
        row |= {f"val_{name}": _rounded(value) for name, value in validation_losses.items()}
        row |= {f"val_{name}": _rounded(value) for name, value in figures.items()}
        log.add(row)
        with writer.as_default(step=epoch + 1):
            for name, value in row.items():
                if name.startswith(("train_", "val_")):
                    tf.summary.scalar(f"epoch/{name}", value)
        writer.flush()
        if verbose:
            shown = ", ".join(f"{name} {value:.4g}" for name, value in figures.items())
            print(f"{run.name}: epoch {epoch + 1} validation: {shown}", flush=True)
        run.epoch.assign(epoch + 1)
        score = {**validation_losses, **figures}[run.selection]
        if best is None or score <= best[run.selection]:
            best = {"epoch": epoch + 1, run.selection: score, **figures}
            _save_best(run, checkpoint_dir)
        state["best"][run.name] = best
        state["completed_epochs"][run.name] = epoch + 1
        write_state(work_dir, state)
        manager.save()  # last: a run killed before this redoes the epoch, identically
    writer.close()
