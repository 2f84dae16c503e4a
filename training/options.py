"""What `keras-hdl train` can be asked for: the options and their vocabularies.

TensorFlow-free (the command line takes its choices from here, and ``--help`` stays fast).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

MODULES = ("interpolator", "phase")
"""The modules a run trains, in order (each is a task of :mod:`keras_hdl.training.tasks`)."""
MODULE_CHOICES = (*MODULES, "all")
DEFAULT_VARIANT = "hdl"
STRATEGIES = ("auto", "mirrored", "multiworker")
DEFAULT_SEED = 0
DEFAULT_PRESET = "cpu"


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """What `keras-hdl train` was asked for (see the command's --help).

    ``preset``, ``data``, ``seed`` and ``precision`` left as ``None`` mean the defaults (cpu preset,
    built-in phantom, seed 0, fp32) for a new run and the run's own settings with ``resume``; given
    with ``resume`` they must match them. ``module`` and ``epochs`` (per module) left as ``None`` mean
    all modules and the preset's epochs, or the run's own; given with ``resume`` they replace them.
    ``precision`` is a word of :data:`keras_hdl.precision.TRAINING_PRECISIONS` (or the older ``off``).
    """

    out_dir: Path
    module: str | None = None  # interpolator, phase or all
    preset: str | None = None  # a name or a YAML path
    data: Path | None = None
    epochs: int | None = None
    resume: bool = False
    strategy: str = "auto"
    precision: str | None = None  # fp32, bf16 or fp16
    seed: int | None = None
    variant: str | None = None  # hdl, vanilla or gan (keras_hdl.model_store.VARIANT_NETWORKS)
    verbose: int = 1
