"""`keras-hdl train`: train the interpolator and/or the phase model into a run folder.

Run folder layout::

    RUN_DIR/
      config.yaml                  the merged preset (what --resume checks against)
      run.json                     data description, seed, strategy, precision, per-module progress
      background_noise.json        the phase background Gaussian fitted on the training set
      metrics.csv                  one row per module and epoch: train and validation figures
      checkpoints/<module>/last*   weights, optimizer state and epoch (tf.train.Checkpoint)
      checkpoints/<module>/best.keras   the network with the best validation loss so far
      tensorboard/<module>/        TensorBoard logs
      models/                      the best networks as a models folder (keras_hdl.model_store)

Every epoch draws its samples from (seed, epoch) and the optimizer's step counter
seeds the background noise, so a resumed run continues exactly where the last
completed epoch left it: only the interrupted epoch is lost.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import yaml

from keras_hdl import metrics as image_metrics
from keras_hdl.config import Preset, build_from_config, load_preset, preset_from_dict
from keras_hdl.errors import InputError
from keras_hdl.io_utils import atomic_path
from keras_hdl.model_store import ModelInfo, save_models
from keras_hdl.models import fit_background_noise
from keras_hdl.training.data import PipelineOptions, SliceCines, interpolation_dataset, phase_dataset
from keras_hdl.training.interpolator_trainer import InterpolationLoss, InterpolatorTrainer
from keras_hdl.training.pix2pix_trainer import Pix2PixLoss, Pix2PixTrainer
from keras_hdl.training.sources import TrainingData, load_training_data

MODULES = ("interpolator", "phase")
CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
METRICS_FILE = "metrics.csv"
BACKGROUND_FILE = "background_noise.json"
VALIDATION_SAMPLES_PER_CINE = 4
# DESIGN §4 validation metrics (upper case, as in the paper's tables; loss terms are lower case).
# On phase, MSE_W1 is the myocardium and MSE_W2 the foreground (normalised magnitude > −0.95).
INTERPOLATOR_METRICS = ("MSE", "MSE_W1", "MSE_W2", "PSNR_dB", "PSNR_paper_dB", "SSIM", "DICE")
PHASE_METRICS = ("MSE", "MSE_W1", "MSE_W2", "PSNR_dB", "PSNR_paper_dB", "SSIM")
VALIDATION_SEED = 7919


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """What `keras-hdl train` was asked for (see the command's --help)."""

    out_dir: Path
    module: str = "all"
    preset: str | None = None  # a name or a YAML path; None = cpu, or the run's own on --resume
    data: Path | None = None
    epochs: int | None = None
    resume: bool = False
    strategy: str = "auto"
    mixed_precision: str = "off"
    seed: int = 0
    verbose: int = 1

    def command_line(self, preset_name: str) -> str:
        """The `keras-hdl train` command that reproduces this run (recorded in the models folder)."""
        parts = ["keras-hdl train", f"--module {self.module}", f"--preset {preset_name}", f"--seed {self.seed}"]
        if self.data is not None:
            parts.append(f"--data {self.data}")
        if self.epochs is not None:
            parts.append(f"--epochs {self.epochs}")
        if self.mixed_precision != "off":
            parts.append(f"--mixed-precision {self.mixed_precision}")
        return " ".join(parts)

    @property
    def modules(self) -> tuple[str, ...]:
        if self.module == "all":
            return MODULES
        if self.module not in MODULES:
            raise InputError(f"--module {self.module!r}: choose interpolator, phase or all")
        return (self.module,)


# ------------------------------------------------------------------ run folder
def _resolve_preset(options: TrainOptions) -> Preset:
    config_path = options.out_dir / CONFIG_FILE
    if not options.resume:
        if options.out_dir.exists() and any(options.out_dir.iterdir()):
            raise InputError(
                f"run folder {options.out_dir} already holds a run; use --resume to continue it or another --out"
            )
        return load_preset(options.preset or "cpu")
    if not config_path.is_file():
        raise InputError(f"--resume: {options.out_dir} is not a run folder (no {CONFIG_FILE}); start a new run")
    saved = preset_from_dict(yaml.safe_load(config_path.read_text()), where=str(config_path))
    if options.preset is not None and load_preset(options.preset).as_dict() != saved.as_dict():
        raise InputError(
            f"--resume: {options.out_dir} was trained with another configuration than --preset/--config "
            f"{options.preset}; leave --preset/--config out to resume it as it was"
        )
    return saved


def _read_run_state(out_dir: Path) -> dict:
    path = out_dir / RUN_FILE
    return json.loads(path.read_text()) if path.is_file() else {"completed_epochs": {}}


def _write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


class MetricsLog:
    """metrics.csv: one row per (module, epoch), rewritten atomically after every epoch."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[dict] = []
        if path.is_file():
            with path.open(newline="") as handle:
                self.rows = list(csv.DictReader(handle))

    def add(self, row: dict) -> None:
        key = (row["module"], str(row["epoch"]))
        self.rows = [r for r in self.rows if (r["module"], str(r["epoch"])) != key] + [row]
        columns = ["module", "epoch", "seconds"]
        for existing in self.rows:
            columns += [name for name in existing if name not in columns]
        with atomic_path(self.path) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows)


# -------------------------------------------------------------------- modules
@dataclasses.dataclass
class ModuleRun:
    """One module's networks, trainer, optimizers and data, ready to train epoch by epoch."""

    name: str
    trainer: keras.Model
    network: keras.Model
    checkpoint: tf.train.Checkpoint
    epoch: tf.Variable
    make_dataset: Callable[[int], tf.data.Dataset]
    validation: tf.data.Dataset
    validation_metrics: Callable[[keras.Model, tf.data.Dataset], dict[str, float]]
    steps_per_epoch: int
    epochs: int
    selection: str  # the validation loss term whose lowest value picks the best network


def _pipeline(training, samples: int) -> PipelineOptions:
    return PipelineOptions(
        k_values=tuple(getattr(training, "k_values", (1,))),
        samples_per_cine=samples,
        batch_size=training.batch_size,
        augment=True,
    )


def _samples_per_cine(num_cines: int, steps: int, batch_size: int) -> int:
    return max(1, math.ceil(steps * batch_size / num_cines))


def _adam(training) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(training.learning_rate, beta_1=training.beta_1, beta_2=training.beta_2)


def image_figures(predicted: np.ndarray, target: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> dict[str, np.ndarray]:
    """DESIGN §4 metrics per image of (N, H, W) images in [−1, 1], with the ω1 / ω2 regions (N, H, W) bool."""
    return {
        "MSE": image_metrics.mse(predicted, target),
        "MSE_W1": image_metrics.region_mse(predicted, target, w1),
        "MSE_W2": image_metrics.region_mse(predicted, target, w2),
        "PSNR_dB": image_metrics.psnr(predicted, target),
        "PSNR_paper_dB": image_metrics.psnr_paper_compatible(predicted, target),
        "SSIM": image_metrics.ssim(predicted, target),
    }


def _mean_figures(per_batch: list[dict[str, np.ndarray]]) -> dict[str, float]:
    return {name: float(np.nanmean(np.concatenate([b[name] for b in per_batch]))) for name in per_batch[0]}


def interpolator_validation_metrics(network: keras.Model, dataset: tf.data.Dataset) -> dict[str, float]:
    """Validation metrics of the interpolator: ω1 = padded LV of the target, ω2 = its foreground; DICE."""
    per_batch = []
    for inputs, targets in dataset:
        outputs = network(inputs, training=False)
        predicted = np.asarray(outputs["magnitude"])[..., 0]
        target = targets["magnitude"].numpy()[..., 0]
        target_mask = targets["mask"].numpy()[..., 0]
        w1, w2 = image_metrics.lv_region(target_mask), image_metrics.foreground_region(target)
        figures = image_figures(predicted, target, w1, w2)
        figures["DICE"] = image_metrics.dice(np.asarray(outputs["mask"])[..., 0], target_mask)
        per_batch.append(figures)
    return _mean_figures(per_batch)


def per_direction(images) -> np.ndarray:
    """(B, H, W, C) → (B·C, H, W): each channel (phase direction) as its own image."""
    images = np.asarray(images)
    return np.moveaxis(images, -1, 1).reshape(-1, *images.shape[1:3])


def phase_validation_metrics(network: keras.Model, dataset: tf.data.Dataset) -> dict[str, float]:
    """Validation metrics of the phase generator over its 3 directions: ω1 = myocardium, ω2 = foreground."""
    from keras_hdl.models import background_seeds

    per_batch = []
    for step, (inputs, targets) in enumerate(dataset):
        batch = {"magnitudes": inputs["magnitudes"]}
        if "seed" in network.input:
            batch["seed"] = tf.constant(background_seeds(int(inputs["magnitudes"].shape[0]), VALIDATION_SEED + step))
        predicted = per_direction(network(batch, training=False)["phase"])
        target = per_direction(targets["phase"])
        w1 = per_direction(np.repeat(targets["mask"].numpy() > 0.5, 3, axis=-1))
        w2 = per_direction(np.repeat(image_metrics.foreground_region(inputs["magnitudes"].numpy()[..., 1:2]), 3, -1))
        per_batch.append(image_figures(predicted, target, w1, w2))
    return _mean_figures(per_batch)


def _interpolator_run(preset: Preset, data: TrainingData, options: TrainOptions, epochs: int) -> ModuleRun:
    training = preset.interpolation.training
    network = build_from_config(preset.interpolation.model, where="interpolation.model")
    loss = InterpolationLoss(
        mae_weight=training.mae_weight,
        mae_w1_weight=training.mae_w1_weight,
        mae_w2_weight=training.mae_w2_weight,
        dice_weight=training.dice_weight,
        low_weight=training.low_weight,
        lv_padding_px=training.lv_padding_px,
    )
    trainer = InterpolatorTrainer(network, loss=loss)
    optimizer = _adam(training)
    trainer.compile(optimizer)
    samples = _samples_per_cine(data.train.num_cines, training.steps_per_epoch, training.batch_size)
    pipeline = _pipeline(training, samples)
    validation_pipeline = dataclasses.replace(pipeline, samples_per_cine=VALIDATION_SAMPLES_PER_CINE, augment=False)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    return ModuleRun(
        name="interpolator",
        trainer=trainer,
        network=network,
        checkpoint=tf.train.Checkpoint(network=network, optimizer=optimizer, epoch=epoch),
        epoch=epoch,
        make_dataset=lambda e: interpolation_dataset(data.train, pipeline, options.seed, e).repeat(),
        validation=interpolation_dataset(data.val, validation_pipeline, VALIDATION_SEED, 0),
        validation_metrics=interpolator_validation_metrics,
        steps_per_epoch=training.steps_per_epoch,
        epochs=epochs or training.epochs,
        selection="loss",
    )


def fit_background(cines: SliceCines) -> tuple[float, float]:
    """μ, σ of the normalised background phase over the training cines (DESIGN §2.2)."""
    return fit_background_noise(cines.phase, cines.magnitude)


def _phase_run(preset: Preset, data: TrainingData, options: TrainOptions, epochs: int) -> ModuleRun:
    training = preset.phase.training
    background_path = options.out_dir / BACKGROUND_FILE
    if background_path.is_file():
        background = json.loads(background_path.read_text())
    else:
        train_cines = data.train if isinstance(data.train, SliceCines) else data.val
        mean, std = fit_background(train_cines)
        background = {"mean": mean, "std": std, "units": "normalised phase (p / 2048 - 1)"}
        _write_json(background_path, background)
    overrides = {}
    if preset.phase.model.get("composite", True):
        overrides = {"background_mean": background["mean"], "background_std": background["std"]}
    generator = build_from_config(preset.phase.model, where="phase.model", **overrides)
    discriminator = build_from_config(preset.phase.discriminator, where="phase.discriminator")
    loss = Pix2PixLoss(
        adversarial_weight=training.adversarial_weight,
        foreground_l1_weight=training.foreground_l1_weight,
        myocardium_l1_weight=training.myocardium_l1_weight,
    )
    trainer = Pix2PixTrainer(generator, discriminator, loss=loss, seed=options.seed)
    generator_optimizer, discriminator_optimizer = _adam(training), _adam(training)
    trainer.compile(generator_optimizer, discriminator_optimizer)
    samples = _samples_per_cine(data.train.num_cines, training.steps_per_epoch, training.batch_size)
    pipeline = _pipeline(training, samples)
    validation_pipeline = dataclasses.replace(pipeline, samples_per_cine=VALIDATION_SAMPLES_PER_CINE, augment=False)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(
        network=generator,
        discriminator=discriminator,
        optimizer=generator_optimizer,
        discriminator_optimizer=discriminator_optimizer,
        epoch=epoch,
    )
    return ModuleRun(
        name="phase",
        trainer=trainer,
        network=generator,
        checkpoint=checkpoint,
        epoch=epoch,
        make_dataset=lambda e: phase_dataset(data.train, pipeline, options.seed, e).repeat(),
        validation=phase_dataset(data.val, validation_pipeline, VALIDATION_SEED, 0),
        validation_metrics=phase_validation_metrics,
        steps_per_epoch=training.steps_per_epoch,
        epochs=epochs or training.epochs,
        selection="l1_foreground",  # the reconstruction objective; the adversarial terms are not comparable
    )


MODULE_BUILDERS = {"interpolator": _interpolator_run, "phase": _phase_run}


def _train_module(run: ModuleRun, out_dir: Path, log: MetricsLog, state: dict, verbose: int) -> dict[str, float]:
    """Train one module from its last checkpoint to ``run.epochs``; returns the best validation figures."""
    checkpoint_dir = out_dir / "checkpoints" / run.name
    manager = tf.train.CheckpointManager(run.checkpoint, checkpoint_dir, max_to_keep=1, checkpoint_name="last")
    if manager.latest_checkpoint:
        run.checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    best = state.setdefault("best", {}).get(run.name)
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(out_dir / "tensorboard" / run.name))
    for epoch in range(int(run.epoch.numpy()), run.epochs):
        if verbose:
            print(f"{run.name}: epoch {epoch + 1}/{run.epochs}")
        start = time.perf_counter()
        history = run.trainer.fit(
            run.make_dataset(epoch),
            steps_per_epoch=run.steps_per_epoch,
            initial_epoch=epoch,
            epochs=epoch + 1,
            callbacks=[tensorboard],
            verbose=verbose,
        )
        validation_losses = run.trainer.evaluate(run.validation, verbose=0, return_dict=True)
        figures = run.validation_metrics(run.network, run.validation)
        seconds = time.perf_counter() - start
        row = {"module": run.name, "epoch": epoch + 1, "seconds": round(seconds, 2)}
        row |= {f"train_{name}": _rounded(values[-1]) for name, values in history.history.items()}
        row |= {f"val_{name}": _rounded(value) for name, value in validation_losses.items()}
        row |= {f"val_{name}": _rounded(value) for name, value in figures.items()}
        log.add(row)
        if verbose:
            shown = ", ".join(f"{name} {value:.4g}" for name, value in figures.items())
            print(f"{run.name}: epoch {epoch + 1} validation: {shown}")
        run.epoch.assign(epoch + 1)
        score = float(validation_losses[run.selection])
        if best is None or score <= best[run.selection]:
            best = {"epoch": epoch + 1, run.selection: score, **figures}
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
            partial = checkpoint_dir / ".best.partial.keras"  # Keras wants the .keras suffix
            run.network.save(partial)
            os.replace(partial, checkpoint_dir / "best.keras")
        manager.save()
        state["best"][run.name] = best
        state["completed_epochs"][run.name] = epoch + 1
        _write_json(out_dir / RUN_FILE, state)
    return best or {}


def _rounded(value: float) -> float:
    return float(f"{float(value):.6g}")


def configure_precision(mode: str) -> None:
    """Set Keras' global dtype policy: bf16 (CPUs with AMX / recent GPUs), fp16 (GPUs), or off."""
    policies = {"off": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
    if mode not in policies:
        raise InputError(f"--mixed-precision {mode!r}: choose bf16, fp16 or off")
    keras.mixed_precision.set_global_policy(policies[mode])


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The distribution strategy for ``--strategy`` (auto: mirrored over several GPUs, else the default)."""
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    raise InputError(f"--strategy {name!r}: choose auto or mirrored")


def train(options: TrainOptions) -> dict:
    """Train the requested modules into ``options.out_dir``; returns the best validation figures per module.

    Everything is checked (preset, data, run folder) before the run folder is created.
    """
    modules = options.modules
    preset = _resolve_preset(options)
    if options.epochs is not None and options.epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {options.epochs}")
    crop_sizes = {preset.interpolation.training.crop_size, preset.phase.training.crop_size}
    if len(crop_sizes) != 1:
        raise InputError(f"the preset's interpolation and phase crop sizes differ ({sorted(crop_sizes)}); use one")
    data = load_training_data(options.data, crop_sizes.pop())
    configure_precision(options.mixed_precision)
    strategy = make_strategy(options.strategy)

    out_dir = options.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    if not options.resume:
        with atomic_path(out_dir / CONFIG_FILE) as tmp:
            tmp.write_text(yaml.safe_dump(preset.as_dict(), sort_keys=False))
    state = _read_run_state(out_dir)
    state |= {
        "data": data.description,
        "seed": options.seed,
        "strategy": options.strategy,
        "mixed_precision": options.mixed_precision,
    }
    log = MetricsLog(out_dir / METRICS_FILE)
    networks, best = {}, {}
    for module in modules:
        with strategy.scope():
            run = MODULE_BUILDERS[module](preset, data, options, options.epochs)
        best[module] = _train_module(run, out_dir, log, state, options.verbose)
        networks[module] = keras.saving.load_model(out_dir / "checkpoints" / module / "best.keras", compile=False)
    info = ModelInfo(
        preset=preset.name,
        crop_size=preset.interpolation.training.crop_size,
        pixel_spacing_mm=data.pixel_spacing_mm,
        frames=data.val.num_frames,
        validation=best,
        command=options.command_line(preset.name),
    )
    save_models(out_dir / "models", info, **networks)
    return best
