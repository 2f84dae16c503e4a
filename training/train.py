"""`keras-hdl train`: train the interpolator and/or the phase model into a run folder.

Orchestration only: settle the settings (:mod:`~keras_hdl.training.run_folder`, which also documents
the run folder's layout), make the strategy (:mod:`~keras_hdl.training.distribute`), load the data, ask
each requested task (:mod:`~keras_hdl.training.tasks`) for its run, train the runs in turn
(:mod:`~keras_hdl.training.loop`) and write the best networks as a models folder.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from keras_hdl.errors import InputError
from keras_hdl.io_utils import write_json
from keras_hdl.model_store import ModelInfo, save_models
from keras_hdl.precision import DTYPE_POLICIES, dtype_policy
from keras_hdl.training.distribute import is_chief, make_strategy
from keras_hdl.training.loop import train_module
from keras_hdl.training.options import MODULES, TrainOptions
from keras_hdl.training.run_folder import (
    METRICS_FILE,
    MetricsLog,
    RunSettings,
    resolve_settings,
    write_config,
    write_state,
)
from keras_hdl.training.sources import BACKGROUND_FILE, TrainingData, background_noise, load_training_data
from keras_hdl.training.tasks import TASKS, ModuleRun


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
    preset = settings.preset
    tasks = [TASKS[module] for module in settings.modules]
    crop_sizes = {task.training(preset).crop_size for task in TASKS.values()}
    if len(crop_sizes) != 1:
        raise InputError(f"the preset's interpolation and phase crop sizes differ ({sorted(crop_sizes)}); use one")
    strategy = make_strategy(options.strategy)  # first TensorFlow operation (multi-worker needs it so)
    for task in tasks:
        task.check(preset, replicas=strategy.num_replicas_in_sync)
    data = load_training_data(settings.data, crop_sizes.pop())
    for task in tasks:
        task.check(preset, data, strategy.num_replicas_in_sync)

    out_dir = options.out_dir
    chief = is_chief(strategy)
    work_dir = out_dir if chief else Path(tempfile.mkdtemp(prefix="keras-hdl-worker-"))
    verbose = options.verbose if chief else 0
    background = _background(options, data) if "phase" in settings.modules else None
    try:
        with dtype_policy(DTYPE_POLICIES[settings.precision]):
            keras.utils.set_random_seed(settings.seed)  # the networks' initial weights
            with strategy.scope():
                runs = {
                    task.name: task.module_run(
                        preset, data, settings.seed, settings.epochs, settings.variant, background
                    )
                    for task in tasks
                }
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
        write_config(work_dir, preset)
    if background is not None:
        write_json(work_dir / BACKGROUND_FILE, background)
    state |= settings.run_state(data.description, options.strategy, strategy.num_replicas_in_sync)
    write_state(work_dir, state)
    log = MetricsLog(work_dir / METRICS_FILE, existing=options.out_dir / METRICS_FILE)
    for module in settings.modules:
        train_module(runs[module], strategy, options.out_dir, work_dir, log, state, verbose)
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
