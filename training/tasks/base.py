"""What every task shares: a :class:`ModuleRun` (one module's networks, trainer, data and schedule), the
sample pipelines' options, and the :class:`Task` interface the training loop, the benchmarks and the
evaluation drive.

A *task* (keras-hub's backbone / task / preset split) owns, for one module of the method: the preset
section it reads (``interpolation`` or ``phase``), which networks it builds from it, its losses and
train-step model (an :class:`~keras_hdl.training.adversarial.AdversarialTrainer`), its sample
pipeline, its validation figures and which of them picks the best network. :mod:`keras_hdl.training.train`
only orchestrates: it asks each requested task for a :class:`ModuleRun` and trains them in turn.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from keras_hdl.config import Preset
from keras_hdl.errors import InputError
from keras_hdl.model_store import VARIANT_NETWORKS
from keras_hdl.training.averaging import WeightAverage
from keras_hdl.training.data import PipelineOptions
from keras_hdl.training.optimizers import FusedAdam
from keras_hdl.training.options import DEFAULT_VARIANT
from keras_hdl.training.sources import TrainingData

VALIDATION_SAMPLES_PER_CINE = 4
VALIDATION_SEED = 7919


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
    average: WeightAverage | None = None  # the averaged weights, when the preset asks for them

    @property
    def evaluated_network(self) -> keras.Model:
        """The network validation scores and a run saves: the weight average if kept, else the network."""
        return self.network if self.average is None else self.average.network


def pipeline_options(training, samples: int) -> PipelineOptions:
    return PipelineOptions(
        k_values=tuple(getattr(training, "k_values", (1,))),
        samples_per_cine=samples,
        batch_size=training.batch_size,
        augment=True,
        max_rotation_deg=float(training.max_rotation_deg),
        flips=training.flips,
        max_gamma=float(training.max_gamma),
    )


def samples_per_cine(num_cines: int, steps: int, batch_size: int) -> int:
    return max(1, math.ceil(steps * batch_size / num_cines))


def validation_pipeline(pipeline: PipelineOptions, num_cines: int) -> PipelineOptions:
    """Unaugmented, at least one full batch of validation samples."""
    samples = max(VALIDATION_SAMPLES_PER_CINE, math.ceil(pipeline.batch_size / num_cines))
    return dataclasses.replace(pipeline, samples_per_cine=samples, augment=False)


def adam(training) -> keras.optimizers.Optimizer:
    """Adam (:class:`~keras_hdl.training.optimizers.FusedAdam`) with a preset section's learning rate and betas."""
    return FusedAdam(training.learning_rate, beta_1=training.beta_1, beta_2=training.beta_2)


def mean_figures(per_batch: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Per-image figures of every batch → their mean over the whole validation set (NaN ignored)."""
    return {name: float(np.nanmean(np.concatenate([b[name] for b in per_batch]))) for name in per_batch[0]}


def float32(tensor) -> np.ndarray:
    """A network output as float32 numpy (mixed-precision networks output float16 / bfloat16)."""
    return np.asarray(tf.cast(tensor, tf.float32))


class Task:
    """One module of the method, as the training loop sees it (module docstring).

    Attributes:
        name: the module's name in run folders, metrics.csv and models folders.
        section: the preset section the task reads.
        variants: the run variants it trains (:data:`keras_hdl.model_store.VARIANT_NETWORKS`).
        loss_name: the logged figure that is the generator's total loss.
    """

    name: str
    section: str
    loss_name: str = "loss"
    make_samples: Callable  # the task's sample pipeline (keras_hdl.training.data)

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(variant for variant, networks in VARIANT_NETWORKS.items() if self.name in networks)

    def training(self, preset: Preset):
        """The task's training hyper-parameters in ``preset``."""
        return getattr(preset, self.section).training

    def check(self, preset: Preset, data: TrainingData | None = None, replicas: int = 1) -> None:
        """InputError when ``preset`` (and ``data``, ``replicas``) cannot train this task."""
        batch = self.training(preset).batch_size
        if batch % replicas:
            raise InputError(
                f"{self.name} batch_size {batch} does not split evenly over {replicas} replicas; "
                "use a multiple of the replica count"
            )

    def trainer(self, preset: Preset, network: keras.Model, variant: str = DEFAULT_VARIANT, **options):
        """The task's compiled train-step model around a built ``network``."""
        raise NotImplementedError

    def run_parts(self, preset: Preset, data: TrainingData, seed: int, variant: str, background: dict | None) -> dict:
        """The task's own parts of a :class:`ModuleRun`, networks and trainer built (module docstring):
        ``trainer``, ``network``, ``network_config``, ``checkpointed`` (what the checkpoint tracks by name),
        ``validation_metrics``, ``selection`` and optionally
        ``sample_options`` (:class:`PipelineOptions` fields of the task's samples)."""
        raise NotImplementedError

    def module_run(
        self,
        preset: Preset,
        data: TrainingData,
        seed: int,
        epochs: int | None,
        variant: str = DEFAULT_VARIANT,
        background: dict | None = None,
    ) -> ModuleRun:
        """Build the task's networks and trainer (in the caller's strategy scope), its checkpoint and datasets."""
        parts = self.run_parts(preset, data, seed, variant, background)
        training = self.training(preset)
        samples = samples_per_cine(data.train.num_cines, training.steps_per_epoch, training.batch_size)
        pipeline = dataclasses.replace(pipeline_options(training, samples), **parts.get("sample_options", {}))
        validation = validation_pipeline(pipeline, data.val.num_cines)
        make_samples = self.make_samples
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        decay = training.weight_average_decay
        average = WeightAverage(parts["network"], parts["network_config"], decay) if decay else None
        checkpointed = parts["checkpointed"] | (average.checkpointed() if average else {})
        return ModuleRun(
            name=self.name,
            trainer=parts["trainer"],
            network=parts["network"],
            network_config=parts["network_config"],
            checkpoint=tf.train.Checkpoint(**checkpointed, epoch=epoch),
            epoch=epoch,
            make_dataset=lambda e: make_samples(data.train, pipeline, seed, e).repeat(),
            validation=make_samples(data.val, validation, VALIDATION_SEED, 0),
            validation_metrics=parts["validation_metrics"],
            steps_per_epoch=training.steps_per_epoch,
            epochs=epochs or training.epochs,
            selection=parts["selection"],
            average=average,
        )
