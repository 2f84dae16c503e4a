"""`keras-hdl train`: train the interpolator and/or the phase model into a run folder.

Run folder layout::

    RUN_DIR/
      config.yaml                  the merged preset (what --resume checks against)
      run.json                     data, seed, strategy, precision, per-module progress and best figures
      background_noise.json        the phase background Gaussian fitted on the training set
      metrics.csv                  one row per module and epoch: train and validation figures
      checkpoints/<module>/last*   weights, optimizer state and epoch (tf.train.Checkpoint)
      checkpoints/<module>/best.keras   the network with the best validation loss so far (float32)
      tensorboard/<module>/        TensorBoard logs (per step and per epoch)
      models/                      the best networks as a models folder (keras_hdl.model_store)

One custom training loop serves every strategy: :func:`keras_hdl.training.steps.distributed_step`
runs the trainers' own ``train_step`` on every replica (``model.fit`` fails under
MultiWorkerMirroredStrategy in Keras 3.15). The preset's batch size is the global batch,
split over the replicas; every worker sees its share of the same global batches.

Every epoch draws its samples from (seed, epoch) and the optimizer's step counter
seeds the background noise, so a resumed run continues exactly where the last
completed epoch left it: only the interrupted epoch is lost.

Under MultiWorkerMirroredStrategy only the chief writes the run folder; the other
workers write the same files into a temporary folder they delete at the end.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import yaml

from keras_hdl import metrics as image_metrics
from keras_hdl.assessment import assess_velocity, twin_velocity_figures
from keras_hdl.config import Preset, build_from_config, load_preset, preset_from_dict
from keras_hdl.errors import InputError
from keras_hdl.io_utils import atomic_path
from keras_hdl.model_store import ModelInfo, save_models
from keras_hdl.models.blocks import set_recompute
from keras_hdl.training.data import PipelineOptions, SliceCines, interpolation_dataset, phase_dataset
from keras_hdl.training.interpolator_trainer import InterpolationLoss, InterpolatorTrainer
from keras_hdl.training.pix2pix_trainer import Pix2PixLoss, Pix2PixTrainer
from keras_hdl.training.sources import BACKGROUND_FILE, TrainingData, background_noise, load_training_data
from keras_hdl.training.steps import distributed_step

MODULES = ("interpolator", "phase")
# What a run trains (DESIGN §2.1, §2.2): the HDL networks, or the paper's baselines for evaluation.
# vanilla: the one-head one-tail R2UNet interpolator / pix2pix without the composite (L1 on every pixel);
# gan: the HDL interpolator trained with an added PatchGAN loss (the phase model is a GAN already).
VARIANTS = ("hdl", "vanilla", "gan")
DEFAULT_VARIANT = "hdl"
CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
METRICS_FILE = "metrics.csv"
VALIDATION_SAMPLES_PER_CINE = 4
# DESIGN §4 validation metrics (upper case, as in the paper's tables; loss terms are lower case).
# On phase, MSE_W1 is the myocardium and MSE_W2 the foreground (normalised magnitude > −0.95).
INTERPOLATOR_METRICS = ("MSE", "MSE_W1", "MSE_W2", "PSNR_dB", "PSNR_paper_dB", "SSIM", "DICE")
PHASE_METRICS = ("MSE", "MSE_W1", "MSE_W2", "PSNR_dB", "PSNR_paper_dB", "SSIM")
VALIDATION_SEED = 7919
PRECISION_POLICIES = {"off": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
STRATEGIES = ("auto", "mirrored", "multiworker")
DEFAULT_SEED = 0


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """What `keras-hdl train` was asked for (see the command's --help).

    ``preset``, ``data``, ``seed`` and ``mixed_precision`` left as ``None`` mean the
    defaults (cpu preset, built-in phantom, seed 0, full precision) for a new run and
    the run's own settings with ``resume``; given with ``resume`` they must match them.
    ``module`` and ``epochs`` (per module) left as ``None`` mean all modules and the
    preset's epochs, or the run's own; given with ``resume`` they replace them.
    """

    out_dir: Path
    module: str | None = None  # interpolator, phase or all
    preset: str | None = None  # a name or a YAML path
    data: Path | None = None
    epochs: int | None = None
    resume: bool = False
    strategy: str = "auto"
    mixed_precision: str | None = None  # off, bf16 or fp16
    seed: int | None = None
    variant: str | None = None  # hdl, vanilla or gan (see VARIANTS)
    verbose: int = 1


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """The settings a run trains with, resolved from the options and, on --resume, the run folder."""

    preset: Preset
    module: str
    data: Path | None
    seed: int
    mixed_precision: str
    epochs: int | None  # None: the preset's
    state: dict
    variant: str = DEFAULT_VARIANT

    @property
    def modules(self) -> tuple[str, ...]:
        return MODULES if self.module == "all" else (self.module,)

    def command_line(self) -> str:
        """The `keras-hdl train` command that reproduces this run (recorded in the models folder)."""
        parts = ["keras-hdl train", f"--module {self.module}", f"--preset {self.preset.name}"]
        parts.append(f"--seed {self.seed}")
        if self.variant != DEFAULT_VARIANT:
            parts.append(f"--variant {self.variant}")
        if self.data is not None:
            parts.append(f"--data {self.data}")
        if self.epochs is not None:
            parts.append(f"--epochs {self.epochs}")
        if self.mixed_precision != "off":
            parts.append(f"--mixed-precision {self.mixed_precision}")
        return " ".join(parts)


# ------------------------------------------------------------------ run folder
def _resolved_data(path: Path | None) -> Path | None:
    return None if path is None else Path(path).resolve()


def resolve_settings(options: TrainOptions) -> RunSettings:
    """Check the options against the run folder (nothing is written) and settle every setting."""
    if options.epochs is not None and options.epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {options.epochs}")
    if options.strategy not in STRATEGIES:
        raise InputError(f"--strategy {options.strategy!r}: choose {', '.join(STRATEGIES)}")
    if options.mixed_precision is not None and options.mixed_precision not in PRECISION_POLICIES:
        raise InputError(f"--mixed-precision {options.mixed_precision!r}: choose bf16, fp16 or off")
    if options.module not in (None, "all", *MODULES):
        raise InputError(f"--module {options.module!r}: choose interpolator, phase or all")
    if options.variant not in (None, *VARIANTS):
        raise InputError(f"--variant {options.variant!r}: choose {', '.join(VARIANTS)}")
    out_dir = options.out_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: exists and is not a folder")
    if not options.resume:
        if out_dir.is_dir() and any(out_dir.iterdir()):
            raise InputError(f"run folder {out_dir} already holds a run; use --resume to continue it or another --out")
        variant = options.variant or DEFAULT_VARIANT
        module = options.module or ("interpolator" if variant == "gan" else "all")
        if variant == "gan" and module != "interpolator":
            raise InputError(
                "--variant gan trains the GAN temporal baseline (the interpolator with a PatchGAN); the phase model "
                "is a GAN already: use --module interpolator"
            )
        return RunSettings(
            preset=load_preset(options.preset or "cpu"),
            module=module,
            variant=variant,
            data=_resolved_data(options.data),
            seed=DEFAULT_SEED if options.seed is None else options.seed,
            mixed_precision=options.mixed_precision or "off",
            epochs=options.epochs,
            state={"completed_epochs": {}, "best": {}},
        )
    config_path, run_path = out_dir / CONFIG_FILE, out_dir / RUN_FILE
    if not config_path.is_file() or not run_path.is_file():
        raise InputError(f"--resume: {out_dir} is not a run folder (no {CONFIG_FILE} / {RUN_FILE}); start a new run")
    try:
        saved_config, state = yaml.safe_load(config_path.read_text()), json.loads(run_path.read_text())
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise InputError(f"--resume: {out_dir} holds a damaged {CONFIG_FILE} or {RUN_FILE} ({error})") from None
    saved = preset_from_dict(saved_config, where=str(config_path))
    if options.preset is not None and load_preset(options.preset).as_dict() != saved.as_dict():
        raise InputError(
            f"--resume: {out_dir} was trained with another configuration than --preset/--config "
            f"{options.preset}; leave --preset/--config out to resume it as it was"
        )
    recorded = {
        "--data": (state.get("data_path"), None if options.data is None else str(_resolved_data(options.data))),
        "--seed": (state.get("seed"), options.seed),
        "--mixed-precision": (state.get("mixed_precision"), options.mixed_precision),
        "--variant": (state.get("variant", DEFAULT_VARIANT), options.variant),
    }
    for flag, (saved_value, given) in recorded.items():
        if given is not None and given != saved_value:
            raise InputError(
                f"--resume: {out_dir} was trained with {flag} {saved_value}, not {given}; "
                f"leave {flag} out to resume it as it was"
            )
    return RunSettings(
        preset=saved,
        module=options.module or state.get("module", "all"),
        data=None if state.get("data_path") is None else Path(state["data_path"]),
        seed=int(state.get("seed", DEFAULT_SEED)),
        mixed_precision=state.get("mixed_precision", "off"),
        epochs=state.get("epochs") if options.epochs is None else options.epochs,
        state=state,
        variant=state.get("variant", DEFAULT_VARIANT),
    )


def _write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def _parsed_row(row: dict[str, str]) -> dict:
    """A metrics.csv row as written: module name, int epoch, float figures (None where empty)."""
    return {
        name: value if name == "module" else int(value) if name == "epoch" else float(value) if value else None
        for name, value in row.items()
    }


class MetricsLog:
    """metrics.csv: one row per (module, epoch), rewritten atomically after every epoch.

    ``existing`` is the metrics.csv to continue (the chief's, on --resume); default ``path``.
    """

    def __init__(self, path: Path, existing: Path | None = None):
        self.path = path
        self.rows: list[dict] = []
        source = existing if existing is not None and existing.is_file() else path
        if source.is_file():
            with source.open(newline="") as handle:
                self.rows = [_parsed_row(row) for row in csv.DictReader(handle)]

    def add(self, row: dict) -> None:
        """Add (or replace, for a redone epoch) the row of ``row["module"]``, ``row["epoch"]``."""
        key = (row["module"], row["epoch"])
        self.rows = [r for r in self.rows if (r["module"], r["epoch"]) != key] + [row]
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
    network_config: dict  # rebuilds the network (float32 copies of mixed-precision networks)
    checkpoint: tf.train.Checkpoint
    epoch: tf.Variable
    make_dataset: Callable[[int], tf.data.Dataset]
    validation: tf.data.Dataset
    validation_metrics: Callable[[keras.Model, tf.data.Dataset], dict[str, float]]
    steps_per_epoch: int
    epochs: int
    selection: str  # the validation loss term or figure whose lowest value picks the best network


def pipeline_options(training, samples: int) -> PipelineOptions:
    return PipelineOptions(
        k_values=tuple(getattr(training, "k_values", (1,))),
        samples_per_cine=samples,
        batch_size=training.batch_size,
        augment=True,
    )


def samples_per_cine(num_cines: int, steps: int, batch_size: int) -> int:
    return max(1, math.ceil(steps * batch_size / num_cines))


def _validation_pipeline(pipeline: PipelineOptions, num_cines: int) -> PipelineOptions:
    """Unaugmented, at least one full batch of validation samples."""
    samples = max(VALIDATION_SAMPLES_PER_CINE, math.ceil(pipeline.batch_size / num_cines))
    return dataclasses.replace(pipeline, samples_per_cine=samples, augment=False)


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


def _float32(tensor) -> np.ndarray:
    """A network output as float32 numpy (mixed-precision networks output float16 / bfloat16)."""
    return np.asarray(tf.cast(tensor, tf.float32))


def interpolator_validation_metrics(network: keras.Model, dataset: tf.data.Dataset) -> dict[str, float]:
    """Validation metrics of the interpolator: ω1 = padded LV of the target, ω2 = its foreground; DICE."""
    per_batch = []
    for inputs, targets in dataset:
        outputs = network(inputs, training=False)
        predicted = _float32(outputs["magnitude"])[..., 0]
        target = targets["magnitude"].numpy()[..., 0]
        target_mask = targets["mask"].numpy()[..., 0]
        w1, w2 = image_metrics.lv_region(target_mask), image_metrics.foreground_region(target)
        figures = image_figures(predicted, target, w1, w2)
        figures["DICE"] = image_metrics.dice(_float32(outputs["mask"])[..., 0], target_mask)
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
        batch = {name: inputs[name] for name in network.input if name in inputs}
        if "seed" in network.input:
            batch["seed"] = tf.constant(background_seeds(int(inputs["magnitudes"].shape[0]), VALIDATION_SEED + step))
        predicted = per_direction(_float32(network(batch, training=False)["phase"]))
        target = per_direction(targets["phase"])
        w1 = per_direction(np.repeat(targets["mask"].numpy() > 0.5, 3, axis=-1))
        centre = inputs["magnitudes"].numpy()[..., network.centre : network.centre + 1]
        w2 = per_direction(np.repeat(image_metrics.foreground_region(centre), 3, -1))
        per_batch.append(image_figures(predicted, target, w1, w2))
    return _mean_figures(per_batch)


def phase_velocity_figures(network: keras.Model, cines: SliceCines) -> dict[str, float]:
    """The K = 0 twin's velocity figures on whole validation cines (what a user of the network gets).

    Every frame's phase is synthesised from the real magnitude at inference, as synthesis does
    (:meth:`~keras_hdl.synthesis.networks.PhaseSynthesizer.synthesize_cycles`); the global radial,
    circumferential and longitudinal curves of synthetic and real phase (true masks, each cine's
    pixel spacing, mm/s) are compared by :func:`keras_hdl.assessment.twin_velocity_figures`.
    """
    from keras_hdl.models import background_seeds
    from keras_hdl.predictors import KerasPredictor
    from keras_hdl.synthesis.networks import PhaseSynthesizer

    count, frames = cines.magnitude.shape[:2]
    synthesizer = PhaseSynthesizer.for_network(KerasPredictor(network), network)
    synthetic = synthesizer.synthesize_cycles(cines.magnitude, background_seeds(count * frames, VALIDATION_SEED))
    curves, reference = [], []
    for cine in range(count):
        venc = cines.venc[cine][None, :, None, None]
        masks = cines.mask[cine][:, None] > 0.5  # (T, 1, C, C)
        spacing = tuple(float(v) for v in cines.pixel_spacing[cine])
        for phase, out in ((synthetic[cine], curves), (cines.phase[cine], reference)):
            velocity = np.moveaxis(phase, -1, 1)[:, None] * venc  # (T, 1, 3, C, C) cm/s
            out.append(assess_velocity(velocity, masks, pixel_spacing=spacing).global_curves)
    return twin_velocity_figures(np.concatenate(curves), np.concatenate(reference))


def _module_run(
    name: str,
    training,
    data: TrainingData,
    seed: int,
    epochs: int | None,
    *,
    trainer: keras.Model,
    network: keras.Model,
    network_config: dict,
    checkpointed: dict,
    make_samples: Callable,
    validation_metrics: Callable[[keras.Model, tf.data.Dataset], dict[str, float]],
    selection: str,
    sample_options: dict | None = None,
) -> ModuleRun:
    """What both modules share: the epoch counter and checkpoint, the train and validation datasets.

    ``sample_options`` set :class:`PipelineOptions` fields of the module's samples (e.g. the phase
    generator's ``neighbours``)."""
    samples = samples_per_cine(data.train.num_cines, training.steps_per_epoch, training.batch_size)
    pipeline = dataclasses.replace(pipeline_options(training, samples), **(sample_options or {}))
    validation_pipeline = _validation_pipeline(pipeline, data.val.num_cines)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    return ModuleRun(
        name=name,
        trainer=trainer,
        network=network,
        network_config=network_config,
        checkpoint=tf.train.Checkpoint(**checkpointed, epoch=epoch),
        epoch=epoch,
        make_dataset=lambda e: make_samples(data.train, pipeline, seed, e).repeat(),
        validation=make_samples(data.val, validation_pipeline, VALIDATION_SEED, 0),
        validation_metrics=validation_metrics,
        steps_per_epoch=training.steps_per_epoch,
        epochs=epochs or training.epochs,
        selection=selection,
    )


def interpolator_run(
    preset: Preset, data: TrainingData, seed: int, epochs: int | None, variant: str = DEFAULT_VARIANT
) -> ModuleRun:
    training = preset.interpolation.training
    model_key = "vanilla_model" if variant == "vanilla" else "model"
    network_config = dict(getattr(preset.interpolation, model_key))
    network = build_from_config(network_config, where=f"interpolation.{model_key}")
    set_recompute(network, training.recompute_recurrent)
    loss = InterpolationLoss(
        mae_weight=training.mae_weight,
        mae_w1_weight=training.mae_w1_weight,
        mae_w2_weight=training.mae_w2_weight,
        dice_weight=training.dice_weight,
        low_weight=training.low_weight,
        lv_padding_px=training.lv_padding_px,
    )
    checkpointed = {"network": network}
    if variant == "gan":
        discriminator = build_from_config(preset.interpolation.discriminator, where="interpolation.discriminator")
        trainer = InterpolatorTrainer(
            network, loss=loss, discriminator=discriminator, adversarial_weight=training.adversarial_weight
        )
        trainer.compile(_adam(training), _adam(training))
        checkpointed |= {"discriminator": discriminator, "discriminator_optimizer": trainer.discriminator_optimizer}
    else:
        trainer = InterpolatorTrainer(network, loss=loss)
        trainer.compile(_adam(training))
    return _module_run(
        "interpolator",
        training,
        data,
        seed,
        epochs,
        trainer=trainer,
        network=network,
        network_config=network_config,
        checkpointed=checkpointed | {"optimizer": trainer.optimizer},
        make_samples=interpolation_dataset,
        validation_metrics=interpolator_validation_metrics,
        selection="loss",
    )


def _phase_config(preset: Preset, background: dict, variant: str) -> dict:
    """The generator's config with the fitted background noise (for the composite)."""
    config = dict(preset.phase.vanilla_model if variant == "vanilla" else preset.phase.model)
    if config.get("composite", True):
        config |= {"background_mean": background["mean"], "background_std": background["std"]}
    return config


def phase_run(
    preset: Preset,
    data: TrainingData,
    seed: int,
    epochs: int | None,
    background: dict,
    variant: str = DEFAULT_VARIANT,
) -> ModuleRun:
    training = preset.phase.training
    config = _phase_config(preset, background, variant)
    generator = build_from_config(config, where="phase.vanilla_model" if variant == "vanilla" else "phase.model")
    set_recompute(generator, training.recompute_recurrent)
    discriminator = build_from_config(preset.phase.discriminator, where="phase.discriminator")
    loss = Pix2PixLoss(
        adversarial_weight=training.adversarial_weight,
        foreground_l1_weight=training.foreground_l1_weight,
        myocardium_l1_weight=training.myocardium_l1_weight,
        velocity_l1_weight=training.velocity_l1_weight,
        # vanilla pix2pix: the generator makes every pixel, so its L1 covers the whole image
        **({"foreground_threshold": float("-inf")} if variant == "vanilla" else {}),
    )
    trainer = Pix2PixTrainer(generator, discriminator, loss=loss, seed=seed)
    trainer.compile(_adam(training), _adam(training))
    return _module_run(
        "phase",
        training,
        data,
        seed,
        epochs,
        trainer=trainer,
        network=generator,
        network_config=config,
        checkpointed={
            "network": generator,
            "discriminator": discriminator,
            "optimizer": trainer.generator_optimizer,
            "discriminator_optimizer": trainer.discriminator_optimizer,
        },
        make_samples=phase_dataset,
        validation_metrics=lambda network, dataset: (
            phase_validation_metrics(network, dataset) | phase_velocity_figures(network, data.val)
        ),
        # the twin's velocity figures, or the reconstruction objective (the adversarial terms are not comparable)
        selection="velocity_score" if training.selection == "velocity" else "l1_foreground",
        sample_options={"neighbours": generator.neighbours, "cycle_position": generator.cycle_position},
    )


# ------------------------------------------------------------ training loop
def _data_sharded(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Shard by elements across workers: each worker takes its share of the same global batches."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Set Keras' global dtype policy inside the block; the previous one is restored after."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def float32_network(run: ModuleRun) -> keras.Model:
    """The network itself, or under mixed precision a float32 copy with its weights (for saving)."""
    if run.network.dtype_policy.name == "float32":
        return run.network
    with dtype_policy("float32"):
        copy = build_from_config(run.network_config)
    copy.set_weights(run.network.get_weights())
    return copy


def _run_epoch(run: ModuleRun, strategy, train_step, epoch: int, writer, verbose: int) -> dict[str, float]:
    """One epoch of ``run.steps_per_epoch`` distributed steps; returns the epoch's mean training figures."""
    dataset = strategy.experimental_distribute_dataset(_data_sharded(run.make_dataset(epoch)))
    run.trainer.reset_metrics()
    shown = [metric.name for metric in run.trainer.metrics if not metric.name.endswith("_weighted")]
    progress = keras.utils.Progbar(run.steps_per_epoch, verbose=verbose, stateful_metrics=shown)
    logs: dict[str, float] = {}
    first_step = epoch * run.steps_per_epoch
    for step, batch in zip(range(run.steps_per_epoch), dataset, strict=False):
        logs = {name: float(value) for name, value in train_step(batch).items()}
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


def _train_module(
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
    validation = strategy.experimental_distribute_dataset(_data_sharded(run.validation))
    writer = tf.summary.create_file_writer(str(work_dir / "tensorboard" / run.name))
    for epoch in range(int(run.epoch.numpy()), run.epochs):
        if verbose:
            print(f"{run.name}: epoch {epoch + 1}/{run.epochs}", flush=True)
        start = time.perf_counter()
        train_logs = _run_epoch(run, strategy, train_step, epoch, writer, verbose)
        validation_losses = _validation_losses(run, test_step, validation)
        figures = run.validation_metrics(run.network, run.validation)
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
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
            partial = checkpoint_dir / ".best.partial.keras"  # Keras wants the .keras suffix
            float32_network(run).save(partial)
            os.replace(partial, checkpoint_dir / "best.keras")
        state["best"][run.name] = best
        state["completed_epochs"][run.name] = epoch + 1
        _write_json(work_dir / RUN_FILE, state)
        manager.save()  # last: a run killed before this redoes the epoch, identically
    writer.close()


def _rounded(value: float) -> float:
    return float(f"{float(value):.6g}")


# ------------------------------------------------------------- distribution
def _cluster_config() -> dict:
    """The parsed ``TF_CONFIG`` of a multi-worker run (checked, so that mistakes read clearly)."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise InputError(
            "--strategy multiworker needs the TF_CONFIG environment variable (cluster and task); see docs/training.md"
        )
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InputError(f"TF_CONFIG is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise InputError('TF_CONFIG: expected a JSON object with "cluster" and "task"')
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not (cluster.get("worker") or cluster.get("chief")):
        raise InputError('TF_CONFIG: needs "cluster" with a "worker" (and optionally "chief") list of host:port')
    if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int):
        raise InputError('TF_CONFIG: needs "task": {"type": "worker" or "chief", "index": N} naming a cluster entry')
    if not 0 <= task["index"] < len(cluster[task["type"]]):
        raise InputError(f"TF_CONFIG: task index {task['index']} is outside the {task['type']} list")
    return config


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The distribution strategy for ``--strategy``.

    auto: MirroredStrategy over several local GPUs, else the default strategy; mirrored:
    MirroredStrategy over every local GPU (or the CPU); multiworker:
    MultiWorkerMirroredStrategy from ``TF_CONFIG``. Create it before any other TensorFlow
    operation (multi-worker collectives are configured at start-up).
    """
    if name == "auto":
        gpus = tf.config.list_physical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        _cluster_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise InputError(f"--strategy {name!r}: choose {', '.join(STRATEGIES)}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes the run folder: the chief, or worker 0 of a cluster without one."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs


# ------------------------------------------------------------------ checks
def _check_data(preset: Preset, data: TrainingData, modules: tuple[str, ...]) -> None:
    if "interpolator" in modules:
        largest = max(preset.interpolation.training.k_values)
        frames = min(data.train.num_frames, data.val.num_frames)
        if largest + 1 >= frames:
            raise InputError(
                f"interpolation.training.k_values: K = {largest} frames dropped needs more than {largest + 1} "
                f"frames per cycle, but the data have {frames}; lower k_values in the config"
            )


def _check_batches(preset: Preset, modules: tuple[str, ...], replicas: int) -> None:
    sections = {"interpolator": preset.interpolation, "phase": preset.phase}
    for module in modules:
        batch = sections[module].training.batch_size
        if batch % replicas:
            raise InputError(
                f"{module} batch_size {batch} does not split evenly over {replicas} replicas; "
                "use a multiple of the replica count"
            )


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What a run produced: per module, the best validation figures and the best network (float32)."""

    best: dict[str, dict[str, float]]
    networks: dict[str, keras.Model]
    metrics: list[dict]  # the rows of metrics.csv: module, epoch, float figures


def train(options: TrainOptions) -> TrainResult:
    """Train the requested modules into ``options.out_dir`` (see the module docstring).

    Everything is checked (options, preset, run folder, data) and every network is built
    before the run folder is created, so bad input leaves no folder behind.
    """
    settings = resolve_settings(options)
    modules = settings.modules
    preset = settings.preset
    crop_sizes = {preset.interpolation.training.crop_size, preset.phase.training.crop_size}
    if len(crop_sizes) != 1:
        raise InputError(f"the preset's interpolation and phase crop sizes differ ({sorted(crop_sizes)}); use one")
    strategy = make_strategy(options.strategy)  # first TensorFlow operation (multi-worker needs it so)
    _check_batches(preset, modules, strategy.num_replicas_in_sync)
    data = load_training_data(settings.data, crop_sizes.pop())
    _check_data(preset, data, modules)

    out_dir = options.out_dir
    chief = is_chief(strategy)
    work_dir = out_dir if chief else Path(tempfile.mkdtemp(prefix="keras-hdl-worker-"))
    verbose = options.verbose if chief else 0
    background = _background(options, data) if "phase" in modules else None
    try:
        with dtype_policy(PRECISION_POLICIES[settings.mixed_precision]):
            keras.utils.set_random_seed(settings.seed)  # the networks' initial weights
            runs = {}
            with strategy.scope():
                if "interpolator" in modules:
                    runs["interpolator"] = interpolator_run(
                        preset, data, settings.seed, settings.epochs, settings.variant
                    )
                if "phase" in modules:
                    runs["phase"] = phase_run(
                        preset, data, settings.seed, settings.epochs, background, settings.variant
                    )
            return _train_and_save(options, settings, data, strategy, runs, work_dir, verbose, background)
    finally:
        if not chief:
            shutil.rmtree(work_dir, ignore_errors=True)


def _background(options: TrainOptions, data: TrainingData) -> dict:
    """The phase background Gaussian: the run's own on --resume, else fitted on the training data."""
    path = options.out_dir / BACKGROUND_FILE
    if options.resume and path.is_file():
        return json.loads(path.read_text())
    mean, std = background_noise(data)
    return {"mean": mean, "std": std, "units": "normalised phase (p / 2048 - 1)"}


def _train_and_save(
    options: TrainOptions,
    settings: RunSettings,
    data: TrainingData,
    strategy: tf.distribute.Strategy,
    runs: dict[str, ModuleRun],
    work_dir: Path,
    verbose: int,
    background: dict | None,
) -> TrainResult:
    """Create (or continue) the run folder in ``work_dir``, train the modules, write models/."""
    preset, state = settings.preset, settings.state
    work_dir.mkdir(parents=True, exist_ok=True)
    if not options.resume:
        with atomic_path(work_dir / CONFIG_FILE) as tmp:
            tmp.write_text(yaml.safe_dump(preset.as_dict(), sort_keys=False))
    if background is not None:
        _write_json(work_dir / BACKGROUND_FILE, background)
    state |= {
        "data": data.description,
        "data_path": None if settings.data is None else str(settings.data),
        "seed": settings.seed,
        "strategy": options.strategy,
        "replicas": strategy.num_replicas_in_sync,
        "mixed_precision": settings.mixed_precision,
        "module": settings.module,
        "epochs": settings.epochs,
        "variant": settings.variant,
    }
    _write_json(work_dir / RUN_FILE, state)
    log = MetricsLog(work_dir / METRICS_FILE, existing=options.out_dir / METRICS_FILE)
    for module in settings.modules:
        _train_module(runs[module], strategy, options.out_dir, work_dir, log, state, verbose)
    # models/ holds every module this run folder has trained, also those of earlier invocations
    trained = [module for module in MODULES if (work_dir / "checkpoints" / module / "best.keras").is_file()]
    networks = {
        module: keras.saving.load_model(work_dir / "checkpoints" / module / "best.keras", compile=False)
        for module in trained
    }
    best = {module: state["best"][module] for module in trained}
    info = ModelInfo(
        preset=preset.name,
        crop_size=preset.interpolation.training.crop_size,
        pixel_spacing_mm=data.pixel_spacing_mm,
        frames=data.val.num_frames,
        validation=best,
        command=settings.command_line(),
        variant=settings.variant,
    )
    save_models(work_dir / "models", info, **networks)
    return TrainResult(best, networks, log.rows)
